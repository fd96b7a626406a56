"""LangChain's standard retriever suite, once per retrieval mode of the course index (``MODES``).

The index is the shipped course corpus, built once per module with the hashing :class:`FakeEmbeddings`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.retrievers import BaseRetriever
from langchain_tests.integration_tests import RetrieversIntegrationTests

from promptkit.index import MODES, build_index, load_index
from promptkit.index.langchain import CourseRetriever
from promptkit.testing import FakeEmbeddings

REPO = Path(__file__).resolve().parents[2]
_INDEX: dict[str, Any] = {}


@pytest.fixture(scope="module", autouse=True)
def course_index(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("standard-course-ix")
    build_index(REPO / "corpus", out, embeddings=FakeEmbeddings(), show_progress=False)
    _INDEX["index"] = load_index(out, embeddings=FakeEmbeddings())
    yield _INDEX["index"]
    _INDEX.clear()


def test_every_mode_is_covered():
    covered = {cls.mode for cls in (TestDense, TestBM25, TestHybrid, TestMMR)}
    assert covered == set(MODES)


class _CourseRetrieverTests(RetrieversIntegrationTests):
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


class TestDense(_CourseRetrieverTests):
    mode = "dense"


class TestBM25(_CourseRetrieverTests):
    mode = "bm25"


class TestHybrid(_CourseRetrieverTests):
    mode = "hybrid"


class TestMMR(_CourseRetrieverTests):
    mode = "mmr"
