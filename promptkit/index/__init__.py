"""The course index: ingestion, token-sized splitting, a FAISS store persisted without pickle, and dense,
BM25, hybrid and MMR retrieval exposed as a LangChain retriever and vector store.

    from promptkit.index import build_index, load_index
    build_index()                          # corpus/ -> $PROMPTKIT_HOME/indexes/course
    index = load_index()
    index.search("o que é RAG?", k=4)      # hybrid (RRF of dense + BM25) by default
    retriever = index.as_retriever(mode="mmr", k=4)

Importing this package is cheap: each name loads its module (numpy, LangChain, FAISS) on first access.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> module that defines it
_LAZY = {
    "MODES": "promptkit.index.modes",
    "DEFAULT_MODE": "promptkit.index.modes",
    "BuildReport": "promptkit.index.build",
    "build_index": "promptkit.index.build",
    "ensure_index": "promptkit.index.build",
    "index_is_stale": "promptkit.index.build",
    "load_index": "promptkit.index.build",
    "CourseIndex": "promptkit.index.course_index",
    "ExternalIndex": "promptkit.index.external",
    "as_index": "promptkit.index.external",
    "CourseRetriever": "promptkit.index.retriever",
    "CourseVectorStore": "promptkit.index.langchain",
    "Chunk": "promptkit.index.splitting",
    "SplitterSettings": "promptkit.index.splitting",
}

__all__ = sorted(_LAZY)

if TYPE_CHECKING:  # pragma: no cover
    from promptkit.index.build import BuildReport, build_index, ensure_index, index_is_stale, load_index
    from promptkit.index.course_index import CourseIndex
    from promptkit.index.langchain import CourseVectorStore
    from promptkit.index.modes import DEFAULT_MODE, MODES
    from promptkit.index.retriever import CourseRetriever
    from promptkit.index.splitting import Chunk, SplitterSettings


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'promptkit.index' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
