"""Replay cache of model calls, in SQLite.

Each entry is keyed by the sha256 of the whole request: model id and revision, the fully rendered prompt, the
generation settings and the seed (the same idea as lm-evaluation-harness's ``CachingLM``). Values are JSON (never
pickle). The database runs in WAL mode with a busy timeout, so several processes can share one cache safely.

Modes:
    ``use``      read hits, generate and record misses (default)
    ``refresh``  ignore hits, generate everything and overwrite
    ``off``      no cache at all
    ``strict``   read hits, fail on any miss (CI replay)
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from promptkit.errors import CacheMissError, IntegrityError, ValidationError
from promptkit.fileio import canonical_json, sha256_bytes
from promptkit.sqlitedb import open_wal

MODES = ("use", "refresh", "off", "strict")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    created REAL NOT NULL DEFAULT (julianday('now'))
)
"""


def request_key(request: Mapping[str, Any]) -> str:
    """The cache key of a request mapping (model, revision, prompt, params, seed …)."""
    return sha256_bytes(canonical_json(request).encode("utf-8"))


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValidationError(f"unknown cache mode {mode!r}; expected one of: {', '.join(MODES)}")
    return mode


class ReplayCache:
    """A SQLite-backed map from request key to a JSON response."""

    def __init__(self, path: str | Path, mode: str = "use"):
        self.path = Path(path)
        self.mode = check_mode(mode)
        self.hits = 0
        self.misses = 0
        #: every key looked up or stored through this object (what a baseline needs to export)
        self.touched: set[str] = set()
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    # -- connection -------------------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            if not self.path.parent.is_dir():
                try:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise ValidationError(
                        f"cannot create the folder of replay cache {self.path} ({exc.strerror or exc})",
                        hint="set PROMPTKIT_HOME (or PROMPTKIT_CACHE) to a writable folder",
                    ) from None
            try:
                self._conn = open_wal(self.path, [_SCHEMA], timeout=60)
            except sqlite3.DatabaseError as exc:
                raise IntegrityError(
                    f"replay cache {self.path} is not a readable SQLite database ({exc})",
                    hint="move it aside or delete it; it will be re-recorded",
                ) from None
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> ReplayCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- access -----------------------------------------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        return self.mode != "off"

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """Return the stored responses for the keys that hit (empty in ``refresh``/``off`` mode)."""
        keys = list(keys)
        self.touched.update(keys)
        if self.mode in ("off", "refresh") or not keys:
            return {}
        found: dict[str, Any] = {}
        with self._lock:
            conn = self._connect()
            for start in range(0, len(keys), 500):
                part = keys[start : start + 500]
                marks = ",".join("?" * len(part))
                try:
                    rows = conn.execute(f"SELECT key, response FROM calls WHERE key IN ({marks})", part)
                    for key, response in rows:
                        found[key] = json.loads(response)
                except (sqlite3.DatabaseError, json.JSONDecodeError) as exc:
                    raise IntegrityError(
                        f"replay cache {self.path} is corrupted ({exc})",
                        hint="delete it or run with --cache refresh to re-record",
                    ) from None
        return found

    def require(self, missing: list[str], describe: str = "") -> None:
        """In strict mode, fail if any request was not found."""
        if self.mode == "strict" and missing:
            what = f" ({describe})" if describe else ""
            raise CacheMissError(
                f"strict replay: {len(missing)} model call(s) not in the cache {self.path}{what}",
                hint="a prompt, model, setting or dataset changed; re-record with --cache refresh "
                "(or `promptkit eval baseline SUITE`) and commit the cache",
            )

    def put_many(self, items: Iterable[tuple[str, str, Mapping[str, Any], Any]]) -> None:
        """Store ``(key, model, request, response)`` tuples in one transaction."""
        items = list(items)
        self.touched.update(item[0] for item in items)
        if self.mode in ("off", "strict"):
            return
        rows = [
            (key, model, canonical_json(request), json.dumps(response, ensure_ascii=False))
            for key, model, request, response in items
        ]
        if not rows:
            return
        with self._lock:
            conn = self._connect()
            with conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO calls (key, model, request, response) VALUES (?, ?, ?, ?)", rows
                )

    def export(self, keys: Iterable[str], dest: str | Path) -> int:
        """Copy the entries for ``keys`` into another cache file (used to ship baselines with their replays)."""
        wanted = list(dict.fromkeys(keys))
        with self._lock:
            conn = self._connect()
            rows = []
            for start in range(0, len(wanted), 500):
                part = wanted[start : start + 500]
                marks = ",".join("?" * len(part))
                rows += conn.execute(
                    f"SELECT key, model, request, response FROM calls WHERE key IN ({marks})", part
                ).fetchall()
        target = ReplayCache(dest, mode="use")
        with target:
            conn = target._connect()
            with conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO calls (key, model, request, response) VALUES (?, ?, ?, ?)", rows
                )
        return len(rows)

    def __len__(self) -> int:
        with self._lock:
            return self._connect().execute("SELECT COUNT(*) FROM calls").fetchone()[0]
