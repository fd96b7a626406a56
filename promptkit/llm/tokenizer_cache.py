"""A persistent cache of what a replayed run asks the tokenizer: token counts and rendered chat prompts.

A replayed evaluation needs the model's tokenizer only to fit retrieved documents into the context window (token
counts) and to render each conversation with the chat template (the rendered prompt is the replay-cache key).
Both are deterministic, so they are kept in SQLite under ``PROMPTKIT_HOME/tokenizer-cache.sqlite`` and a re-run
needs neither transformers nor the 11 MB ``tokenizer.json`` parse. Counts are keyed by a fingerprint of the
tokenizer file (path, size, modification time) and the sha256 of the text; renders by the sha256 of the template,
the conversation and the generation-prompt flag. Every rendered prompt in the cache was produced by transformers'
own ``apply_chat_template``. Values are plain integers and text; a broken or read-only file only means the
tokenizer is used.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from promptkit.fileio import canonical_json, sha256_bytes
from promptkit.sqlitedb import open_wal

FILENAME = "tokenizer-cache.sqlite"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS counts (tokenizer TEXT NOT NULL, key TEXT NOT NULL, n INTEGER NOT NULL, "
    "PRIMARY KEY (tokenizer, key))",
    "CREATE TABLE IF NOT EXISTS renders (key TEXT PRIMARY KEY, text TEXT NOT NULL)",
)


def fingerprint(folder: str | Path) -> str | None:
    """Identity of a model folder's tokenizer file, or ``None`` when it has no ``tokenizer.json``."""
    path = Path(folder) / "tokenizer.json"
    try:
        st = path.stat()
    except OSError:
        return None
    return f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}"


def render_key(template: str, chat: list[dict[str, Any]], add_generation_prompt: bool,
               tools: list[dict[str, Any]] | None = None) -> str:
    key: dict[str, Any] = {"template": sha256_bytes(template.encode("utf-8")), "chat": chat,
                           "generation_prompt": bool(add_generation_prompt)}
    if tools:  # only then: the keys of renders without tools stay as they were
        key["tools"] = tools
    return sha256_bytes(canonical_json(key).encode("utf-8"))


class TokenizerCache:
    """Counts and renders for one tokenizer, shared between processes (SQLite in WAL mode)."""

    def __init__(self, path: str | Path, tokenizer_id: str):
        self.path = Path(path)
        self.tokenizer_id = tokenizer_id
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._broken = False

    def _connect(self) -> sqlite3.Connection | None:
        if self._conn is None and not self._broken:
            try:
                self._conn = open_wal(self.path, _SCHEMA, timeout=30)
            except (sqlite3.Error, OSError):
                self._broken = True
        return self._conn

    def _get(self, sql: str, args: tuple) -> Any:
        with self._lock:
            conn = self._connect()
            if conn is None:
                return None
            try:
                row = conn.execute(sql, args).fetchone()
            except sqlite3.Error:
                self._broken = True
                return None
        return row[0] if row is not None else None

    def _put(self, sql: str, args: tuple) -> None:
        with self._lock:
            conn = self._connect()
            if conn is None:
                return
            try:
                with conn:
                    conn.execute(sql, args)
            except sqlite3.Error:
                self._broken = True

    def get_count(self, text: str) -> int | None:
        value = self._get("SELECT n FROM counts WHERE tokenizer = ? AND key = ?",
                          (self.tokenizer_id, sha256_bytes(text.encode("utf-8"))))
        return None if value is None else int(value)

    def put_count(self, text: str, count: int) -> None:
        self._put("INSERT OR REPLACE INTO counts (tokenizer, key, n) VALUES (?, ?, ?)",
                  (self.tokenizer_id, sha256_bytes(text.encode("utf-8")), int(count)))

    def get_render(self, key: str) -> str | None:
        value = self._get("SELECT text FROM renders WHERE key = ?", (key,))
        return None if value is None else str(value)

    def put_render(self, key: str, text: str) -> None:
        self._put("INSERT OR REPLACE INTO renders (key, text) VALUES (?, ?)", (key, text))


_STORES: dict[str, TokenizerCache | None] = {}
_STORES_LOCK = threading.Lock()


def store_for(folder: str) -> TokenizerCache | None:
    """The cache for a model folder (memoised per process), or ``None`` without a ``tokenizer.json``."""
    with _STORES_LOCK:
        if folder not in _STORES:
            ident = fingerprint(folder)
            if ident is None:
                _STORES[folder] = None
            else:
                from promptkit import paths

                _STORES[folder] = TokenizerCache(paths.home() / FILENAME, ident)
        return _STORES[folder]
