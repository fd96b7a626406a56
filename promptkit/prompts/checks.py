"""Registry-wide checks: released versions unchanged, templates lint-clean, no duplicates, labels valid,
and no few-shot example leaking into an evaluation dataset."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptkit.errors import PromptkitError, ValidationError
from promptkit.fileio import read_json
from promptkit.prompts.lint import lint_spec
from promptkit.prompts.lock import read_lock
from promptkit.prompts.pools import load_pool, pool_sha256
from promptkit.prompts.schema import PromptVersion
from promptkit.prompts.store import (
    dangling_labels,
    load_version_file,
    prompt_names,
    prompts_root,
    read_labels,
    version_files,
)
from promptkit.text import fold_words


@dataclass(frozen=True)
class Problem:
    """One finding of ``promptkit prompts check``: ``error`` fails the check, ``warning`` does not."""

    level: str
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.message}"


def load_all(root: Path) -> tuple[dict[str, dict[int, PromptVersion]], list[Problem]]:
    """Every version that validates, and one problem per file that does not."""
    specs: dict[str, dict[int, PromptVersion]] = {}
    problems: list[Problem] = []
    for name in prompt_names(root):
        specs[name] = {}
        for version, path in version_files(name, root).items():
            try:
                specs[name][version] = load_version_file(path)
            except PromptkitError as exc:
                problems.append(Problem("error", str(exc)))
    return specs, problems


def duplicates(versions: dict[int, PromptVersion]) -> list[tuple[int, int]]:
    """``(version, earlier_version)`` pairs whose content is identical."""
    first: dict[str, int] = {}
    out: list[tuple[int, int]] = []
    for version in sorted(versions):
        key = versions[version].content_hash
        if key in first:
            out.append((version, first[key]))
        else:
            first[key] = version
    return out


def immutability_problems(root: Path, specs: dict[str, dict[int, PromptVersion]]) -> list[Problem]:
    """Released versions (and the pools they draw from) must match the lock file."""
    problems: list[Problem] = []
    lock = read_lock(root)
    for name, entries in sorted(lock.items()):
        for key, entry in sorted(entries.items(), key=lambda kv: int(kv[0])):
            ref = f"{name}@{key}"
            path = root / name / f"v{key}.yaml"
            if not path.exists():
                problems.append(
                    Problem(
                        "error", f"{ref} was released but {path} is missing; restore it from version control"
                    )
                )
                continue
            spec = specs.get(name, {}).get(int(key))
            if spec is None:
                problems.append(
                    Problem("error", f"{ref} was released but no longer validates; restore {path}")
                )
                continue
            if spec.hash != entry.get("sha256"):
                problems.append(
                    Problem(
                        "error",
                        f"released prompt {ref} changed ({path}): released versions are immutable; "
                        "restore it and create a new version instead "
                        f"(`promptkit prompts new {name} --from {ref}`)",
                    )
                )
            pool_hash = entry.get("pool_sha256")
            if pool_hash and spec.fewshot is not None:
                pool = root / spec.fewshot.pool
                if pool.exists() and pool_sha256(pool) != pool_hash:
                    problems.append(
                        Problem(
                            "error",
                            f"example pool {spec.fewshot.pool} changed since {ref} was released; "
                            "restore it, or save the new examples as a new pool file "
                            "and create a new version instead",
                        )
                    )
    for name, versions in sorted(specs.items()):
        for version in sorted(versions):
            if str(version) not in lock.get(name, {}):
                problems.append(
                    Problem("warning", f"{name}@{version} is not released yet (run `promptkit prompts lock`)")
                )
    return problems


def check_all(root: Path | str | None = None, dataset: Path | str | None = None) -> list[Problem]:
    """Every problem in the registry (and, with ``dataset``, few-shot leakage into it)."""
    base = prompts_root(root)
    specs, problems = load_all(base)
    problems += immutability_problems(base, specs)
    for name, versions in sorted(specs.items()):
        try:
            problems += [Problem("error", p) for p in dangling_labels(name, base)]
            labels = read_labels(name, base)
        except PromptkitError as exc:
            problems.append(Problem("error", str(exc)))
            labels = {}
        for version in sorted(versions):
            try:
                problems += [Problem("error", p) for p in lint_spec(versions[version], base)]
            except PromptkitError as exc:
                problems.append(Problem("error", str(exc)))
        for version, same in duplicates(versions):
            problems.append(
                Problem(
                    "error",
                    f"{name}@{version} duplicates {name}@{same} (same content); edit it or delete "
                    f"{base / name / f'v{version}.yaml'}",
                )
            )
        lock = read_lock(base).get(name, {})
        for label, version in sorted(labels.items()):
            if version in versions and str(version) not in lock:
                problems.append(
                    Problem(
                        "warning", f"label {name}@{label} points at unreleased v{version}; run prompts lock"
                    )
                )
    if dataset is not None:
        problems += [Problem("error", p) for p in leakage(dataset, base, specs)]
    return problems


# ---- leakage -----------------------------------------------------------------------------------------------
_TEXT_FIELDS = ("question", "text")


def dataset_items(path: Path) -> list[dict[str, Any]]:
    """``[{"id", "text"}]`` from a SQuAD-style JSON file or a JSON-lines file with ``question``/``text``."""
    items: list[dict[str, Any]] = []
    if path.suffix == ".jsonl":
        if not path.is_file():
            raise ValidationError(f"dataset {path} does not exist", hint="check the path")
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValidationError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            text = next((row[f] for f in _TEXT_FIELDS if isinstance(row.get(f), str)), None)
            items.append({"id": row.get("id"), "text": text})
        return items
    data = read_json(path, what="dataset")
    if isinstance(data, dict) and isinstance(data.get("data"), list):  # SQuAD layout
        for article in data["data"]:
            for paragraph in article.get("paragraphs", []):
                for qa in paragraph.get("qas", []):
                    items.append({"id": qa.get("id"), "text": qa.get("question")})
        return items
    if isinstance(data, list):
        for row in data:
            if isinstance(row, dict):
                text = next((row[f] for f in _TEXT_FIELDS if isinstance(row.get(f), str)), None)
                items.append({"id": row.get("id"), "text": text})
        return items
    raise ValidationError(f"{path}: expected a SQuAD-style JSON file or JSON lines with id and question/text")


def _dataset_path(ref: Path | str) -> Path:
    path = Path(ref)
    if path.exists() or path.suffix or len(path.parts) > 1:
        return path
    from promptkit.paths import find_file

    jsonl = find_file(f"eval/datasets/{ref}.jsonl")
    if jsonl is not None and jsonl.is_file():
        return jsonl
    from promptkit.datasets import resolve_dataset_path

    return resolve_dataset_path(ref)


def leakage(
    dataset: Path | str, root: Path, specs: dict[str, dict[int, PromptVersion]] | None = None
) -> list[str]:
    """Pool examples whose id or question/text also appears in ``dataset`` (a path, or a name under
    ``eval/datasets/``: ``course_qa``, ``moderation``). Texts are compared folded
    (:func:`promptkit.text.fold_words`): a copy differing only in case, accents or punctuation still leaks."""
    path = _dataset_path(dataset)
    items = dataset_items(path)
    ids = {str(i["id"]): i for i in items if i.get("id") is not None}
    texts = {fold_words(i["text"]): i for i in items if i.get("text")}
    pools = {p.relative_to(root).as_posix() for p in sorted((root / "_pools").glob("*.jsonl"))}
    for versions in (specs or {}).values():
        pools |= {s.fewshot.pool for s in versions.values() if s.fewshot is not None}
    problems: list[str] = []
    for pool in sorted(pools):
        if not (root / pool).is_file():
            continue
        for row in load_pool(root / pool):
            if row["id"] in ids:
                problems.append(
                    f"leakage: example {row['id']!r} of {pool} has the same id as an item of {path}; "
                    "remove it from the pool or the dataset"
                )
            for field in _TEXT_FIELDS:
                value = row.get(field)
                hit = texts.get(fold_words(value)) if isinstance(value, str) else None
                if hit is not None:
                    problems.append(
                        f"leakage: example {row['id']!r} of {pool} has the same {field} as item "
                        f"{hit.get('id')!r} of {path}; remove it from the pool or the dataset"
                    )
    return problems
