"""LangChain adapters: the course index as a ``BaseRetriever`` and as a ``VectorStore``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from langchain_core.vectorstores import VectorStore
from pydantic import ConfigDict

from promptkit.index.course_index import CourseIndex
from promptkit.index.splitting import Chunk, chunk_id


class CourseRetriever(BaseRetriever):
    """Retrieves chunks from a :class:`CourseIndex` in ``dense``, ``bm25`` or ``hybrid`` mode."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: Any  # CourseIndex (Any keeps pydantic from inspecting it)
    mode: str = "hybrid"
    k: int = 4
    mmr: bool = False
    fetch_k: int = 20
    lambda_mult: float = 0.5

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun | None = None
    ) -> list[Document]:
        return self.index.search(
            query, k=self.k, mode=self.mode, mmr=self.mmr, fetch_k=self.fetch_k, lambda_mult=self.lambda_mult
        )


class DenseRetriever(CourseRetriever):
    mode: str = "dense"


class BM25Retriever(CourseRetriever):
    mode: str = "bm25"


class HybridRetriever(CourseRetriever):
    mode: str = "hybrid"


class CourseVectorStore(VectorStore):
    """A LangChain ``VectorStore`` view of a :class:`CourseIndex` (dense search; additions stay in memory).

    Persist a corpus with :func:`promptkit.index.build_index`; this adapter exists so the index plugs into any
    LangChain component that expects a vector store.
    """

    def __init__(self, index: CourseIndex):
        self.index = index

    @property
    def embeddings(self) -> Embeddings | None:
        return self.index.embeddings

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        chunks = _chunks(list(texts), metadatas, ids)
        return self.index.add_chunks(chunks)

    def similarity_search_with_score(self, query: str, k: int = 4, **kwargs: Any) -> list[tuple[Document, float]]:
        mode = kwargs.get("mode", "dense")
        return [(d, d.metadata["score"]) for d in self.index.search(query, k=k, mode=mode)]

    def similarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        return [d for d, _ in self.similarity_search_with_score(query, k, **kwargs)]

    def _select_relevance_score_fn(self):
        return lambda score: (score + 1.0) / 2.0  # cosine in [-1, 1] -> [0, 1]

    def similarity_search_by_vector(self, embedding: list[float], k: int = 4, **kwargs: Any) -> list[Document]:
        import numpy as np

        from promptkit.index.embedding import normalise

        vec = normalise(np.asarray([embedding], dtype=np.float32))
        ranking = self.index.dense_ranking("", k, vector=vec)
        return self.index._documents(ranking, "dense")

    def max_marginal_relevance_search(
        self, query: str, k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5, **kwargs: Any
    ) -> list[Document]:
        mode = kwargs.get("mode", "dense")
        return self.index.search(query, k=k, mode=mode, mmr=True, fetch_k=fetch_k, lambda_mult=lambda_mult)

    def get_by_ids(self, ids, /) -> list[Document]:
        return [d for i in ids if (d := self.index.get(i)) is not None]

    @classmethod
    def from_texts(
        cls, texts: list[str], embedding: Embeddings, metadatas: list[dict] | None = None, **kwargs: Any
    ) -> CourseVectorStore:
        chunks = _chunks(list(texts), metadatas, kwargs.pop("ids", None))
        return cls(CourseIndex.from_chunks(chunks, embedding, context_header=False))


def _chunks(texts: list[str], metadatas: list[dict] | None, ids: list[str] | None) -> list[Chunk]:
    metas = metadatas or [{} for _ in texts]
    out = []
    for n, (text, meta) in enumerate(zip(texts, metas, strict=True)):
        source = str(meta.get("source", "memory"))
        position = int(meta.get("chunk", n))
        cid = ids[n] if ids else chunk_id(source, position, text)
        out.append(Chunk(id=cid, source=source, title=str(meta.get("title", "")), chunk=position, text=text,
                         heading=str(meta.get("heading", ""))))
    return out
