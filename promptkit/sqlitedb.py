"""One way to open the project's SQLite files (replay cache, query embeddings, tokenizer renders).

Each file runs in WAL mode with a busy timeout, so several processes can read and write it at once; callers turn
``OSError``/``sqlite3.DatabaseError`` into their own clear errors.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path


def open_wal(path: Path, schema: Iterable[str], *, timeout: float = 60) -> sqlite3.Connection:
    """Create the folder if needed, connect, switch to WAL and run the ``CREATE … IF NOT EXISTS`` statements."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=timeout, check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        for statement in schema:
            conn.execute(statement)
        conn.commit()
    except BaseException:
        conn.close()
        raise
    return conn
