"""Any LangChain vector store or retriever where a RAG chain expects the course index.

A RAG chain asks its index for ``search(question, k=..., mode=...)``. :func:`as_index` gives that method to
any LangChain ``VectorStore`` (``similarity_search_with_score``: the score lands in each document's metadata)
or ``BaseRetriever`` (``invoke``, first ``k`` documents), so retrieval can move to a store that scales past
one machine's FAISS file (a server-backed store: Qdrant, pgvector, Elasticsearch, Chroma's server …) or to an
in-memory one in tests, with no change to the chain::

    from langchain_core.vectorstores import InMemoryVectorStore
    store = InMemoryVectorStore(embeddings); store.add_texts(texts, metadatas=[{"source": ...}, ...])
    chain = load_chain("rag_course", index=as_index(store))

The chain's retrieval ``mode`` (dense, bm25, hybrid, mmr) is the course index's; an external store searches
its own way (a retriever built with ``store.as_retriever(search_type="mmr")`` chooses MMR, for instance).
"""

from __future__ import annotations

from typing import Any

from promptkit.errors import ValidationError


class ExternalIndex:
    """A LangChain vector store or retriever behind the course index's ``search``."""

    def __init__(self, source: Any):
        from langchain_core.retrievers import BaseRetriever
        from langchain_core.vectorstores import VectorStore

        if not isinstance(source, VectorStore | BaseRetriever):
            raise ValidationError(
                f"expected a LangChain VectorStore or BaseRetriever, got {type(source).__name__}",
                hint="or pass a promptkit CourseIndex / index folder",
            )
        self.source = source

    def search(self, query: str, k: int = 4, mode: str | None = None, **_: Any) -> list[Any]:
        from langchain_core.documents import Document
        from langchain_core.vectorstores import VectorStore

        if isinstance(self.source, VectorStore):
            try:
                found = self.source.similarity_search_with_score(query, k=k)
            except NotImplementedError:
                found = [(d, None) for d in self.source.similarity_search(query, k=k)]
        else:
            found = [(d, None) for d in self.source.invoke(query)[:k]]
        out = []
        for rank, (doc, score) in enumerate(found):
            meta = dict(doc.metadata)
            meta.setdefault("source", str(meta.get("id") or doc.id or f"documento {rank + 1}"))
            meta.setdefault("chunk", meta.get("chunk", rank))
            if score is not None:
                meta["score"] = float(score)
            out.append(Document(page_content=doc.page_content, metadata=meta, id=doc.id))
        return out


def as_index(source: Any) -> Any:
    """``source`` as something a RAG chain can search: promptkit's own index as it is, a LangChain vector
    store or retriever wrapped in :class:`ExternalIndex`."""
    if hasattr(source, "search") and not _is_langchain(source):
        return source
    return ExternalIndex(source)


def _is_langchain(source: Any) -> bool:
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.vectorstores import VectorStore

    return isinstance(source, VectorStore | BaseRetriever)
