"""The course index: ingestion, token-sized splitting, a FAISS store persisted without pickle, and dense, BM25
and hybrid retrieval exposed as LangChain retrievers.

    from promptkit.index import build_index, load_index
    build_index()                          # corpus/ -> $PROMPTKIT_HOME/indexes/course
    index = load_index()
    index.search("o que é RAG?", k=4)      # hybrid (RRF of dense + BM25) by default
    retriever = index.as_retriever(mode="hybrid", k=4)
"""

from __future__ import annotations

from promptkit.index.build import BuildReport, build_index, ensure_index, index_is_stale, load_index
from promptkit.index.course_index import MODES, CourseIndex
from promptkit.index.splitting import Chunk, SplitterSettings

__all__ = [
    "MODES",
    "BuildReport",
    "Chunk",
    "CourseIndex",
    "SplitterSettings",
    "build_index",
    "ensure_index",
    "index_is_stale",
    "load_index",
]
