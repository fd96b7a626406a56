"""LangChain's standard embeddings suites (unit and integration) for every embeddings class promptkit offers:
the real default model (``all-minilm-l6-v2``, marked ``model``), the cached default embeddings and the
test fake.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.embeddings import Embeddings
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from promptkit.embeddings import LocalEmbeddings, resolve
from promptkit.index.query_cache import CachedQueryEmbeddings
from promptkit.testing import FakeEmbeddings


def _local_params() -> dict[str, Any]:
    """What :func:`promptkit.embeddings.load_embeddings` gives the class for the default model."""
    source, model_id, _ = resolve("all-minilm-l6-v2")
    return {
        "model_name": source,
        "model_id": model_id,
        "model_kwargs": {"device": "cpu", "local_files_only": True},
        "encode_kwargs": {"normalize_embeddings": True},
    }


class _Local:
    @property
    def embeddings_class(self) -> type[Embeddings]:
        return LocalEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return _local_params()


@pytest.mark.model
class TestLocalEmbeddingsUnit(_Local, EmbeddingsUnitTests):
    pass


@pytest.mark.model
class TestLocalEmbeddingsIntegration(_Local, EmbeddingsIntegrationTests):
    pass


@pytest.mark.model
def test_the_loader_gives_the_class_under_test():
    import promptkit
    from promptkit.embeddings import load_embeddings

    emb = load_embeddings()
    assert type(emb) is LocalEmbeddings and emb.model_id == "all-minilm-l6-v2"
    assert promptkit.load_embeddings is load_embeddings
    assert load_embeddings("all-minilm-l6-v2") is emb  # memoised per process


class _Fake:
    @property
    def embeddings_class(self) -> type[Embeddings]:
        return FakeEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"size": 64}


class TestFakeEmbeddingsUnit(_Fake, EmbeddingsUnitTests):
    pass


class TestFakeEmbeddingsIntegration(_Fake, EmbeddingsIntegrationTests):
    pass


class _Cached:
    """The query-cached wrapper the index uses by default, over the fake (its cache is in the test's home)."""

    @property
    def embeddings_class(self) -> type[Embeddings]:
        return CachedQueryEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"factory": FakeEmbeddings, "model_id": "fake-hashing-256"}


class TestCachedEmbeddingsUnit(_Cached, EmbeddingsUnitTests):
    pass


class TestCachedEmbeddingsIntegration(_Cached, EmbeddingsIntegrationTests):
    pass
