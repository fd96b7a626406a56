"""LangChain adapters: the course index as a ``VectorStore`` (and, re-exported, as a ``BaseRetriever``).

:class:`CourseVectorStore` follows LangChain's vector-store contract, checked by LangChain's standard test
suite (``tests/standard/``): documents keep their ids and their metadata exactly as given, an id added again
replaces its entry, ``delete`` and ``get_by_ids`` work, searches take a ``filter``, relevance scores lie in
[0, 1]. Searches are dense (cosine similarity of normalised embeddings); the index's BM25, hybrid and MMR
modes are reached through :class:`CourseRetriever` (``index.as_retriever(mode=...)``). The async methods are
LangChain's defaults, which run these in an executor.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from promptkit.embeddings import normalise
from promptkit.errors import ValidationError
from promptkit.index.course_index import CourseIndex, MetadataFilter
from promptkit.index.retriever import CourseRetriever
from promptkit.index.splitting import Chunk

__all__ = ["CourseRetriever", "CourseVectorStore"]


class CourseVectorStore(VectorStore):
    """A LangChain ``VectorStore`` over a :class:`CourseIndex`: a loaded course index, or a new in-memory one.

    ``CourseVectorStore(index)`` views an existing index (its chunks carry the index's metadata: id, source,
    title, chunk, heading); ``CourseVectorStore(embedding=emb)`` and :meth:`from_texts` start an in-memory
    store. Changes stay in memory; persist a corpus with :func:`promptkit.index.build_index`.
    """

    def __init__(
        self,
        index: CourseIndex | None = None,
        *,
        embedding: Embeddings | None = None,
        index_type: str = "auto",
    ):
        if index is None:
            if embedding is None:
                raise ValidationError(
                    "a CourseVectorStore needs an index or embeddings",
                    hint="pass CourseVectorStore(index) or CourseVectorStore(embedding=...)",
                )
            index = CourseIndex.from_chunks([], embedding, context_header=False, index_type=index_type)
        self.index = index

    @property
    def embeddings(self) -> Embeddings | None:
        return self.index.embeddings

    # ---- writing ------------------------------------------------------------------------------------------
    def add_documents(
        self, documents: list[Document], ids: list[str] | None = None, **kwargs: Any
    ) -> list[str]:
        """Embed and add documents; returns their ids (``ids``, else each document's id, else a new uuid4).

        Metadata is stored exactly as given (a copy); an id already in the store replaces that document.
        """
        if ids is not None and len(ids) != len(documents):
            raise ValidationError(
                f"got {len(ids)} ids for {len(documents)} documents; pass one id per document"
            )
        given = ids if ids is not None else [doc.id for doc in documents]
        chunks = [
            _chunk(n, doc, str(doc_id) if doc_id else str(uuid.uuid4()))
            for n, (doc, doc_id) in enumerate(zip(documents, given, strict=True))
        ]
        return self.index.add_chunks(chunks)

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        """Remove the documents with these ids (unknown ids are ignored; ``None`` removes every document)."""
        self.index.delete([c.id for c in self.index.chunks] if ids is None else ids)
        return True

    # ---- reading ------------------------------------------------------------------------------------------
    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        return [doc for i in ids if (doc := self.index.get(i)) is not None]

    def similarity_search_with_score_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        filter: MetadataFilter | None = None,  # noqa: A002 - LangChain's name
        **kwargs: Any,
    ) -> list[tuple[Document, float]]:
        """``(document, cosine similarity)`` of the ``k`` nearest documents that ``filter`` keeps."""
        vector = normalise(np.asarray([embedding], dtype=np.float32))
        ranking = self.index.dense_ranking("", k, vector=vector, allowed=self.index.allowed(filter))
        return [(self.index.chunk_document(pos), score) for pos, score in ranking]

    def similarity_search_with_score(
        self,
        query: str,
        k: int = 4,
        filter: MetadataFilter | None = None,  # noqa: A002 - LangChain's name
        **kwargs: Any,
    ) -> list[tuple[Document, float]]:
        if not self.index.chunks:
            return []
        return self.similarity_search_with_score_by_vector(
            self.embeddings.embed_query(query), k, filter=filter, **kwargs
        )

    def similarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        return [doc for doc, _ in self.similarity_search_with_score(query, k, **kwargs)]

    def similarity_search_by_vector(self, embedding: list[float], k: int = 4, **kwargs: Any) -> list[Document]:
        return [doc for doc, _ in self.similarity_search_with_score_by_vector(embedding, k, **kwargs)]

    def _select_relevance_score_fn(self):
        # the cosine similarity of unit vectors lies in [-1, 1]: mapped linearly onto [0, 1], then clipped
        return _cosine_to_relevance

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: MetadataFilter | None = None,  # noqa: A002
        **kwargs: Any,
    ) -> list[Document]:
        """``k`` of the ``fetch_k`` nearest documents, picked for relevance and diversity (MMR)."""
        vector = normalise(np.asarray([embedding], dtype=np.float32))
        allowed = self.index.allowed(filter)
        candidates = self.index.dense_ranking("", max(fetch_k, k), vector=vector, allowed=allowed)
        picked = self.index.mmr_ranking(candidates, k, lambda_mult)
        return [self.index.chunk_document(pos) for pos, _ in picked]

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: MetadataFilter | None = None,  # noqa: A002
        **kwargs: Any,
    ) -> list[Document]:
        if not self.index.chunks:
            return []
        return self.max_marginal_relevance_search_by_vector(
            self.embeddings.embed_query(query), k, fetch_k, lambda_mult, filter=filter, **kwargs
        )

    @classmethod
    def from_texts(
        cls,
        texts: Iterable[str],
        embedding: Embeddings,
        metadatas: list[dict] | None = None,
        *,
        ids: list[str] | None = None,
        index_type: str = "auto",
        **kwargs: Any,
    ) -> CourseVectorStore:
        """An in-memory store holding ``texts`` (none: an empty store); ``index_type``: auto, flat or hnsw."""
        store = cls(embedding=embedding, index_type=index_type)
        store.add_texts(list(texts), metadatas, ids=ids)
        return store


def _cosine_to_relevance(score: float) -> float:
    return min(1.0, max(0.0, (score + 1.0) / 2.0))


def _chunk(position: int, doc: Document, doc_id: str) -> Chunk:
    """A document as a chunk: its metadata kept whole (a copy), and string ``source``, ``title`` and
    ``heading`` values reused for the chunk's own fields (what BM25's context header and citations read)."""
    meta = copy.deepcopy(dict(doc.metadata))

    def text_of(key: str) -> str:
        value = meta.get(key)
        return value if isinstance(value, str) else ""

    return Chunk(id=doc_id, source=text_of("source"), title=text_of("title"), chunk=position,
                 text=doc.page_content, heading=text_of("heading"), user_metadata=meta)
