"""Example pools: JSON-lines files of demonstrations (``prompts/_pools/*.jsonl``), one object per line with an
``id``. Pure Python: reading a pool never imports LangChain."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from promptkit.errors import ValidationError
from promptkit.fileio import sha256_bytes


def _stat_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path), st.st_mtime_ns, st.st_size


@lru_cache(maxsize=32)
def _read(key: tuple[str, int, int]) -> tuple[tuple[dict[str, Any], ...], str]:
    path = Path(key[0])
    raw = path.read_bytes()
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for lineno, line in enumerate(raw.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"{path}:{lineno}: not valid JSON ({exc.msg}); fix that line") from None
        if not isinstance(row, dict) or not isinstance(row.get("id"), str) or not row["id"]:
            raise ValidationError(f"{path}:{lineno}: each line must be a JSON object with a string 'id'")
        if row["id"] in seen:
            raise ValidationError(f"{path}:{lineno}: duplicate example id {row['id']!r}; ids must be unique")
        seen.add(row["id"])
        rows.append(row)
    if not rows:
        raise ValidationError(f"{path}: the pool is empty; add at least one example")
    return tuple(rows), sha256_bytes(raw)


def pool_path(root: Path, relative: str) -> Path:
    return root / relative


def load_pool(path: Path) -> list[dict[str, Any]]:
    """All examples of a pool, in file order (copies: callers may change them)."""
    if not path.is_file():
        raise ValidationError(
            f"example pool {path} does not exist", hint="check fewshot.pool in the prompt file"
        )
    rows, _ = _read(_stat_key(path))
    return [dict(r) for r in rows]


def pool_sha256(path: Path) -> str:
    if not path.is_file():
        raise ValidationError(
            f"example pool {path} does not exist", hint="check fewshot.pool in the prompt file"
        )
    return _read(_stat_key(path))[1]


def pool_fields(rows: list[dict[str, Any]]) -> set[str]:
    """Fields present in every example of the pool."""
    fields = set(rows[0])
    for row in rows[1:]:
        fields &= set(row)
    return fields
