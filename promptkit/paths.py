"""Where promptkit reads project files and keeps its caches.

* ``PROMPTKIT_HOME`` (default: ``$XDG_CACHE_HOME/promptkit`` or ``~/.cache/promptkit``) holds converted models,
  built indexes and the replay cache.
* The *project root* holds ``prompts/``, ``chains/``, ``corpus/`` and ``eval/``. It is ``PROMPTKIT_PROJECT`` when
  set, else the nearest folder at or above the working directory that has a ``prompts/`` folder, else the folder
  this package was installed from (the shipped defaults).
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_PARENT = Path(__file__).resolve().parent.parent


def home() -> Path:
    """The cache directory (not created here: writers create what they need)."""
    env = os.environ.get("PROMPTKIT_HOME")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "promptkit"


def project_root() -> Path:
    env = os.environ.get("PROMPTKIT_PROJECT")
    if env:
        return Path(env).expanduser().resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "prompts").is_dir() and (folder / "chains").is_dir():
            return folder
    return _PACKAGE_PARENT


def shipped_root() -> Path:
    """The folder holding the shipped prompts, chains, corpus and eval data."""
    return _PACKAGE_PARENT


def prompts_dir() -> Path:
    return project_root() / "prompts"


def chains_dir() -> Path:
    return project_root() / "chains"


def corpus_dir() -> Path:
    return project_root() / "corpus"


def eval_dir() -> Path:
    return project_root() / "eval"


def default_index_dir() -> Path:
    return home() / "indexes" / "course"


def replay_cache_path() -> Path:
    env = os.environ.get("PROMPTKIT_CACHE")
    return Path(env).expanduser() if env else home() / "replay.sqlite"
