"""The standard retriever and vector-store suites again, on the real default embeddings
(``all-minilm-l6-v2``): the course corpus indexed with the model itself, and a vector store embedding with it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from langchain_core.vectorstores import VectorStore
from langchain_tests.integration_tests import RetrieversIntegrationTests, VectorStoreIntegrationTests

from promptkit.index import MODES, build_index, load_index
from promptkit.index.langchain import CourseVectorStore
from promptkit.index.retriever import CourseRetriever

pytestmark = pytest.mark.model

REPO = Path(__file__).resolve().parents[2]
_INDEX: dict[str, Any] = {}


def _embeddings() -> Embeddings:
    from promptkit.embeddings import load_embeddings

    return load_embeddings()  # memoised: the model loads once for the module


@pytest.fixture(scope="module", autouse=True)
def course_index(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("standard-real-ix")
    build_index(REPO / "corpus", out, embeddings=_embeddings(), show_progress=False)
    _INDEX["index"] = load_index(out, embeddings=_embeddings())
    yield _INDEX["index"]
    _INDEX.clear()


def test_every_mode_is_covered():
    assert {cls.mode for cls in (TestRealDense, TestRealBM25, TestRealHybrid, TestRealMMR)} == set(MODES)


class _RealRetrieverTests(RetrieversIntegrationTests):
    mode = "hybrid"

    @property
    def retriever_constructor(self) -> type[BaseRetriever]:
        return CourseRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"index": _INDEX["index"], "mode": self.mode, "k": 4}

    @property
    def retriever_query_example(self) -> str:
        return "Como um autoencoder comprime a entrada em um espaço latente?"


class TestRealDense(_RealRetrieverTests):
    mode = "dense"


class TestRealBM25(_RealRetrieverTests):
    mode = "bm25"


class TestRealHybrid(_RealRetrieverTests):
    mode = "hybrid"


class TestRealMMR(_RealRetrieverTests):
    mode = "mmr"


class TestRealVectorStore(VectorStoreIntegrationTests):
    @staticmethod
    def get_embeddings() -> Embeddings:
        return _embeddings()

    @pytest.fixture
    def vectorstore(self) -> VectorStore:
        return CourseVectorStore.from_texts([], self.get_embeddings())
