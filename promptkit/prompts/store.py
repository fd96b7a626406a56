"""The prompt registry on disk: ``prompts/<name>/v<N>.yaml`` files, ``labels.yaml`` and reference resolution.

Listing needs only PyYAML; pydantic validation runs when a version is loaded, so ``prompts list`` stays fast.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from promptkit import paths
from promptkit.errors import NotFoundError, ValidationError, unknown
from promptkit.fileio import atomic_write_text
from promptkit.prompts.names import LABEL_PATTERN, RESERVED_LABELS, VERSION_FILE

if TYPE_CHECKING:  # pragma: no cover
    from promptkit.prompts.schema import PromptVersion

LABELS_FILE = "labels.yaml"
_REF = re.compile(r"^(?P<name>[^@\s]+)(?:@(?P<sel>[^@\s]+))?$")


def prompts_root(root: Path | str | None = None) -> Path:
    """The ``prompts/`` folder written to (``root`` if given, else the project's)."""
    return Path(root) if root is not None else paths.prompts_dir()


def prompt_layers(root: Path | str | None = None) -> list[tuple[str, Path]]:
    """``[(origin, prompts folder)]`` searched in order: ``root`` alone when given, else the project's
    ``prompts/`` then the shipped one (see :mod:`promptkit.paths`)."""
    if root is not None:
        return [(paths.origin_of(root), Path(root))]
    return paths.layer_dirs("prompts")


def _has_versions(folder: Path) -> bool:
    return folder.is_dir() and any(folder.glob("v*.yaml"))


def prompt_home(name: str, root: Path | str | None = None) -> Path:
    """The ``prompts/`` folder holding prompt ``name``: the first layer that has it (a project prompt shadows
    a shipped one of the same name), else the folder written to."""
    for _, base in prompt_layers(root):
        if _has_versions(base / name):
            return base
    return prompts_root(root)


def prompt_origin(name: str, root: Path | str | None = None) -> str:
    """``"project"`` or ``"shipped"``: where prompt ``name`` is read from."""
    for origin, base in prompt_layers(root):
        if _has_versions(base / name):
            return origin
    return paths.PROJECT


def read_yaml(path: Path) -> Any:
    """``yaml.safe_load`` a file, turning syntax errors into one clear line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"{path} does not exist") from None
    except UnicodeDecodeError:
        raise ValidationError(f"{path}: not UTF-8 text; save it as UTF-8") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ValidationError(f"{path}: invalid YAML{at}: {problem}; fix the syntax") from None


@lru_cache(maxsize=256)
def _load_cached(path_str: str, mtime_ns: int, size: int) -> PromptVersion:
    from promptkit.prompts.schema import parse_version

    path = Path(path_str)
    return parse_version(read_yaml(path), path)


def load_version_file(path: Path) -> PromptVersion:
    """Validate one version file (memoised until the file changes)."""
    st = path.stat()
    return _load_cached(str(path), st.st_mtime_ns, st.st_size)


def prompt_names(root: Path | str | None = None) -> list[str]:
    """Every prompt of every layer (folders starting with ``_`` or ``.`` hold shared files, not prompts)."""
    names: set[str] = set()
    for _, base in prompt_layers(root):
        if base.is_dir():
            names.update(
                p.name for p in base.iterdir() if not p.name.startswith(("_", ".")) and _has_versions(p)
            )
    return sorted(names)


def version_files(name: str, root: Path | str | None = None) -> dict[int, Path]:
    """``{version: path}`` for one prompt, raising a did-you-mean error for an unknown name."""
    folder = prompt_home(name, root) / name
    files: dict[int, Path] = {}
    if folder.is_dir():
        for path in folder.glob("v*.yaml"):
            match = VERSION_FILE.match(path.name)
            if match:
                files[int(match.group(1))] = path
    if not files:
        raise unknown("prompt", name, prompt_names(root))
    return dict(sorted(files.items()))


def read_labels(name: str, root: Path | str | None = None) -> dict[str, int]:
    """The labels of one prompt (``labels.yaml``: ``production: 2``); ``latest`` is implicit, never stored."""
    path = prompt_home(name, root) / name / LABELS_FILE
    if not path.exists():
        return {}
    data = read_yaml(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValidationError(f"{path}: expected a mapping label -> version number, e.g. 'production: 2'")
    labels: dict[str, int] = {}
    for label, version in data.items():
        if not isinstance(label, str) or not re.match(LABEL_PATTERN, label):
            raise ValidationError(
                f"{path}: label {label!r} is not valid (lowercase letters, digits, - and _)"
            )
        if label in RESERVED_LABELS:
            raise ValidationError(f"{path}: label {label!r} is implicit; remove it from the file")
        if isinstance(version, bool) or not isinstance(version, int):
            raise ValidationError(
                f"{path}: label {label!r} must map to a version number, got {version!r} (e.g. '{label}: 2')"
            )
        labels[label] = version
    return labels


def write_labels(name: str, labels: dict[str, int], root: Path | str | None = None) -> Path:
    """Write the labels of ``name`` into the folder written to (the project's, unless ``root`` is given)."""
    path = prompts_root(root) / name / LABELS_FILE
    body = "".join(f"{label}: {labels[label]}\n" for label in sorted(labels))
    atomic_write_text(path, "# label: version (`latest` is implicit)\n" + body)
    return path


def dangling_labels(name: str, root: Path | str | None = None) -> list[str]:
    """Problems for labels that point at a version that does not exist."""
    versions = version_files(name, root)
    return [
        f"{prompt_home(name, root) / name / LABELS_FILE}: label {label!r} points at v{v}, "
        "which does not exist "
        f"(available: {', '.join(map(str, versions))}); "
        f"fix it with `promptkit prompts label {name}@N {label}`"
        for label, v in read_labels(name, root).items()
        if v not in versions
    ]


def parse_ref(ref: str) -> tuple[str, str | None]:
    """Split ``name``, ``name@3``, ``name@v3`` or ``name@label`` into (name, selector)."""
    match = _REF.match(ref.strip()) if isinstance(ref, str) else None
    if not match:
        raise ValidationError(f"invalid prompt reference {ref!r}; use name, name@3 or name@label")
    return match.group("name"), match.group("sel")


def resolve_ref(ref: str, root: Path | str | None = None) -> tuple[str, int]:
    """Resolve a reference to ``(name, version)``.

    ``name`` is the ``production`` label when there is one, else the latest version; ``name@3`` (or
    ``name@v3``) a version; ``name@staging`` a label; ``name@latest`` the highest version."""
    name, sel = parse_ref(ref)
    versions = version_files(name, root)
    labels = read_labels(name, root)
    if sel is None:
        sel = "production" if "production" in labels else "latest"
    if sel == "latest":
        return name, max(versions)
    number = sel[1:] if sel[:1] == "v" and sel[1:].isdigit() else sel
    if number.isdigit():
        version = int(number)
        if version not in versions:
            raise unknown(f"{name!r} version", str(version), map(str, versions))
        return name, version
    if sel not in labels:
        raise unknown(f"{name!r} label", sel, [*labels, "latest"])
    version = labels[sel]
    if version not in versions:
        raise NotFoundError(dangling_labels(name, root)[0])
    return name, version


def load_spec(ref: str, root: Path | str | None = None) -> PromptVersion:
    """Resolve and validate (schema only, no lint)."""
    name, version = resolve_ref(ref, root)
    return load_version_file(version_files(name, root)[version])


@dataclass(frozen=True)
class PromptInfo:
    """One row of ``promptkit prompts list``."""

    name: str
    versions: list[int]
    labels: dict[str, int]
    language: str
    kind: str
    description: str
    default: int
    released: list[int] = field(default_factory=list)
    origin: str = paths.PROJECT
    folder: Path | None = None


def list_prompts(root: Path | str | None = None) -> list[PromptInfo]:
    """Every prompt with its versions and labels (language, kind and description of the latest version).

    Reads the YAML without schema validation (fast); ``promptkit prompts check`` validates everything. Each row
    says where the prompt comes from (``origin``: project or shipped)."""
    from promptkit.prompts.lock import read_lock

    locks: dict[Path, dict[str, Any]] = {}
    out: list[PromptInfo] = []
    for name in prompt_names(root):
        base = prompt_home(name, root)
        lock = locks[base] if base in locks else locks.setdefault(base, read_lock(base))
        files = version_files(name, base)
        latest = read_yaml(files[max(files)])
        if not isinstance(latest, dict):
            raise ValidationError(f"{files[max(files)]}: expected a mapping of keys (name, version, …)")
        labels = read_labels(name, base)
        default = labels.get("production", max(files))
        out.append(
            PromptInfo(
                name=name,
                versions=list(files),
                labels=labels,
                language=str(latest.get("language", "?")),
                kind=str(latest.get("kind", "?")) + (" + few-shot" if latest.get("fewshot") else ""),
                description=str(latest.get("description", "")),
                default=default,
                released=sorted(int(v) for v in lock.get(name, {})),
                origin=prompt_origin(name, root),
                folder=base / name,
            )
        )
    return out
