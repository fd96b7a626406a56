"""Reading a corpus folder: Markdown (with YAML front matter), plain text and PDF.

Every problem with a single file becomes a warning that names the file, and the file is skipped; the other
files are still indexed. Rules:

* empty files (or only front matter / whitespace) are skipped;
* files with NUL bytes in their first 8 KiB are treated as binary and skipped;
* text that is not valid UTF-8 is decoded as Windows-1252 (falling back to Latin-1, which accepts every byte)
  and indexed, with a warning saying which encoding was used: legacy course notes are usually one of those;
* unreadable files (permissions, I/O errors) and PDFs that fail to parse or hold no extractable text are skipped;
* other file types and hidden files are ignored (unsupported types get a warning).

A corpus that yields no document at all raises :class:`~promptkit.errors.ValidationError`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptkit.errors import NotFoundError, ValidationError
from promptkit.fileio import sha256_bytes

log = logging.getLogger("promptkit.index")

MARKDOWN_SUFFIXES = (".md", ".markdown")
TEXT_SUFFIXES = (".txt", ".text")
PDF_SUFFIXES = (".pdf",)
SUPPORTED_SUFFIXES = MARKDOWN_SUFFIXES + TEXT_SUFFIXES + PDF_SUFFIXES

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)


@dataclass
class SourceFile:
    """A corpus file found on disk, with the hash of its bytes (what incremental rebuilds compare)."""

    path: Path
    source: str  # display path, e.g. "corpus/04-avaliacao-e-benchmarks.md"
    sha256: str
    size: int
    data: bytes = field(repr=False)

    @property
    def kind(self) -> str:
        suffix = self.path.suffix.lower()
        if suffix in MARKDOWN_SUFFIXES:
            return "markdown"
        if suffix in PDF_SUFFIXES:
            return "pdf"
        return "text"


@dataclass
class LoadedDocument:
    """The text of one corpus file, ready for splitting.

    ``pages`` holds ``(page_number, text)`` pairs for PDFs and one ``(None, text)`` pair otherwise.
    """

    file: SourceFile
    title: str
    topic: str | None
    pages: list[tuple[int | None, str]]
    encoding: str = "utf-8"
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def source(self) -> str:
        return self.file.source

    @property
    def kind(self) -> str:
        return self.file.kind


def _humanise(stem: str) -> str:
    text = re.sub(r"^\d+[-_ ]+", "", stem).replace("-", " ").replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else stem


def scan_corpus(corpus_dir: str | Path, warnings: list[str]) -> list[SourceFile]:
    """List and read the supported files under ``corpus_dir`` (recursively, sorted, hidden files ignored)."""
    root = Path(corpus_dir).expanduser()
    if not root.is_dir():
        raise NotFoundError(
            f"corpus folder {root} does not exist", hint="pass --corpus DIR with Markdown, text or PDF files"
        )
    files: list[SourceFile] = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or path.is_dir():
            continue
        source = f"{root.name}/{rel.as_posix()}"
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            warnings.append(f"{source}: skipped, unsupported file type {path.suffix or '(none)'!r}")
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            warnings.append(f"{source}: skipped, cannot read it ({exc.strerror or exc})")
            continue
        files.append(SourceFile(path=path, source=source, sha256=sha256_bytes(data), size=len(data), data=data))
    return files


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode bytes as UTF-8 (BOM allowed), else Windows-1252, else Latin-1; return ``(text, encoding)``."""
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def split_front_matter(text: str, source: str, warnings: list[str]) -> tuple[dict[str, Any], str]:
    """Separate a leading ``---`` YAML block (parsed with ``yaml.safe_load``) from the body."""
    import yaml

    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    body = text[match.end() :]
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f" (line {line + 2})" if line is not None else ""
        warnings.append(f"{source}: front matter is not valid YAML{where}; indexed without title/topic")
        return {}, body
    if meta is None:
        return {}, body
    if not isinstance(meta, dict):
        warnings.append(f"{source}: front matter is not a mapping; indexed without title/topic")
        return {}, body
    return meta, body


def _load_pdf(file: SourceFile, warnings: list[str]) -> LoadedDocument | None:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(file.data))
        if reader.is_encrypted:
            try:
                reader.decrypt("")
            except Exception:  # noqa: BLE001 - any failure means we cannot read it
                warnings.append(f"{file.source}: skipped, the PDF is encrypted")
                return None
        pages = [(n, (page.extract_text() or "").strip()) for n, page in enumerate(reader.pages, start=1)]
        info = reader.metadata or {}
        raw_title = info.get("/Title") if hasattr(info, "get") else None
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        warnings.append(f"{file.source}: skipped, not a readable PDF ({type(exc).__name__}: {exc})")
        return None
    except Exception as exc:  # noqa: BLE001 - a malformed PDF can make the parser raise anything
        first = str(exc).splitlines()[0] if str(exc) else ""
        warnings.append(f"{file.source}: skipped, the PDF parser failed on it ({type(exc).__name__}: {first})")
        return None
    pages = [(n, t) for n, t in pages if t]
    if not pages:
        warnings.append(f"{file.source}: skipped, the PDF has no extractable text (a scanned document?)")
        return None
    title = str(raw_title).strip() if raw_title else _humanise(file.path.stem)
    return LoadedDocument(file=file, title=title, topic=None, pages=pages)


def load_file(file: SourceFile, warnings: list[str]) -> LoadedDocument | None:
    """Turn one scanned file into a document, or append a warning naming it and return None."""
    if not file.data.strip():
        warnings.append(f"{file.source}: skipped, the file is empty")
        return None
    if file.kind == "pdf":
        return _load_pdf(file, warnings)
    if b"\x00" in file.data[:8192]:
        warnings.append(f"{file.source}: skipped, looks like a binary file, not {file.kind} text")
        return None
    text, encoding = decode_text(file.data)
    if encoding != "utf-8":
        warnings.append(
            f"{file.source}: not valid UTF-8; decoded as {encoding} (save it as UTF-8 to silence this)"
        )
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    meta: dict[str, Any] = {}
    if file.kind == "markdown":
        meta, text = split_front_matter(text, file.source, warnings)
    if not text.strip():
        warnings.append(f"{file.source}: skipped, no text after the front matter")
        return None
    title = meta.get("title")
    topic = meta.get("topic")
    return LoadedDocument(
        file=file,
        title=str(title).strip() if title else _humanise(file.path.stem),
        topic=str(topic) if topic is not None else None,
        pages=[(None, text)],
        encoding=encoding,
        meta={k: v for k, v in meta.items() if isinstance(v, str | int | float | bool)},
    )


def load_corpus(corpus_dir: str | Path, warnings: list[str] | None = None) -> list[LoadedDocument]:
    """Read every supported file under ``corpus_dir``; raise if nothing indexable is left."""
    notes = warnings if warnings is not None else []
    docs = [d for f in scan_corpus(corpus_dir, notes) if (d := load_file(f, notes)) is not None]
    for note in notes:
        log.warning(note)
    if not docs:
        raise ValidationError(
            f"corpus folder {corpus_dir} has no indexable document"
            + (f" ({len(notes)} file(s) skipped: {'; '.join(notes[:3])})" if notes else ""),
            hint="add Markdown (.md), text (.txt) or PDF files with some text",
        )
    return docs
