"""Cutting documents into chunks measured in tokens of the embedding model's tokenizer.

Markdown goes through ``MarkdownHeaderTextSplitter`` first, so a chunk never straddles two sections and carries
its heading; each section (or PDF page, or text file) is then cut by a ``RecursiveCharacterTextSplitter`` sized in
tokens. With the default embeddings the length function is the model's own WordPiece tokenizer
(``from_huggingface_tokenizer``); embeddings without a tokenizer (the test fakes) count words instead, and the
tokenizer used is recorded in the index manifest so a change forces a full rebuild.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from promptkit.index.loaders import LoadedDocument

HEADERS = [("#", "h1"), ("##", "h2"), ("###", "h3")]
_WORDS = re.compile(r"\w+|[^\w\s]", re.UNICODE)


@dataclass(frozen=True)
class SplitterSettings:
    """Chunking parameters; all of them are stored in the manifest (changing any forces a full rebuild)."""

    chunk_tokens: int = 200
    overlap_tokens: int = 30
    tokenizer: str = "words"  # "words" or "hf:<model id>"
    context_header: bool = True  # prepend "title — heading" to the text that gets embedded and BM25-indexed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Chunk:
    """One retrievable piece of a corpus file, or one document added through the vector store.

    ``text`` is what a chain shows the model. ``user_metadata`` is the metadata a caller gave a document added
    through :class:`~promptkit.index.langchain.CourseVectorStore`, kept exactly as given (``None`` for corpus
    chunks, which are described by ``source``, ``title``, ``chunk``, ``heading``, ``topic`` and ``page``).
    """

    id: str
    source: str
    title: str
    chunk: int
    text: str
    heading: str = ""
    topic: str | None = None
    page: int | None = None
    user_metadata: dict[str, Any] | None = None

    def index_text(self, context_header: bool = True) -> str:
        """The text that is embedded and BM25-indexed (title and heading first, when enabled)."""
        if not context_header:
            return self.text
        head = " — ".join(p for p in (self.title, self.heading) if p)
        return f"{head}\n{self.text}" if head else self.text

    def metadata(self) -> dict[str, Any]:
        """What the index knows of the chunk: id, source, title, position, heading (topic and page if set)."""
        meta: dict[str, Any] = {
            "id": self.id,
            "source": self.source,
            "title": self.title,
            "chunk": self.chunk,
            "heading": self.heading,
        }
        if self.topic is not None:
            meta["topic"] = self.topic
        if self.page is not None:
            meta["page"] = self.page
        return meta

    def document_metadata(self) -> dict[str, Any]:
        """The metadata of this chunk as a LangChain ``Document``: the caller's own, else :meth:`metadata`."""
        if self.user_metadata is not None:
            return dict(self.user_metadata)
        return self.metadata()

    def to_json(self) -> dict[str, Any]:
        data = self.metadata()
        data["text"] = self.text
        if self.user_metadata is not None:
            data["user_metadata"] = self.user_metadata
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Chunk:
        user_metadata = data.get("user_metadata")
        if user_metadata is not None and not isinstance(user_metadata, dict):
            raise TypeError(f"chunk {data.get('id')!r}: user_metadata should be an object")
        return cls(
            id=str(data["id"]),
            source=str(data["source"]),
            title=str(data.get("title", "")),
            chunk=int(data["chunk"]),
            text=str(data["text"]),
            heading=str(data.get("heading", "")),
            topic=data.get("topic"),
            page=data.get("page"),
            user_metadata=user_metadata,
        )


def word_count(text: str) -> int:
    """Length function for embeddings without a tokenizer: words and punctuation marks."""
    return len(_WORDS.findall(text))


def chunk_id(source: str, position: int, text: str) -> str:
    """Stable id: the same file position with the same text gets the same id in every build."""
    return hashlib.sha256(f"{source}\x00{position}\x00{text}".encode()).hexdigest()[:16]


def make_text_splitter(settings: SplitterSettings, hf_tokenizer: Any | None = None):
    """The token-sized ``RecursiveCharacterTextSplitter`` for these settings."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    separators = ["\n\n", "\n", ". ", "; ", ", ", " ", ""]
    if hf_tokenizer is not None:
        return RecursiveCharacterTextSplitter.from_huggingface_tokenizer(
            hf_tokenizer,
            chunk_size=settings.chunk_tokens,
            chunk_overlap=settings.overlap_tokens,
            separators=separators,
            keep_separator="end",
        )
    return RecursiveCharacterTextSplitter(
        chunk_size=settings.chunk_tokens,
        chunk_overlap=settings.overlap_tokens,
        length_function=word_count,
        separators=separators,
        keep_separator="end",
    )


def _sections(doc: LoadedDocument) -> list[tuple[str, int | None, str]]:
    """``(heading, page, text)`` pieces of a document before token splitting."""
    if doc.kind != "markdown":
        return [("", page, text) for page, text in doc.pages]
    from langchain_text_splitters import MarkdownHeaderTextSplitter

    splitter = MarkdownHeaderTextSplitter(headers_to_split_on=HEADERS, strip_headers=True)
    out: list[tuple[str, int | None, str]] = []
    for page, text in doc.pages:
        for part in splitter.split_text(text):
            heading = " > ".join(str(part.metadata[key]) for _, key in HEADERS if part.metadata.get(key))
            if part.page_content.strip():
                out.append((heading, page, part.page_content))
    return out


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence "sequence longer than the model maximum": measuring a long section before cutting it is fine."""
    import sys

    if "transformers" not in sys.modules:
        yield
        return
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)


def split_document(
    doc: LoadedDocument, settings: SplitterSettings, splitter: Any | None = None, hf_tokenizer: Any | None = None
) -> list[Chunk]:
    """Chunks of one document, numbered from 0 in reading order."""
    splitter = splitter or make_text_splitter(settings, hf_tokenizer)
    chunks: list[Chunk] = []
    with _quiet_transformers():
        pieces = [(h, p, piece) for h, p, text in _sections(doc) for piece in splitter.split_text(text)]
    for heading, page, piece in pieces:
        piece = piece.strip()
        if not piece:
            continue
        pos = len(chunks)
        chunks.append(
            Chunk(
                id=chunk_id(doc.source, pos, piece),
                source=doc.source,
                title=doc.title,
                chunk=pos,
                text=piece,
                heading=heading,
                topic=doc.topic,
                page=page,
            )
        )
    return chunks


LengthFunction = Callable[[str], int]
