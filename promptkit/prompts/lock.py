"""``prompts/prompts.lock``: the sha256 of every released version (and of the example pool it draws from).

A released version is immutable: any change to what it renders must become a new version. The lock file is
JSON, sorted, one entry per ``name`` and version::

    {"format": 1, "prompts": {"rag_qa": {"1": {"sha256": "…"}, "2": {"sha256": "…"}}}}
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptkit.errors import ValidationError
from promptkit.fileio import atomic_write_text, canonical_json, read_json

if TYPE_CHECKING:  # pragma: no cover
    from promptkit.prompts.schema import PromptVersion

LOCK_FILE = "prompts.lock"
FORMAT = 1


def lock_path(root: Path) -> Path:
    return root / LOCK_FILE


def read_lock(root: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """``{name: {"<version>": {"sha256": …, "pool_sha256": …}}}``; empty when there is no lock file yet."""
    path = lock_path(root)
    if not path.exists():
        return {}
    data = read_json(path, what="prompt lock file")
    if (
        not isinstance(data, dict)
        or data.get("format") != FORMAT
        or not isinstance(data.get("prompts"), dict)
    ):
        raise ValidationError(
            f"{path}: not a promptkit lock file (expected {{'format': {FORMAT}, 'prompts': {{…}}}})",
            hint="restore it from version control",
        )
    return data["prompts"]


def write_lock(root: Path, prompts: dict[str, dict[str, dict[str, Any]]]) -> Path:
    ordered = {
        name: {v: prompts[name][v] for v in sorted(prompts[name], key=int)} for name in sorted(prompts)
    }
    path = lock_path(root)
    # stable, diff-friendly layout: one released version per line
    lines = [f'{{"format": {FORMAT}, "prompts": {{']
    names = list(ordered)
    for i, name in enumerate(names):
        entries = ordered[name]
        lines.append(f"  {canonical_json(name)}: {{")
        keys = list(entries)
        for j, v in enumerate(keys):
            comma = "," if j < len(keys) - 1 else ""
            lines.append(f"    {canonical_json(v)}: {canonical_json(entries[v])}{comma}")
        lines.append("  }" + ("," if i < len(names) - 1 else ""))
    lines.append("}}")
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def lock_entry(spec: PromptVersion, root: Path) -> dict[str, Any]:
    """What the lock records for one version."""
    from promptkit.prompts.pools import pool_sha256

    entry: dict[str, Any] = {"sha256": spec.hash}
    if spec.fewshot is not None:
        entry["pool"] = spec.fewshot.pool
        entry["pool_sha256"] = pool_sha256(root / spec.fewshot.pool)
    return entry
