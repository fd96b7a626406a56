"""Replay cache of model calls, in SQLite, usable around any LangChain chat model.

:class:`ReplayCache` is a LangChain ``BaseCache``: give it to any chat model (``ChatOpenAI(cache=replay)``,
``load_llm(cache=replay)``) or make it LangChain's global cache (``set_llm_cache(replay)``), and every call is
recorded, replayed or refused (strict) with LangChain's own cache semantics, callbacks and config. A chat call is
keyed by the sha256 of the whole request as LangChain describes it: the serialized messages, and the model's
identity and every generation setting (``llm_string``). promptkit's own requests that are not chat calls
(log-probabilities of a continuation) are keyed the same way, by the sha256 of their whole request mapping (the
idea of lm-evaluation-harness's ``CachingLM``). Values are JSON (never pickle): the message's text, tool calls,
usage and response metadata. The database runs in WAL mode with a busy timeout, so several processes can share
one cache safely.

Modes:
    ``use``      read hits, generate and record misses (default)
    ``refresh``  ignore hits, generate everything and overwrite
    ``off``      no cache at all
    ``strict``   read hits, fail on any miss (CI replay)
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from langchain_core.caches import BaseCache

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


def chat_key(prompt: str, llm_string: str) -> str:
    """The cache key of one LangChain chat call (``prompt``: the serialized messages; ``llm_string``: the model's
    identity and generation settings, as ``BaseChatModel._get_llm_string`` gives them)."""
    return request_key({"kind": "chat", "prompt": prompt, "llm": llm_string})


_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@'\"]+(?::[^/\s@'\"]*)?@")


def without_credentials(text: str) -> str:
    """``text`` with the ``user:password@`` part of every URL removed (what the cache stores to describe a call).

    >>> without_credentials("http://bob:secret@127.0.0.1:8000/v1")
    'http://127.0.0.1:8000/v1'
    """
    return _CREDENTIALS.sub(r"\1", text)


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def message_record(message: Any) -> dict[str, Any]:
    """What a cache entry keeps of an ``AIMessage``: plain JSON, rebuilt by :func:`message_from_record`."""
    record: dict[str, Any] = {"text": message.content if isinstance(message.content, str) else "",
                              "content": _plain(message.content)}
    for name in ("tool_calls", "usage_metadata", "response_metadata", "additional_kwargs"):
        value = getattr(message, name, None)
        if value:
            record[name] = _plain(value)
    return record


def message_from_record(record: dict[str, Any]) -> Any:
    from langchain_core.messages import AIMessage

    fields = {name: record[name] for name in ("tool_calls", "usage_metadata", "response_metadata",
                                              "additional_kwargs") if record.get(name)}
    return AIMessage(content=record.get("content", record.get("text", "")), **fields)


def generations_record(generations: Iterable[Any]) -> dict[str, Any]:
    """Plain JSON for a call's generations (chat messages or completion texts, with their generation info)."""
    out = []
    for generation in generations:
        item: dict[str, Any] = {"text": generation.text}
        if generation.generation_info:
            item["generation_info"] = _plain(generation.generation_info)
        message = getattr(generation, "message", None)
        if message is not None:
            item["message"] = message_record(message)
        out.append(item)
    return {"generations": out}


def generations_from_record(record: dict[str, Any]) -> list[Any]:
    from langchain_core.outputs import ChatGeneration, Generation

    out: list[Any] = []
    for item in record.get("generations", []):
        info = item.get("generation_info")
        if "message" in item:
            out.append(ChatGeneration(message=message_from_record(item["message"]), generation_info=info))
        else:
            out.append(Generation(text=item.get("text", ""), generation_info=info))
    return out


@contextlib.contextmanager
def global_cache(cache: BaseCache | None) -> Iterator[BaseCache | None]:
    """Make ``cache`` LangChain's global LLM cache for the duration of a ``with`` block (then restore the previous
    one): every chat model without a cache of its own answers through it."""
    from langchain_core.globals import get_llm_cache, set_llm_cache

    previous = get_llm_cache()
    set_llm_cache(cache)
    try:
        yield cache
    finally:
        set_llm_cache(previous)


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValidationError(f"unknown cache mode {mode!r}; expected one of: {', '.join(MODES)}")
    return mode


class ReplayCache(BaseCache):
    """A SQLite-backed map from request key to a JSON response, and a LangChain ``BaseCache``.

    ``hits``/``misses`` count the chat calls looked up through :meth:`lookup` (what LangChain asks) and the
    promptkit requests counted with :meth:`count`.
    """

    def __init__(self, path: str | Path, mode: str = "use"):
        self.path = Path(path)
        self.mode = check_mode(mode)
        self.hits = 0
        self.misses = 0
        #: every key looked up or stored through this object (what a baseline needs to export)
        self.touched: set[str] = set()
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        # calls answered (and stored) just now for a pending LangChain call: its lookup takes them, as a miss
        self._pending: dict[str, dict[str, Any]] = {}

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

    def count(self, hits: int, misses: int) -> None:
        with self._lock:
            self.hits += hits
            self.misses += misses

    # -- LangChain's BaseCache --------------------------------------------------------------------------------
    def lookup(self, prompt: str, llm_string: str) -> list[Any] | None:
        """The cached generations of one chat call, or ``None``; in strict mode a miss raises
        :class:`~promptkit.errors.CacheMissError`."""
        key = chat_key(prompt, llm_string)
        with self._lock:
            pending = self._pending.pop(key, None)
        if pending is not None:
            self.count(0, 1)
            return generations_from_record(pending)
        found = self.get_many([key])
        if key not in found:
            self.count(0, 1)
            self.require([key], describe=_describe(llm_string))
            return None
        self.count(1, 0)
        return generations_from_record(found[key])

    def update(self, prompt: str, llm_string: str, return_val: Any) -> None:
        """Record a call's generations."""
        key = chat_key(prompt, llm_string)
        request = {"kind": "chat", "prompt": prompt, "llm": without_credentials(llm_string)}
        self.put_many([(key, _describe(llm_string), request, generations_record(return_val or []))])

    def record(self, prompt: str, llm_string: str, message: Any) -> str | None:
        """Store a chat call answered ahead of its LangChain call (a batch generated at once): stored now, so a
        crash keeps it, and handed to that call's :meth:`lookup`, which counts it as the miss it was. Returns the
        key to :meth:`discard` if the call never comes; ``None`` when this cache keeps nothing (``off``,
        ``strict``)."""
        if self.mode not in ("use", "refresh"):
            return None
        from langchain_core.outputs import ChatGeneration

        generations = [ChatGeneration(message=message)]
        self.update(prompt, llm_string, generations)
        key = chat_key(prompt, llm_string)
        with self._lock:
            self._pending[key] = generations_record(generations)
        return key

    def discard(self, keys: Iterable[str]) -> None:
        """Forget pending answers whose calls did not come (they stay stored)."""
        with self._lock:
            for key in keys:
                self._pending.pop(key, None)

    def clear(self, **kwargs: Any) -> None:
        """Delete every recorded call."""
        with self._lock:
            conn = self._connect()
            with conn:
                conn.execute("DELETE FROM calls")

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


def _describe(llm_string: str) -> str:
    """A short, credential-free name of the model an ``llm_string`` describes (the ``model`` column)."""
    for pattern in (r"'model(?:_name|_id)?', '([^']+)'", r'"model(?:_name|_id)?": "([^"]+)"'):
        match = re.search(pattern, llm_string)
        if match:
            return without_credentials(match.group(1))
    return "chat model"
