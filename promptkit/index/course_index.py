"""The loaded course index: dense, BM25 and hybrid (reciprocal rank fusion) search, optional MMR."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.documents import Document

from promptkit.errors import IntegrityError, ValidationError, unknown
from promptkit.index.embedding import embed_query, embed_texts, model_id_of
from promptkit.index.lexical import DEFAULT_STEM, LexicalIndex, PortugueseTokenizer
from promptkit.index.splitting import Chunk
from promptkit.index.store import choose_index_type, index_vectors, make_faiss_index, rebuild_hint

MODES = ("dense", "bm25", "hybrid")
# Reciprocal rank fusion settings, tuned on the course QA questions (benchmarks/bench_retrieval.py --sweep).
# The default embedding model is English-centred, so on Portuguese questions the lexical ranking is the stronger
# signal: BM25 leads and the dense ranking breaks ties and rescues paraphrases. With 200-token chunks, hit@4 of
# the answer-bearing file went from 0.946 (weights 1:1, k=60) to 1.000 (weights 0.2:1, k=20).
RRF_K = 20
RRF_WEIGHTS = (0.2, 1.0)
HYBRID_CANDIDATES = 50


class CourseIndex:
    """Chunks, their FAISS index and a lazily built BM25 index, searchable in three modes.

    ``embeddings`` may be an Embeddings object or a zero-argument factory (so BM25-only use never loads the
    embedding model). The model id of the embeddings must match the one the index was built with.
    """

    def __init__(
        self,
        chunks: list[Chunk],
        faiss_index: Any,
        *,
        embeddings: Any | Callable[[], Any] | None = None,
        manifest: dict[str, Any] | None = None,
        path: Path | None = None,
        stem: str = DEFAULT_STEM,
        rrf_k: int = RRF_K,
        rrf_weights: tuple[float, float] = RRF_WEIGHTS,
        context_header: bool = True,
    ):
        self.chunks = chunks
        self.faiss_index = faiss_index
        self.manifest = manifest or {}
        self.path = path
        self.stem = stem
        self.rrf_k = rrf_k
        self.rrf_weights = rrf_weights
        self.context_header = bool(self.manifest.get("splitter", {}).get("context_header", context_header))
        self._embeddings = embeddings
        self._lexical: LexicalIndex | None = None
        self._lexical_lock = threading.Lock()
        self._position = {c.id: i for i, c in enumerate(chunks)}

    # ---- construction -------------------------------------------------------------------------------------
    @classmethod
    def from_chunks(cls, chunks: list[Chunk], embeddings: Any, **kwargs: Any) -> CourseIndex:
        """An in-memory index (nothing written to disk) over already split chunks."""
        vectors = embed_texts(embeddings, [c.index_text(kwargs.get("context_header", True)) for c in chunks])
        if not len(vectors):
            raise ValidationError("cannot build an index from zero chunks", hint="pass at least one text")
        index = make_faiss_index(vectors, choose_index_type(len(chunks)))
        manifest = {"embedding": {"model_id": model_id_of(embeddings), "dimension": int(vectors.shape[1])}}
        return cls(chunks, index, embeddings=embeddings, manifest=manifest, **kwargs)

    def add_chunks(self, chunks: Sequence[Chunk]) -> list[str]:
        """Append chunks in memory (embedding them); returns their ids."""
        vectors = embed_texts(self.embeddings, [c.index_text(self.context_header) for c in chunks])
        self._check_dim(vectors.shape[1])
        self.faiss_index.add(vectors)
        for c in chunks:
            self._position[c.id] = len(self.chunks)
            self.chunks.append(c)
        self._lexical = None
        return [c.id for c in chunks]

    # ---- properties ---------------------------------------------------------------------------------------
    @property
    def model_id(self) -> str:
        return str(self.manifest.get("embedding", {}).get("model_id", ""))

    @property
    def dimension(self) -> int:
        return int(self.faiss_index.d)

    @property
    def index_type(self) -> str:
        return "hnsw" if hasattr(self.faiss_index, "hnsw") else "flat"

    def __len__(self) -> int:
        return len(self.chunks)

    @property
    def embeddings(self) -> Any:
        """The embeddings object, created on first use and checked against the index's model id."""
        emb = self._embeddings
        if emb is None:
            from promptkit.index import embedding

            emb = embedding.default_embeddings()
        elif callable(emb) and not hasattr(emb, "embed_query"):
            emb = emb()
        if self.model_id and model_id_of(emb) != self.model_id:
            where = self.path or "this index"
            raise IntegrityError(
                f"{where} was built with embeddings {self.model_id!r} but {model_id_of(emb)!r} is in use",
                hint=rebuild_hint(self.path) if self.path else "rebuild the index with the same embeddings",
            )
        self._embeddings = emb
        return emb

    @property
    def lexical(self) -> LexicalIndex:
        if self._lexical is None:
            # chains search from a thread pool: without the lock every thread would build its own BM25 index
            with self._lexical_lock:
                if self._lexical is None:
                    texts = [c.index_text(self.context_header) for c in self.chunks]
                    self._lexical = LexicalIndex.build(texts, PortugueseTokenizer(self.stem))
        return self._lexical

    def vectors(self, positions: Sequence[int] | None = None) -> np.ndarray:
        if positions is None:
            return index_vectors(self.faiss_index)
        return np.vstack([self.faiss_index.reconstruct(int(p)) for p in positions]).astype(np.float32)

    def _check_dim(self, dim: int) -> None:
        if dim != self.dimension:
            raise IntegrityError(
                f"embeddings give {dim}-dimensional vectors but {self.path or 'the index'} holds {self.dimension}",
                hint=rebuild_hint(self.path) if self.path else "rebuild the index with the same embeddings",
            )

    # ---- ranking ------------------------------------------------------------------------------------------
    def query_vector(self, query: str) -> np.ndarray:
        vec = embed_query(self.embeddings, query)
        self._check_dim(vec.shape[1])
        return vec

    def dense_ranking(self, query: str, n: int, vector: np.ndarray | None = None) -> list[tuple[int, float]]:
        n = min(n, len(self.chunks))
        if n <= 0:
            return []
        vec = self.query_vector(query) if vector is None else vector
        if hasattr(self.faiss_index, "hnsw"):
            self.faiss_index.hnsw.efSearch = max(self.faiss_index.hnsw.efSearch, n)
        scores, ids = self.faiss_index.search(vec, n)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def bm25_ranking(self, query: str, n: int) -> list[tuple[int, float]]:
        return self.lexical.top(query, n)

    def hybrid_ranking(self, query: str, n: int, vector: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Weighted reciprocal rank fusion: sum of ``w / (rrf_k + rank)`` over the dense and BM25 rankings."""
        pool = max(n, HYBRID_CANDIDATES)
        fused: dict[int, float] = {}
        w_dense, w_bm25 = self.rrf_weights
        rankings = []
        if w_dense > 0:
            rankings.append((w_dense, self.dense_ranking(query, pool, vector)))
        if w_bm25 > 0:
            rankings.append((w_bm25, self.bm25_ranking(query, pool)))
        for weight, ranking in rankings:
            for rank, (pos, _) in enumerate(ranking, start=1):
                fused[pos] = fused.get(pos, 0.0) + weight / (self.rrf_k + rank)
        ordered = sorted(fused.items(), key=lambda item: (-item[1], item[0]))
        return ordered[:n]

    def ranking(self, query: str, n: int, mode: str = "hybrid") -> list[tuple[int, float]]:
        if mode == "dense":
            return self.dense_ranking(query, n)
        if mode == "bm25":
            return self.bm25_ranking(query, n)
        if mode == "hybrid":
            return self.hybrid_ranking(query, n)
        raise unknown("search mode", mode, MODES)

    def search(
        self,
        query: str,
        k: int = 4,
        mode: str = "hybrid",
        *,
        mmr: bool = False,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
    ) -> list[Document]:
        """The ``k`` best chunks for ``query``; ``mmr=True`` re-ranks ``fetch_k`` candidates for diversity.

        Each document's metadata has ``source``, ``title``, ``chunk``, ``id``, ``heading``, ``score`` (cosine for
        dense, BM25 for bm25, fused RRF for hybrid), ``rank`` and ``mode``.
        """
        if mode not in MODES:
            raise unknown("search mode", mode, MODES)
        if not isinstance(query, str) or not query.strip():
            raise ValidationError("the search query is empty", hint="pass a question or some keywords")
        if k <= 0:
            raise ValidationError(f"k must be a positive number of chunks, got {k}")
        if not mmr:
            return self._documents(self.ranking(query, k, mode), mode)
        candidates = self.ranking(query, max(fetch_k, k), mode)
        return self._documents(self._mmr(query, candidates, k, lambda_mult), mode)

    def _mmr(self, query: str, candidates: list[tuple[int, float]], k: int, lambda_mult: float):
        from langchain_core.vectorstores.utils import maximal_marginal_relevance

        if not candidates:
            return []
        vecs = self.vectors([p for p, _ in candidates])
        picked = maximal_marginal_relevance(self.query_vector(query)[0], list(vecs), lambda_mult=lambda_mult, k=k)
        return [candidates[i] for i in picked]

    def document(self, position: int, score: float, mode: str, rank: int) -> Document:
        chunk = self.chunks[position]
        meta = {**chunk.metadata(), "score": float(score), "rank": rank, "mode": mode}
        return Document(page_content=chunk.text, metadata=meta, id=chunk.id)

    def _documents(self, ranking: list[tuple[int, float]], mode: str) -> list[Document]:
        return [self.document(pos, score, mode, rank) for rank, (pos, score) in enumerate(ranking, start=1)]

    def get(self, chunk_id: str) -> Document | None:
        pos = self._position.get(chunk_id)
        return None if pos is None else self.document(pos, 0.0, "get", 0)

    # ---- LangChain ----------------------------------------------------------------------------------------
    def as_retriever(self, mode: str = "hybrid", k: int = 4, **kwargs: Any):
        """A LangChain ``BaseRetriever`` over this index (``mmr``, ``fetch_k``, ``lambda_mult`` accepted)."""
        from promptkit.index.langchain import CourseRetriever

        if mode not in MODES:
            raise unknown("search mode", mode, MODES)
        return CourseRetriever(index=self, mode=mode, k=k, **kwargs)

    def as_vectorstore(self):
        """This index as a LangChain ``VectorStore``."""
        from promptkit.index.langchain import CourseVectorStore

        return CourseVectorStore(self)

    def __repr__(self) -> str:
        return (
            f"CourseIndex({len(self.chunks)} chunks, {self.index_type}, model={self.model_id!r}, path={self.path})"
        )
