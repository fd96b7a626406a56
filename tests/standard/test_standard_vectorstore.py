"""LangChain's standard vector-store suite (sync and async) run against :class:`CourseVectorStore`.

Every feature the suite checks is supported: ``has_sync``, ``has_async`` and ``has_get_by_ids`` keep their
default ``True``. The suite embeds with its own ``DeterministicFakeEmbedding`` (6 dimensions): no model
loads.
"""

from __future__ import annotations

import pytest
from langchain_core.vectorstores import VectorStore
from langchain_tests.integration_tests import VectorStoreIntegrationTests

from promptkit.index.langchain import CourseVectorStore


class TestCourseVectorStore(VectorStoreIntegrationTests):
    """A flat FAISS index: deletions and replacements remove the rows from FAISS itself."""

    @pytest.fixture
    def vectorstore(self) -> VectorStore:
        return CourseVectorStore.from_texts([], self.get_embeddings())


class TestCourseVectorStoreHNSW(VectorStoreIntegrationTests):
    """An HNSW FAISS index (large corpora get one): deletions rebuild the graph from the surviving vectors."""

    @pytest.fixture
    def vectorstore(self) -> VectorStore:
        return CourseVectorStore.from_texts([], self.get_embeddings(), index_type="hnsw")
