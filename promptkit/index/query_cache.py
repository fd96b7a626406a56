"""A persistent cache of query embeddings, so re-running the same questions never loads the embedding model.

Vectors are stored in SQLite under ``PROMPTKIT_HOME/query-embeddings.sqlite`` as raw little-endian float32 bytes
(never pickle), keyed by the embedding model's id and the sha256 of the query text. A replayed RAG evaluation
therefore needs neither sentence-transformers nor torch: :class:`CachedQueryEmbeddings` loads the real model
only on the first query it has not seen.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from promptkit.errors import IntegrityError
from promptkit.fileio import sha256_bytes
from promptkit.sqlitedb import open_wal

FILENAME = "query-embeddings.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    model TEXT NOT NULL,
    key TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model, key)
)
"""


def default_path() -> Path:
    from promptkit import paths

    return paths.home() / FILENAME


def text_key(text: str) -> str:
    return sha256_bytes(text.encode("utf-8"))


class QueryEmbeddingCache:
    """SQLite map from (model id, query text) to a float32 vector; safe to share between processes (WAL)."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_path()
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                self._conn = open_wal(self.path, [_SCHEMA], timeout=60)
            except sqlite3.DatabaseError as exc:
                raise IntegrityError(
                    f"query-embedding cache {self.path} is not a readable SQLite database ({exc})",
                    hint="delete it; query embeddings are recomputed and stored again",
                ) from None
        return self._conn

    def get(self, model: str, text: str) -> np.ndarray | None:
        """The stored vector for ``text`` under ``model``, or ``None``."""
        with self._lock:
            try:
                row = self._connect().execute(
                    "SELECT dim, vector FROM vectors WHERE model = ? AND key = ?", (model, text_key(text))
                ).fetchone()
            except sqlite3.DatabaseError as exc:
                raise IntegrityError(f"query-embedding cache {self.path} is corrupted ({exc})",
                                     hint="delete it; query embeddings are recomputed") from None
        if row is None:
            return None
        dim, blob = row
        if len(blob) != 4 * int(dim):  # a damaged row: treat as a miss, it is overwritten
            return None
        return np.frombuffer(blob, dtype="<f4").copy()

    def put(self, model: str, text: str, vector: Any) -> None:
        vec = np.asarray(vector, dtype="<f4").reshape(-1)
        with self._lock:
            conn = self._connect()
            with conn:
                conn.execute(
                    "INSERT OR REPLACE INTO vectors (model, key, dim, vector) VALUES (?, ?, ?, ?)",
                    (model, text_key(text), int(vec.shape[0]), vec.tobytes()),
                )

    def __len__(self) -> int:
        with self._lock:
            return int(self._connect().execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class CachedQueryEmbeddings(Embeddings):
    """LangChain ``Embeddings`` that answer ``embed_query`` from the cache and load the real model lazily.

    ``factory`` builds the real embeddings (called at most once, on the first cache miss or document batch);
    ``model_id`` names them without loading (what the index checks); ``variant`` distinguishes settings that
    change the vectors (e.g. normalisation) within one model id. ``cache_documents`` also answers
    ``embed_documents`` text by text from the cache (under their own key): meant for small, fixed sets such as a
    few-shot pool, not for index builds.
    """

    def __init__(self, factory: Callable[[], Any], model_id: str, *, cache: QueryEmbeddingCache | None = None,
                 variant: str = "", cache_documents: bool = False):
        self._factory = factory
        self.model_id = model_id
        self.cache = cache if cache is not None else QueryEmbeddingCache()
        self._key = f"{model_id}|{variant}" if variant else model_id
        self.cache_documents = cache_documents
        self._inner: Any = None
        self._lock = threading.Lock()
        self.loads = 0
        self.hits = 0
        self.misses = 0

    @property
    def loaded(self) -> bool:
        return self._inner is not None

    @property
    def inner(self) -> Any:
        """The real embeddings (loaded on first use)."""
        if self._inner is None:
            with self._lock:
                if self._inner is None:
                    self._inner = self._factory()
                    self.loads += 1
        return self._inner

    def _lookup(self, key: str, text: str) -> list[float] | None:
        try:
            found = self.cache.get(key, text)
        except IntegrityError:
            return None  # a broken cache never stops a query: embed it
        return None if found is None else [float(v) for v in found]

    def _remember(self, key: str, text: str, vector: Any) -> list[float]:
        try:
            self.cache.put(key, text, vector)
        except (sqlite3.Error, OSError, IntegrityError):
            pass  # read-only or broken cache: the answer is still right, only not remembered
        return [float(v) for v in np.asarray(vector, dtype="<f4")]

    def embed_query(self, text: str) -> list[float]:
        found = self._lookup(self._key, text)
        if found is not None:
            self.hits += 1
            return found
        self.misses += 1
        return self._remember(self._key, text, self.inner.embed_query(text))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not self.cache_documents:
            return self.inner.embed_documents(texts)
        key = f"{self._key}|documents"
        out = [self._lookup(key, text) for text in texts]
        missing = [i for i, v in enumerate(out) if v is None]
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        if missing:
            vectors = self.inner.embed_documents([texts[i] for i in missing])
            for i, vector in zip(missing, vectors, strict=True):
                out[i] = self._remember(key, texts[i], vector)
        return [v for v in out if v is not None]
