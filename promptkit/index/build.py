"""Building, incrementally rebuilding, loading and ensuring the course index."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from promptkit import embeddings as emb_mod
from promptkit import paths
from promptkit.errors import IntegrityError, NotFoundError, PromptkitError, ValidationError
from promptkit.index.course_index import CourseIndex
from promptkit.index.loaders import load_file, scan_corpus
from promptkit.index.splitting import Chunk, SplitterSettings, make_text_splitter, split_document
from promptkit.index.store import (
    FLAT_MAX_CHUNKS,
    HNSW_EF_CONSTRUCTION,
    HNSW_EF_SEARCH,
    HNSW_M,
    MANIFEST,
    StoredIndex,
    build_lock,
    choose_index_type,
    index_vectors,
    make_faiss_index,
    read_index,
    read_manifest,
    rebuild_hint,
    write_index,
)

log = logging.getLogger("promptkit.index")

DEFAULT_CHUNK_TOKENS = 200
DEFAULT_OVERLAP_TOKENS = 30


@dataclass
class BuildReport:
    """What a build did. ``chunks_embedded`` counts only new work; reused vectors are ``chunks_reused``."""

    out_dir: Path
    corpus_dir: Path
    model_id: str
    index_type: str
    dimension: int
    files_indexed: int = 0
    files_added: int = 0
    files_changed: int = 0
    files_unchanged: int = 0
    files_removed: int = 0
    files_skipped: int = 0
    chunks_total: int = 0
    chunks_embedded: int = 0
    chunks_reused: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def chunks_per_second(self) -> float:
        return self.chunks_embedded / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        return (
            f"indexed {self.files_indexed} file(s) into {self.chunks_total} chunks at {self.out_dir}\n"
            f"  files: {self.files_added} added, {self.files_changed} changed, {self.files_unchanged} unchanged, "
            f"{self.files_removed} removed, {self.files_skipped} skipped\n"
            f"  chunks: {self.chunks_embedded} embedded, {self.chunks_reused} reused; "
            f"{self.index_type} index, {self.dimension} dims, embeddings {self.model_id!r}; {self.seconds:.1f} s"
        )


def _previous(out_dir: Path, model_id: str, settings: SplitterSettings, notes: list[str]) -> dict[str, Any]:
    """Reusable files of the index already in ``out_dir``: source -> (sha256, chunks, vectors)."""
    if not (out_dir / MANIFEST).exists():
        return {}
    try:
        stored = read_index(out_dir)
    except PromptkitError as exc:
        notes.append(f"previous index not reused ({exc.message}); every file is embedded again")
        return {}
    if stored.model_id != model_id:
        notes.append(f"embeddings changed ({stored.model_id!r} -> {model_id!r}); every file is embedded again")
        return {}
    if stored.manifest.get("splitter") != settings.to_dict():
        notes.append("splitter settings changed; every file is split and embedded again")
        return {}
    vectors = index_vectors(stored.faiss_index)
    reuse: dict[str, Any] = {}
    for entry in stored.manifest.get("files", []):
        start, count = int(entry["first"]), int(entry["count"])
        span = slice(start, start + count)
        reuse[entry["source"]] = (entry["sha256"], stored.chunks[span], vectors[span])
    return reuse


def build_index(
    corpus_dir: str | os.PathLike[str] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    *,
    embeddings: Any | None = None,
    show_progress: bool = True,
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
    overlap_tokens: int = DEFAULT_OVERLAP_TOKENS,
    context_header: bool = True,
    index_type: str = "auto",
    flat_max_chunks: int = FLAT_MAX_CHUNKS,
) -> BuildReport:
    """Index a folder of Markdown, text and PDF files into ``out_dir`` (default: the course index cache).

    Files whose bytes, the embedding model and the splitter settings are unchanged since the last build in
    ``out_dir`` keep their chunks and vectors; new and changed files are split and embedded; deleted files drop
    out. Problem files are skipped with a warning naming them; a corpus with nothing indexable raises.
    """
    started = time.perf_counter()
    corpus = Path(corpus_dir).expanduser() if corpus_dir is not None else paths.corpus_dir()
    out = Path(out_dir).expanduser() if out_dir is not None else paths.default_index_dir()
    if overlap_tokens >= chunk_tokens:
        raise ValidationError(f"overlap ({overlap_tokens}) must be smaller than the chunk size ({chunk_tokens})")
    if index_type not in ("auto", "flat", "hnsw"):
        raise ValidationError(f"unknown index type {index_type!r}; use auto, flat or hnsw")
    warnings: list[str] = []
    files = scan_corpus(corpus, warnings)  # raises NotFoundError for a missing folder, before loading a model
    emb = embeddings if embeddings is not None else emb_mod.default_embeddings()
    model_id = emb_mod.model_id_of(emb)
    tok_name, hf_tok = emb_mod.hf_tokenizer_of(emb)
    settings = SplitterSettings(chunk_tokens, overlap_tokens, tok_name, context_header)
    splitter = make_text_splitter(settings, hf_tok)

    with build_lock(out):
        notes: list[str] = []
        reuse = _previous(out, model_id, settings, notes)
        report = BuildReport(out_dir=out, corpus_dir=corpus, model_id=model_id, index_type="", dimension=0)
        per_file: list[tuple[dict[str, Any], list[Chunk], np.ndarray | None]] = []
        to_embed: list[Chunk] = []
        seen: set[str] = set()
        skipped: dict[str, str] = {}
        for file in files:
            seen.add(file.source)
            old = reuse.get(file.source)
            entry = {"source": file.source, "sha256": file.sha256, "bytes": file.size, "kind": file.kind}
            if old is not None and old[0] == file.sha256:
                chunks = old[1]
                entry.update(title=chunks[0].title if chunks else "", encoding="unchanged")
                per_file.append((entry, chunks, old[2]))
                report.files_unchanged += 1
                report.chunks_reused += len(chunks)
                continue
            doc = load_file(file, warnings)
            chunks = split_document(doc, settings, splitter) if doc is not None else []
            if doc is None or not chunks:
                if doc is not None:
                    warnings.append(f"{file.source}: skipped, no text left after splitting")
                report.files_skipped += 1
                skipped[file.source] = file.sha256
                if old is not None:
                    report.files_removed += 1
                continue
            entry.update(title=doc.title, encoding=doc.encoding)
            per_file.append((entry, chunks, None))
            to_embed.extend(chunks)
            if old is None:
                report.files_added += 1
            else:
                report.files_changed += 1
        report.files_removed += len(set(reuse) - seen)
        for note in warnings:
            log.warning(note)
        if not per_file:
            raise ValidationError(
                f"corpus folder {corpus} has no indexable document"
                + (f" ({len(warnings)} file(s) skipped: {'; '.join(warnings[:3])})" if warnings else ""),
                hint="add Markdown (.md), text (.txt) or PDF files with some text",
            )

        embed_start = time.perf_counter()
        new_vectors = emb_mod.embed_texts(
            emb, [c.index_text(context_header) for c in to_embed], show_progress=show_progress
        )
        report.embed_seconds = time.perf_counter() - embed_start
        chunks_all: list[Chunk] = []
        blocks: list[np.ndarray] = []
        cursor = 0
        file_entries = []
        for entry, chunks, vectors in per_file:
            if vectors is None:
                vectors = new_vectors[cursor : cursor + len(chunks)]
                cursor += len(chunks)
            entry["first"], entry["count"] = len(chunks_all), len(chunks)
            file_entries.append(entry)
            chunks_all.extend(chunks)
            blocks.append(vectors)
        dims = {b.shape[1] for b in blocks if len(b)}
        if len(dims) != 1:
            raise IntegrityError(
                f"embeddings returned vectors of different sizes {sorted(dims)}", hint=rebuild_hint(out)
            )
        vectors_all = np.vstack(blocks).astype(np.float32)
        kind = choose_index_type(len(chunks_all), flat_max_chunks) if index_type == "auto" else index_type
        faiss_index = make_faiss_index(vectors_all, kind)
        index_meta: dict[str, Any] = {"type": kind, "metric": "inner_product"}
        if kind == "hnsw":
            index_meta.update(m=HNSW_M, ef_construction=HNSW_EF_CONSTRUCTION, ef_search=HNSW_EF_SEARCH)
        manifest = {
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "corpus_dir": str(corpus.resolve()),
            "embedding": {
                "model_id": model_id,
                "dimension": int(vectors_all.shape[1]),
                "normalized": True,
                "metric": "inner_product",
            },
            "splitter": settings.to_dict(),
            "index": index_meta,
            "files": file_entries,
            "skipped": skipped,
            "warnings": warnings,
        }
        write_index(out, chunks_all, faiss_index, manifest)

    report.index_type = kind
    report.dimension = int(vectors_all.shape[1])
    report.files_indexed = len(per_file)
    report.chunks_total = len(chunks_all)
    report.chunks_embedded = len(to_embed)
    report.warnings = warnings
    report.notes = notes
    report.seconds = time.perf_counter() - started
    return report


def load_index(
    path: str | os.PathLike[str] | None = None, *, embeddings: Any | None = None, **search_settings: Any
) -> CourseIndex:
    """Load and verify an index folder (default: the course index cache).

    With ``embeddings`` given, its model id must match the index's. Without, the default embeddings are
    created on the first dense or hybrid query (BM25 search never loads them).
    """
    folder = Path(path).expanduser() if path is not None else paths.default_index_dir()
    stored: StoredIndex = read_index(folder)
    index = CourseIndex(
        stored.chunks,
        stored.faiss_index,
        embeddings=embeddings if embeddings is not None else emb_mod.default_embeddings,
        manifest=stored.manifest,
        path=folder,
        **search_settings,
    )
    if embeddings is not None:
        index.embeddings  # noqa: B018 - checks the model id now, not at the first query
    return index


def source_corpus(path: str | os.PathLike[str], manifest: dict[str, Any] | None = None) -> Path:
    """The corpus folder the index at ``path`` was built from, as its manifest records it.

    An index is only ever refreshed from that folder: when it is gone, this refuses (naming the command that
    rebuilds the index from another folder) instead of letting anything else replace the index.
    """
    folder = Path(path).expanduser()
    manifest = manifest if manifest is not None else read_manifest(folder)
    recorded = manifest.get("corpus_dir")
    rebuild = f"`promptkit index build --corpus DIR --out {folder}`"
    if not isinstance(recorded, str) or not recorded:
        raise IntegrityError(
            f"{folder / MANIFEST} does not record the corpus folder the index was built from",
            hint=f"rebuild it with {rebuild}",
        )
    corpus = Path(recorded)
    if not corpus.is_dir():
        state = "is not a folder" if corpus.exists() else "no longer exists"
        raise NotFoundError(
            f"index {folder} was built from the corpus folder {corpus}, which {state}",
            hint=f"restore that folder, or rebuild the index from another one with {rebuild}",
        )
    return corpus


def index_is_stale(path: str | os.PathLike[str], corpus_dir: str | os.PathLike[str] | None = None) -> bool:
    """True when the corpus files differ (added, changed or removed) from those recorded in the manifest.

    ``corpus_dir`` defaults to the folder the index was built from (:func:`source_corpus`).
    """
    folder = Path(path).expanduser()
    manifest = read_manifest(folder)
    corpus = Path(corpus_dir).expanduser() if corpus_dir is not None else source_corpus(folder, manifest)
    recorded = {e["source"]: e["sha256"] for e in manifest.get("files", [])}
    recorded.update(manifest.get("skipped", {}))
    current = {f.source: f.sha256 for f in scan_corpus(corpus, [])}
    return current != recorded


def _build_settings(manifest: dict[str, Any]) -> dict[str, Any]:
    """The :func:`build_index` settings an index was built with: a refresh splits and indexes the same way."""
    splitter, index = manifest.get("splitter") or {}, manifest.get("index") or {}
    settings: dict[str, Any] = {}
    for key in ("chunk_tokens", "overlap_tokens"):
        value = splitter.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            settings[key] = value
    if isinstance(splitter.get("context_header"), bool):
        settings["context_header"] = splitter["context_header"]
    if index.get("type") == "hnsw":
        settings["index_type"] = "hnsw"
    return settings


def ensure_index(
    path: str | os.PathLike[str] | None = None,
    *,
    embeddings: Any | None = None,
    corpus_dir: str | os.PathLike[str] | None = None,
    show_progress: bool = True,
    **search_settings: Any,
) -> CourseIndex:
    """Load the index at ``path`` (default: the course index), first building or refreshing it when needed.

    A missing index is built from ``corpus_dir`` (default: the course corpus). An existing index is refreshed
    (incrementally, with the settings it was built with) only from the corpus folder it was built from, when
    that folder's files changed or other embeddings are asked for; a ``corpus_dir`` naming another folder, or
    a source folder that no longer exists, is refused with the command that rebuilds the index, and the index
    is left as it is. A tampered index is refused, never silently replaced.
    """
    folder = Path(path).expanduser() if path is not None else paths.default_index_dir()
    try:
        manifest = read_manifest(folder)
    except NotFoundError:
        manifest = None
    if manifest is None:
        corpus = Path(corpus_dir).expanduser() if corpus_dir is not None else paths.corpus_dir()
        build_index(corpus, folder, embeddings=embeddings, show_progress=show_progress)
        return load_index(folder, embeddings=embeddings, **search_settings)
    read_index(folder)  # refuses a tampered index before anything else
    corpus = source_corpus(folder, manifest)
    if corpus_dir is not None and Path(corpus_dir).expanduser().resolve() != corpus.resolve():
        raise ValidationError(
            f"index {folder} was built from the corpus folder {corpus}, not {corpus_dir}",
            hint=f"rebuild it from that folder with "
            f"`promptkit index build --corpus {corpus_dir} --out {folder}`, or pass another index folder",
        )
    wanted = emb_mod.model_id_of(embeddings) if embeddings is not None else emb_mod.default_embeddings_id()
    if manifest["embedding"]["model_id"] != wanted or index_is_stale(folder, corpus):
        settings = _build_settings(manifest)
        build_index(corpus, folder, embeddings=embeddings, show_progress=show_progress, **settings)
    return load_index(folder, embeddings=embeddings, **search_settings)
