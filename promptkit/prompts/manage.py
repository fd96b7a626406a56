"""Changing the registry: release (lock) versions, move labels, start a new version, diff two versions."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from promptkit.errors import IntegrityError, ValidationError
from promptkit.fileio import atomic_write_text
from promptkit.prompts.checks import duplicates
from promptkit.prompts.lint import lint_spec
from promptkit.prompts.lock import lock_entry, read_lock, write_lock
from promptkit.prompts.schema import (
    LABEL_PATTERN,
    NAME_PATTERN,
    RESERVED_LABELS,
    PromptVersion,
    parse_version,
)
from promptkit.prompts.store import (
    dangling_labels,
    load_spec,
    load_version_file,
    prompt_names,
    prompts_root,
    read_labels,
    version_files,
    write_labels,
)

PLACEHOLDER = "TODO:"


def _versions(name: str, root: Path) -> dict[int, PromptVersion]:
    return {v: load_version_file(p) for v, p in version_files(name, root).items()}


def _release(spec: PromptVersion, root: Path, lock: dict[str, dict[str, dict[str, Any]]]) -> bool:
    """Add ``spec`` to ``lock`` after checking it; ``False`` if it was already released unchanged."""
    entries = lock.setdefault(spec.name, {})
    key = str(spec.version)
    if key in entries:
        if entries[key].get("sha256") != spec.hash:
            raise IntegrityError(
                f"released prompt {spec.ref} changed since it was released; restore it and create a new "
                f"version instead (`promptkit prompts new {spec.name} --from {spec.ref}`)"
            )
        return False
    problems = lint_spec(spec, root)
    if problems:
        raise ValidationError(f"cannot release {spec.ref}: {problems[0]}")
    for version, same in duplicates(_versions(spec.name, root)):
        if version == spec.version:
            raise ValidationError(
                f"cannot release {spec.ref}: it duplicates {spec.name}@{same} (same content); "
                "edit it before releasing, or delete it"
            )
    if spec.changelog.startswith(PLACEHOLDER):
        raise ValidationError(
            f"cannot release {spec.ref}: its changelog is still the placeholder; say in one line what changed"
        )
    entries[key] = lock_entry(spec, root)
    return True


def lock_all(root: Path | str | None = None) -> list[str]:
    """Release every version not yet in the lock file; returns the refs released now."""
    base = prompts_root(root)
    lock = read_lock(base)
    released: list[str] = []
    for name in prompt_names(base):
        problems = dangling_labels(name, base)
        if problems:
            raise ValidationError(problems[0])
        for spec in _versions(name, base).values():
            if _release(spec, base, lock):
                released.append(spec.ref)
    write_lock(base, lock)
    return released


@dataclass(frozen=True)
class LabelChange:
    name: str
    label: str
    version: int
    previous: int | None
    released_now: bool


def set_label(ref: str, label: str, root: Path | str | None = None) -> LabelChange:
    """Point ``label`` of a prompt at ``name@V`` (releasing that version if it is not released yet)."""
    base = prompts_root(root)
    if "@" not in ref:
        raise ValidationError(f"give an explicit version, e.g. {ref}@2", hint="labels point at versions")
    if not re.match(LABEL_PATTERN, label) or label in RESERVED_LABELS:
        raise ValidationError(
            f"invalid label {label!r}: use lowercase letters, digits, - and _ "
            "(and not 'latest', which is implicit)"
        )
    spec = load_spec(ref, base)
    lock = read_lock(base)
    released_now = _release(spec, base, lock)
    labels = read_labels(spec.name, base)
    previous = labels.get(label)
    labels[label] = spec.version
    if released_now:
        write_lock(base, lock)
    write_labels(spec.name, labels, base)
    return LabelChange(spec.name, label, spec.version, previous, released_now)


def new_version(name: str, from_ref: str, root: Path | str | None = None) -> Path:
    """Copy ``from_ref`` into the next version of ``name`` (a new prompt starts at v1); returns the new file.

    Refused while ``name`` already has an unreleased version that is still identical to another one: edit that
    draft (or delete it) first."""
    base = prompts_root(root)
    if not re.match(NAME_PATTERN, name):
        raise ValidationError(f"invalid prompt name {name!r}: use lowercase letters, digits and _")
    source = load_spec(from_ref, base)
    assert source.path is not None
    existing = _versions(name, base) if (base / name).is_dir() and any((base / name).glob("v*.yaml")) else {}
    released = read_lock(base).get(name, {})
    for version, same in duplicates(existing):
        if str(version) not in released:
            raise ValidationError(
                f"{name}@{version} is still an unedited copy of {name}@{same}; edit it (or delete it) "
                "before starting another version"
            )
    version = max(existing, default=0) + 1
    target = base / name / f"v{version}.yaml"
    changelog = f'"{PLACEHOLDER} say what changed from {source.ref}"'
    text = source.path.read_text(encoding="utf-8")
    edited = text
    for key, value in (("name", name), ("version", str(version)), ("changelog", changelog)):
        edited, count = re.subn(rf"(?m)^{key}:.*$", f"{key}: {value}", edited, count=1)
        if count != 1:
            edited = ""
            break
    try:
        if not edited:
            raise ValidationError("layout not recognised")
        parse_version(yaml.safe_load(edited), target)
    except (ValidationError, yaml.YAMLError):
        data = source.content()
        data.update(name=name, version=version, changelog=changelog.strip('"'))
        edited = dump_yaml(data)
    atomic_write_text(target, edited)
    return target


class _LiteralDumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = None
    if "\n" in value:
        literal = value.strip() and not any(line != line.rstrip() for line in value.splitlines())
        style = "|" if literal else '"'

    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_LiteralDumper.add_representer(str, _str_presenter)


def dump_yaml(data: Any) -> str:
    """YAML with multi-line strings as literal blocks (readable diffs)."""
    return yaml.dump(data, Dumper=_LiteralDumper, sort_keys=False, allow_unicode=True, width=1000)


def diff_versions(ref_a: str, ref_b: str, root: Path | str | None = None) -> str:
    """Unified diff of the templates and settings of two versions ('' when they are identical)."""
    base = prompts_root(root)
    a, b = load_spec(ref_a, base), load_spec(ref_b, base)
    text_a = dump_yaml(a.content()).splitlines(keepends=True)
    text_b = dump_yaml(b.content()).splitlines(keepends=True)
    return "".join(difflib.unified_diff(text_a, text_b, fromfile=a.ref, tofile=b.ref))
