"""Where promptkit reads project files and keeps its caches.

* ``PROMPTKIT_HOME`` (default: ``$XDG_CACHE_HOME/promptkit`` or ``~/.cache/promptkit``) holds converted
  models, built indexes and the replay cache.
* Project files (``prompts/``, ``chains/``, ``corpus/``, ``eval/``) come in two layers, read in this order:

  1. the **project**: ``PROMPTKIT_PROJECT`` when set, else the nearest folder at or above the working
     directory that holds both a ``prompts/`` and a ``chains/`` folder (a checkout of this repository, or a
     folder made by ``promptkit init``);
  2. the **shipped** files: the prompts, chains, course corpus and evaluation data installed with the package
     (``promptkit/_shipped/`` inside a wheel, read with :mod:`importlib.resources`), or the top-level folders
     of the source checkout the package is imported from.

  A project item shadows a shipped item of the same name (a prompt folder, a chain file, a dataset file).
  Writes (new prompt versions, labels, the lock file, baselines) only ever go to the project: see
  :func:`writable_project`.

Only the standard library is imported here: everything reads these paths, including ``promptkit --help``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

PROJECT = "project"
SHIPPED = "shipped"
#: the folder, inside the installed package, that the build maps the shipped top-level folders into
SHIPPED_PACKAGE_DIR = "_shipped"
#: the project folders promptkit reads
KINDS = ("prompts", "chains", "corpus", "eval")

_PACKAGE_DIR = Path(__file__).resolve().parent
_PACKAGE_PARENT = _PACKAGE_DIR.parent


def home() -> Path:
    """The cache directory (not created here: writers create what they need)."""
    env = os.environ.get("PROMPTKIT_HOME")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "promptkit"


def is_project(folder: Path) -> bool:
    """True for a folder holding both ``prompts/`` and ``chains/``."""
    return (folder / "prompts").is_dir() and (folder / "chains").is_dir()


def find_project() -> Path | None:
    """The user's project folder: ``PROMPTKIT_PROJECT``, else the nearest project at or above the working
    directory; ``None`` when there is none."""
    env = os.environ.get("PROMPTKIT_PROJECT")
    if env:
        return Path(env).expanduser().resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if is_project(folder):
            return folder
    return None


def project_root() -> Path:
    """The project folder (:func:`find_project`), or the working directory when there is no project: the place
    a project's files would be read from, never the installed package."""
    return find_project() or Path.cwd().resolve()


def shipped_root() -> Path:
    """The folder holding the shipped ``prompts/``, ``chains/``, ``corpus/`` and ``eval/``.

    Inside an installed wheel that is the package data folder ``promptkit/_shipped/``; when the package is
    imported from a source checkout (or an editable install) it is the checkout itself."""
    from importlib.resources import files

    data = files("promptkit") / SHIPPED_PACKAGE_DIR
    if isinstance(data, Path) and data.is_dir():
        return data
    return _PACKAGE_PARENT


def is_shipped_install() -> bool:
    """True when the shipped files are package data (an installed wheel), not a source checkout."""
    return shipped_root() != _PACKAGE_PARENT


def layers() -> list[tuple[str, Path]]:
    """``[(origin, root), …]`` in lookup order: the project (when there is one), then the shipped files.

    A checkout of this repository is both: it is listed once, as the project."""
    out: list[tuple[str, Path]] = []
    project = find_project()
    if project is not None:
        out.append((PROJECT, project))
    shipped = shipped_root()
    if project is None or project.resolve() != shipped.resolve():
        out.append((SHIPPED, shipped))
    return out


def origin_of(path: str | os.PathLike[str]) -> str:
    """``"project"`` or ``"shipped"``: the layer a file or folder belongs to (``"project"`` if in neither)."""
    target = Path(path).resolve()
    for origin, root in layers():
        if target == root.resolve() or root.resolve() in target.parents:
            return origin
    return PROJECT


def find_file(relative: str | os.PathLike[str]) -> Path | None:
    """The first layer's copy of ``relative`` (e.g. ``eval/datasets/course_qa.json``), or ``None``."""
    for _, root in layers():
        candidate = root / relative
        if candidate.exists():
            return candidate
    return None


def layer_dirs(kind: str) -> list[tuple[str, Path]]:
    """``[(origin, folder)]`` of one kind (``prompts``, ``chains``, ``corpus``, ``eval`` or a sub-path such as
    ``eval/datasets``) that exist, in lookup order."""
    return [(origin, root / kind) for origin, root in layers() if (root / kind).is_dir()]


def writable_project() -> Path:
    """The project folder that writes go to; refuses when there is none, and never returns the installed
    package's own folder."""
    from promptkit.errors import NotFoundError, ValidationError

    project = find_project()
    if project is None:
        raise NotFoundError(
            f"no promptkit project at or above {Path.cwd()} (a folder with prompts/ and chains/)",
            hint="create one with `promptkit init DIR`, or set PROMPTKIT_PROJECT",
        )
    installed = _PACKAGE_DIR.resolve()
    if project.resolve() == installed or installed in project.resolve().parents:
        raise ValidationError(
            f"{project} is inside the installed promptkit package; promptkit never writes there",
            hint="create your own project with `promptkit init DIR`",
        )
    return project


def prompts_dir() -> Path:
    """The project's ``prompts/`` (where new versions, labels and the lock file are written)."""
    return project_root() / "prompts"


def chains_dir() -> Path:
    """The project's ``chains/`` (read before the shipped chains)."""
    return project_root() / "chains"


def eval_dir() -> Path:
    """The project's ``eval/`` (suites, baselines and results are written here)."""
    return project_root() / "eval"


def corpus_dir() -> Path:
    """The corpus the course index is built from: the project's ``corpus/`` when it has one, else the shipped
    course texts."""
    for _, folder in layer_dirs("corpus"):
        if any(p.is_file() and not p.name.startswith(".") for p in folder.rglob("*")):
            return folder
    return shipped_root() / "corpus"


def default_index_dir() -> Path:
    """The course index: ``$PROMPTKIT_HOME/indexes/course`` for the checkout's own corpus, and one folder per
    other corpus folder (a project's, an installed package's), so two projects or two environments never share
    an index built from the other's texts."""
    corpus = corpus_dir().resolve()
    if corpus == (_PACKAGE_PARENT / "corpus").resolve():
        return home() / "indexes" / "course"
    digest = hashlib.sha256(str(corpus).encode("utf-8")).hexdigest()[:12]
    return home() / "indexes" / f"course-{digest}"


def replay_cache_path() -> Path:
    env = os.environ.get("PROMPTKIT_CACHE")
    return Path(env).expanduser() if env else home() / "replay.sqlite"
