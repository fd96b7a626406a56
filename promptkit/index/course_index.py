"""The loaded course index: dense, BM25, hybrid (reciprocal rank fusion) and MMR search, metadata filters,
and in-memory additions, replacements and deletions.

FAISS ids are always positions in :attr:`CourseIndex.chunks`. Deleting (or replacing) chunks compacts both at
once instead of leaving tombstones: a flat index drops the rows with ``remove_ids``, which shifts the later
rows down in order, exactly like the chunk list; an HNSW graph cannot drop nodes, so it is rebuilt from the
surviving vectors (HNSW keeps them unquantised, so the rebuilt index equals a fresh build). Tombstones would
make every ranking over-fetch and skip dead rows, and leave ``chunks`` and ``len()`` counting chunks no search
can return. The cost is paid once per :meth:`CourseIndex.delete` call: a copy of the vectors for a flat index,
a graph rebuild for HNSW (about 30 s at 50,000 chunks, the size from which builds choose HNSW).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.documents import Document

from promptkit import embeddings as emb_mod
from promptkit.errors import IntegrityError, ValidationError, unknown
from promptkit.index.lexical import DEFAULT_STEM, LexicalIndex, PortugueseTokenizer
from promptkit.index.modes import DEFAULT_MODE, MODES
from promptkit.index.splitting import Chunk
from promptkit.index.store import choose_index_type, index_vectors, make_faiss_index, rebuild_hint

# Reciprocal rank fusion settings, tuned on the course QA questions (benchmarks/bench_retrieval.py --sweep).
# The default embedding model is English-centred, so on Portuguese questions the lexical ranking is the stronger
# signal: BM25 leads and the dense ranking breaks ties and rescues paraphrases. With 200-token chunks, hit@4 of
# the answer-bearing file went from 0.946 (weights 1:1, k=60) to 1.000 (weights 0.2:1, k=20).
RRF_K = 20
RRF_WEIGHTS = (0.2, 1.0)
HYBRID_CANDIDATES = 50

MetadataFilter = Mapping[str, Any] | Callable[[Document], bool]
"""A search filter: metadata values a document must have (equality on every key), or a predicate on it."""

_MISSING = object()


class CourseIndex:
    """Chunks, their FAISS index and a lazily built BM25 index, searchable in every mode of :data:`MODES`.

    ``embeddings`` may be an Embeddings object or a zero-argument factory (so BM25-only use never loads the
    embedding model). The model id of the embeddings must match the one the index was built with.
    ``faiss_index`` may be ``None`` for an empty index: it is created, with the dimension of the embeddings
    and the type ``index_type`` ("auto", "flat" or "hnsw"), when the first chunks are added.

    Additions, replacements and deletions change the index in memory only (the folder on disk changes only
    through :func:`~promptkit.index.build_index`); they must not run while other threads search.
    """

    def __init__(
        self,
        chunks: list[Chunk],
        faiss_index: Any | None,
        *,
        embeddings: Any | Callable[[], Any] | None = None,
        manifest: dict[str, Any] | None = None,
        path: Path | None = None,
        stem: str = DEFAULT_STEM,
        rrf_k: int = RRF_K,
        rrf_weights: tuple[float, float] = RRF_WEIGHTS,
        context_header: bool = True,
        index_type: str = "auto",
    ):
        if index_type not in ("auto", "flat", "hnsw"):
            raise ValidationError(f"unknown index type {index_type!r}; use auto, flat or hnsw")
        self.chunks = chunks
        self.faiss_index = faiss_index
        self.manifest = manifest or {}
        self.path = path
        self.stem = stem
        self.rrf_k = rrf_k
        self.rrf_weights = rrf_weights
        self.context_header = bool(self.manifest.get("splitter", {}).get("context_header", context_header))
        self._index_type = index_type
        self._embeddings = embeddings
        self._lexical: LexicalIndex | None = None
        self._lexical_lock = threading.Lock()
        self._position = {c.id: i for i, c in enumerate(chunks)}

    # ---- construction and changes -------------------------------------------------------------------------
    @classmethod
    def from_chunks(cls, chunks: Sequence[Chunk], embeddings: Any, **kwargs: Any) -> CourseIndex:
        """An in-memory index (nothing written to disk) over already split chunks (none: an empty index)."""
        manifest = {"embedding": {"model_id": emb_mod.model_id_of(embeddings)}}
        index = cls([], None, embeddings=embeddings, manifest=manifest, **kwargs)
        index.add_chunks(chunks)
        return index

    def add_chunks(self, chunks: Sequence[Chunk]) -> list[str]:
        """Embed and add chunks in memory; returns their ids in order.

        A chunk whose id is already in the index replaces that entry (its old text is no longer found); within
        one call, the last chunk with a given id wins.
        """
        if not chunks:
            return []
        latest = {c.id: c for c in chunks}
        fresh = list(latest.values())
        vectors = emb_mod.embed_texts(self.embeddings, [c.index_text(self.context_header) for c in fresh])
        if self.faiss_index is None:
            kind = choose_index_type(len(fresh)) if self._index_type == "auto" else self._index_type
            self.faiss_index = make_faiss_index(np.zeros((0, vectors.shape[1]), dtype=np.float32), kind)
            self.manifest.setdefault("embedding", {})["dimension"] = int(vectors.shape[1])
        self._check_dim(vectors.shape[1])
        self.delete([c.id for c in fresh if c.id in self._position])
        self.faiss_index.add(vectors)
        for c in fresh:
            self._position[c.id] = len(self.chunks)
            self.chunks.append(c)
        self._lexical = None
        return [c.id for c in chunks]

    def delete(self, ids: Iterable[str]) -> int:
        """Remove the chunks with these ids (unknown ids are ignored); returns how many were removed.

        The FAISS index is compacted at once (see the module docstring), so FAISS ids stay chunk positions.
        """
        drop = sorted({self._position[i] for i in ids if i in self._position})
        if not drop:
            return 0
        keep = np.ones(len(self.chunks), dtype=bool)
        keep[drop] = False
        if self.index_type == "flat":
            self.faiss_index.remove_ids(np.asarray(drop, dtype=np.int64))
        else:
            ef_search = self.faiss_index.hnsw.efSearch
            self.faiss_index = make_faiss_index(index_vectors(self.faiss_index)[keep], "hnsw")
            self.faiss_index.hnsw.efSearch = ef_search
        self.chunks = [c for c, kept in zip(self.chunks, keep, strict=True) if kept]
        self._position = {c.id: i for i, c in enumerate(self.chunks)}
        self._lexical = None
        return len(drop)

    # ---- properties ---------------------------------------------------------------------------------------
    @property
    def model_id(self) -> str:
        return str(self.manifest.get("embedding", {}).get("model_id", ""))

    @property
    def dimension(self) -> int:
        """Vector size (0 for an empty index that has not seen any embedding yet)."""
        return int(self.faiss_index.d) if self.faiss_index is not None else 0

    @property
    def index_type(self) -> str:
        if self.faiss_index is None:
            return self._index_type
        return "hnsw" if hasattr(self.faiss_index, "hnsw") else "flat"

    def __len__(self) -> int:
        return len(self.chunks)

    @property
    def embeddings(self) -> Any:
        """The embeddings object, created on first use and checked against the index's model id."""
        emb = self._embeddings
        if emb is None:
            emb = emb_mod.default_embeddings()
        elif callable(emb) and not hasattr(emb, "embed_query"):
            emb = emb()
        if self.model_id and emb_mod.model_id_of(emb) != self.model_id:
            where = self.path or "this index"
            raise IntegrityError(
                f"{where} was built with embeddings {self.model_id!r} "
                f"but {emb_mod.model_id_of(emb)!r} is in use",
                hint=rebuild_hint(self.path) if self.path else "rebuild the index with the same embeddings",
            )
        self._embeddings = emb
        return emb

    @property
    def lexical(self) -> LexicalIndex:
        lexical = self._lexical
        if lexical is None:
            # chains search from a thread pool: without the lock every thread would build its own BM25 index
            with self._lexical_lock:
                lexical = self._lexical
                if lexical is None:
                    texts = [c.index_text(self.context_header) for c in self.chunks]
                    lexical = self._lexical = LexicalIndex.build(texts, PortugueseTokenizer(self.stem))
        return lexical

    def vectors(self, positions: Sequence[int] | None = None) -> np.ndarray:
        if self.faiss_index is None:
            return np.zeros((0, 0), dtype=np.float32)
        if positions is None:
            return index_vectors(self.faiss_index)
        if not len(positions):
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.vstack([self.faiss_index.reconstruct(int(p)) for p in positions]).astype(np.float32)

    def _check_dim(self, dim: int) -> None:
        if self.faiss_index is not None and dim != self.dimension:
            raise IntegrityError(
                f"embeddings give {dim}-dimensional vectors but {self.path or 'the index'} holds {self.dimension}",
                hint=rebuild_hint(self.path) if self.path else "rebuild the index with the same embeddings",
            )

    # ---- documents and filters ----------------------------------------------------------------------------
    def chunk_document(self, position: int) -> Document:
        """The chunk at ``position`` as a plain LangChain document (its metadata, no search bookkeeping)."""
        chunk = self.chunks[position]
        return Document(page_content=chunk.text, metadata=chunk.document_metadata(), id=chunk.id)

    def get(self, chunk_id: str) -> Document | None:
        """The chunk with this id as a plain document, or ``None``."""
        pos = self._position.get(chunk_id)
        return None if pos is None else self.chunk_document(pos)

    def allowed(self, filter: MetadataFilter | None) -> np.ndarray | None:  # noqa: A002 - LangChain's name
        """Boolean mask over chunk positions of the chunks ``filter`` keeps (``None`` without a filter).

        A mapping keeps documents whose metadata has every key with an equal value; a callable receives each
        chunk as :meth:`chunk_document` gives it and keeps it when it returns true.
        """
        if filter is None:
            return None
        if isinstance(filter, Mapping):
            wanted = dict(filter)

            def keep(doc: Document) -> bool:
                return all(doc.metadata.get(key, _MISSING) == value for key, value in wanted.items())
        elif callable(filter):
            keep = filter
        else:
            raise ValidationError(
                "filter must be a dict of metadata values or a function of a Document, "
                f"got {type(filter).__name__}"
            )
        count = len(self.chunks)
        kept = (bool(keep(self.chunk_document(i))) for i in range(count))
        return np.fromiter(kept, dtype=bool, count=count)

    # ---- ranking ------------------------------------------------------------------------------------------
    def query_vector(self, query: str) -> np.ndarray:
        vec = emb_mod.embed_query(self.embeddings, query)
        self._check_dim(vec.shape[1])
        return vec

    def dense_ranking(
        self, query: str, n: int, vector: np.ndarray | None = None, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """``(position, cosine)`` of the ``n`` chunks nearest the query (or ``vector``) among ``allowed``."""
        n = min(n, len(self.chunks) if allowed is None else int(allowed.sum()))
        if n <= 0 or self.faiss_index is None:
            return []
        vec = self.query_vector(query) if vector is None else vector
        self._check_dim(vec.shape[1])
        import faiss

        hnsw = hasattr(self.faiss_index, "hnsw")
        if hnsw:
            self.faiss_index.hnsw.efSearch = max(self.faiss_index.hnsw.efSearch, n)
        params = None
        if allowed is not None:
            # FAISS skips the other ids itself; the selector must outlive the search
            selector = faiss.IDSelectorBatch(np.flatnonzero(allowed).astype(np.int64))
            if hnsw:
                params = faiss.SearchParametersHNSW(sel=selector, efSearch=self.faiss_index.hnsw.efSearch)
            else:
                params = faiss.SearchParameters(sel=selector)
        scores, ids = self.faiss_index.search(vec, n, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def bm25_ranking(self, query: str, n: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        return self.lexical.top(query, n, allowed)

    def hybrid_ranking(
        self, query: str, n: int, vector: np.ndarray | None = None, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Weighted reciprocal rank fusion: sum of ``w / (rrf_k + rank)`` over the dense and BM25 rankings."""
        pool = max(n, HYBRID_CANDIDATES)
        fused: dict[int, float] = {}
        w_dense, w_bm25 = self.rrf_weights
        rankings = []
        if w_dense > 0:
            rankings.append((w_dense, self.dense_ranking(query, pool, vector, allowed)))
        if w_bm25 > 0:
            rankings.append((w_bm25, self.bm25_ranking(query, pool, allowed)))
        for weight, ranking in rankings:
            for rank, (pos, _) in enumerate(ranking, start=1):
                fused[pos] = fused.get(pos, 0.0) + weight / (self.rrf_k + rank)
        ordered = sorted(fused.items(), key=lambda item: (-item[1], item[0]))
        return ordered[:n]

    def mmr_ranking(
        self, candidates: list[tuple[int, float]], k: int, lambda_mult: float
    ) -> list[tuple[int, float]]:
        """``k`` of the candidates, picked one at a time by maximal marginal relevance (each keeps its score).

        The next pick maximises ``lambda_mult * relevance - (1 - lambda_mult) * redundancy``. Relevance is the
        candidate's own score divided by the best one's, so the ranking that produced the candidates (BM25,
        fused or cosine) decides what is relevant and its best chunk always comes first; redundancy is the
        highest cosine similarity of the chunk's embedding to the chunks already picked. ``lambda_mult`` 1
        keeps the ranking's order, 0 maximises diversity. (LangChain's ``maximal_marginal_relevance`` measures
        relevance as cosine similarity to the query only, which would discard the lexical half of a hybrid
        ranking.)
        """
        n = min(k, len(candidates))
        if n <= 0:
            return []
        scores = np.asarray([score for _, score in candidates], dtype=np.float64)
        best = scores.max()
        relevance = scores / best if best > 0 else np.ones_like(scores)
        vecs = self.vectors([pos for pos, _ in candidates]).astype(np.float64)
        similarity = vecs @ vecs.T  # rows are unit vectors (or zero)
        picked = [int(np.argmax(relevance))]
        redundancy = similarity[picked[0]].copy()
        while len(picked) < n:
            marginal = lambda_mult * relevance - (1.0 - lambda_mult) * redundancy
            marginal[picked] = -np.inf
            chosen = int(np.argmax(marginal))
            picked.append(chosen)
            redundancy = np.maximum(redundancy, similarity[chosen])
        return [candidates[i] for i in picked]

    def ranking(
        self, query: str, n: int, mode: str = DEFAULT_MODE, allowed: np.ndarray | None = None, *,
        fetch_k: int = 20, lambda_mult: float = 0.5,
    ) -> list[tuple[int, float]]:
        """``(position, score)`` of the ``n`` best chunks for ``query`` in ``mode``, best first."""
        if mode == "dense":
            return self.dense_ranking(query, n, allowed=allowed)
        if mode == "bm25":
            return self.bm25_ranking(query, n, allowed)
        if mode == "hybrid":
            return self.hybrid_ranking(query, n, allowed=allowed)
        if mode == "mmr":
            candidates = self.hybrid_ranking(query, max(fetch_k, n), allowed=allowed)
            return self.mmr_ranking(candidates, n, lambda_mult)
        raise unknown("search mode", mode, MODES)

    def search(
        self,
        query: str,
        k: int = 4,
        mode: str = DEFAULT_MODE,
        *,
        mmr: bool = False,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: MetadataFilter | None = None,  # noqa: A002 - LangChain's name
    ) -> list[Document]:
        """The ``k`` best chunks for ``query``, among those ``filter`` keeps (see :meth:`allowed`).

        ``mode="mmr"`` re-ranks ``fetch_k`` hybrid candidates for diversity (see
        :mod:`promptkit.index.modes`); ``mmr=True`` does the same with the candidates of ``mode``. Each
        document's metadata has ``source``, ``title``, ``chunk``, ``id``, ``heading``, ``score`` (cosine for
        dense, BM25 for bm25, fused RRF for hybrid and mmr), ``rank`` and ``mode``; a document added with its
        own metadata keeps every key it was given, and gets these only where it did not set them. MMR results
        come in selection order, so their scores need not decrease.
        """
        if mode not in MODES:
            raise unknown("search mode", mode, MODES)
        if not isinstance(query, str) or not query.strip():
            raise ValidationError("the search query is empty", hint="pass a question or some keywords")
        if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
            raise ValidationError(f"k must be a positive number of chunks, got {k!r}")
        allowed = self.allowed(filter)
        if mmr and mode != "mmr":
            candidates = self.ranking(query, max(fetch_k, k), mode, allowed)
            return self._documents(self.mmr_ranking(candidates, k, lambda_mult), mode)
        ranking = self.ranking(query, k, mode, allowed, fetch_k=fetch_k, lambda_mult=lambda_mult)
        return self._documents(ranking, mode)

    def document(self, position: int, score: float, mode: str, rank: int) -> Document:
        """A search result: the chunk's metadata, ``score``, ``rank`` and ``mode`` (a caller's keys win)."""
        chunk = self.chunks[position]
        meta = {**chunk.metadata(), "score": float(score), "rank": rank, "mode": mode}
        meta.update(chunk.user_metadata or {})
        return Document(page_content=chunk.text, metadata=meta, id=chunk.id)

    def _documents(self, ranking: list[tuple[int, float]], mode: str) -> list[Document]:
        return [self.document(pos, score, mode, rank) for rank, (pos, score) in enumerate(ranking, start=1)]

    # ---- LangChain ----------------------------------------------------------------------------------------
    def as_retriever(self, mode: str = DEFAULT_MODE, k: int = 4, **kwargs: Any):
        """A LangChain ``BaseRetriever`` over this index (``mmr``, ``fetch_k``, ``lambda_mult``, ``filter``).

        For a LangChain ``VectorStore`` view, use :class:`~promptkit.index.langchain.CourseVectorStore`.
        """
        from promptkit.index.retriever import CourseRetriever

        return CourseRetriever(index=self, mode=mode, k=k, **kwargs)

    def __repr__(self) -> str:
        return (
            f"CourseIndex({len(self.chunks)} chunks, {self.index_type}, model={self.model_id!r}, path={self.path})"
        )
