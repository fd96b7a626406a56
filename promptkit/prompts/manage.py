"""Changing the registry: release (lock) versions, move labels, start a new version, diff two versions.

Every change is written to the project's ``prompts/`` (or the ``root`` given), never to the shipped prompts
installed with the package. Changing a shipped prompt first copies it into the project (:func:`fork`): its
versions, labels, lock entries and example pool, so its history stays resolvable and the project's copy
shadows the shipped one from then on.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from promptkit import paths
from promptkit.errors import IntegrityError, ValidationError
from promptkit.fileio import atomic_write_bytes, atomic_write_text
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
    parse_ref,
    prompt_home,
    prompt_names,
    read_labels,
    version_files,
    write_labels,
)

PLACEHOLDER = "TODO:"


def writable_root(root: Path | str | None = None) -> Path:
    """The ``prompts/`` folder changes go to: ``root`` if given, else the project's (refused without one)."""
    if root is not None:
        return Path(root)
    return paths.writable_project() / "prompts"


def _copy_pool(pool: str, source_base: Path, base: Path) -> None:
    """Copy an example pool the project does not have yet (an existing one is never overwritten)."""
    target = base / pool
    if not target.exists() and (source_base / pool).is_file():
        atomic_write_bytes(target, (source_base / pool).read_bytes())


def fork(name: str, base: Path) -> bool:
    """Copy prompt ``name`` from the layer it is read from into ``base`` (the project's ``prompts/``): every
    version file, its labels, its lock entries and the pools its versions draw from. ``False`` when ``base``
    already holds it (or no layer does)."""
    source_base = prompt_home(name)
    if source_base.resolve() == base.resolve() or not (source_base / name).is_dir():
        return False
    if (base / name).is_dir() and any((base / name).glob("v*.yaml")):
        return False
    for path in sorted((source_base / name).glob("v*.yaml")):
        atomic_write_bytes(base / name / path.name, path.read_bytes())
        spec = load_version_file(path)
        if spec.fewshot is not None:
            _copy_pool(spec.fewshot.pool, source_base, base)
    labels = read_labels(name, source_base)
    if labels:
        write_labels(name, labels, base)
    released = read_lock(source_base).get(name)
    if released:
        lock = read_lock(base)
        lock[name] = dict(released)
        write_lock(base, lock)
    return True


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
    """Release every version of the project's prompts not yet in the lock file; returns the refs released
    now."""
    base = writable_root(root)
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
    """Point ``label`` of a prompt at ``name@V`` (releasing that version if it is not released yet).

    A shipped prompt is first copied into the project (:func:`fork`); the label is written there."""
    base = writable_root(root)
    if "@" not in ref:
        raise ValidationError(f"give an explicit version, e.g. {ref}@2", hint="labels point at versions")
    if not re.match(LABEL_PATTERN, label) or label in RESERVED_LABELS:
        raise ValidationError(
            f"invalid label {label!r}: use lowercase letters, digits, - and _ "
            "(and not 'latest', which is implicit)"
        )
    if root is None:
        fork(parse_ref(ref)[0], base)
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
    draft (or delete it) first. ``from_ref`` may name a shipped prompt; the new version is written to the
    project (a shipped ``name`` is first copied there with :func:`fork`)."""
    base = writable_root(root)
    if not re.match(NAME_PATTERN, name):
        raise ValidationError(f"invalid prompt name {name!r}: use lowercase letters, digits and _")
    source = load_spec(from_ref, root)
    assert source.path is not None
    if root is None:
        fork(name, base)
        if source.fewshot is not None:
            _copy_pool(source.fewshot.pool, source.path.parent.parent, base)
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
    a, b = load_spec(ref_a, root), load_spec(ref_b, root)
    text_a = dump_yaml(a.content()).splitlines(keepends=True)
    text_b = dump_yaml(b.content()).splitlines(keepends=True)
    return "".join(difflib.unified_diff(text_a, text_b, fromfile=a.ref, tofile=b.ref))
