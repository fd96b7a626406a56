"""Helpers shared by the index and RAG tests (no tests here): small corpora, and indexes built over them with
fake embeddings."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from promptkit.testing import FakeEmbeddings


def write_corpus(folder: Path, docs: Mapping[str, str]) -> Path:
    """Create ``folder`` with one UTF-8 file per ``{file name: text}`` entry; returns the folder."""
    folder.mkdir()
    for name, text in docs.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def fake_index(root: Path, docs: Mapping[str, str]) -> Any:
    """``docs`` written to ``root/corpus``, indexed into ``root/idx`` with :class:`FakeEmbeddings`, loaded."""
    from promptkit.index import build_index, load_index

    emb = FakeEmbeddings()
    build_index(write_corpus(root / "corpus", docs), root / "idx", embeddings=emb, show_progress=False)
    return load_index(root / "idx", embeddings=emb)
