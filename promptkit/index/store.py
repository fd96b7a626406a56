"""On-disk format of a course index, written and read without pickle.

An index folder holds three kinds of files:

* ``index-<hash>.faiss``: the FAISS index (``faiss.serialize_index`` bytes; flat or HNSW, inner product over
  L2-normalised vectors). The vectors are reconstructed from it for incremental rebuilds and MMR;
* ``chunks-<hash>.json``: chunk texts and metadata, in FAISS id order;
* ``manifest.json``: format version, embedding model id and dimension, splitter settings, per-file sha256, the
  names and sha256 of the two data files, and a checksum of the manifest itself.

The manifest is the commit point. A build writes the new data files under new (content-addressed) names, fsyncs
them, then atomically replaces ``manifest.json``; only after that are files no manifest refers to deleted. A
process killed at any moment therefore leaves the previous manifest pointing at files that still exist. Loading
checks every hash before parsing anything and refuses a tampered, truncated or mismatched index with
:class:`~promptkit.errors.IntegrityError`.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from promptkit.errors import IntegrityError, NotFoundError, ValidationError
from promptkit.fileio import atomic_write_bytes, atomic_write_json, canonical_json, read_json, sha256_bytes
from promptkit.index.splitting import Chunk

FORMAT = "promptkit-course-index"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"

# Below this many chunks an exact flat index is used; at or above it, HNSW. Measured with
# benchmarks/bench_retrieval.py (384 dims, one query at a time, 1 thread, busy 2-core machine): flat p50 0.6 ms
# at 10,000 vectors, 19.5 ms at 50,000 and 27 ms at 100,000; HNSW (M=32, efSearch=96) 0.17-0.18 ms with
# recall@10 1.000 / 0.990, but it costs 30 s (50,000) to 53 s (100,000) to build. Under 50,000 chunks flat is
# exact, fast enough and free to build; above, HNSW is over 100x faster per query.
FLAT_MAX_CHUNKS = 50_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 96


def rebuild_hint(path: Path) -> str:
    return f"rebuild it with `promptkit index build --out {path}`"


def choose_index_type(count: int, flat_max: int = FLAT_MAX_CHUNKS) -> str:
    return "flat" if count < flat_max else "hnsw"


def make_faiss_index(vectors: np.ndarray, kind: str) -> Any:
    """A FAISS inner-product index over ``vectors`` (rows already normalised)."""
    import faiss

    dim = int(vectors.shape[1])
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        raise ValidationError(f"unknown index type {kind!r}; use flat, hnsw or auto")
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def index_vectors(index: Any) -> np.ndarray:
    """All vectors stored in a flat or HNSW index, in id order."""
    if index.ntotal == 0:
        return np.zeros((0, index.d), dtype=np.float32)
    return np.asarray(index.reconstruct_n(0, index.ntotal), dtype=np.float32)


def manifest_checksum(manifest: dict[str, Any]) -> str:
    body = {k: v for k, v in manifest.items() if k != "checksum"}
    return sha256_bytes(canonical_json(body).encode("utf-8"))


@contextlib.contextmanager
def build_lock(out_dir: Path) -> Iterator[None]:
    """An exclusive lock on the index folder for the length of a build (two builds never interleave)."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        lock_path = out_dir / ".lock"
        handle = open(lock_path, "a+b")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise ValidationError(
            f"cannot lock the index folder {out_dir} ({exc.strerror or exc}: {exc.filename or out_dir})",
            hint="check that it is a writable folder and that its .lock is a plain file",
        ) from None
    try:
        try:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        except ImportError:  # pragma: no cover - not POSIX
            pass
        yield
    finally:
        handle.close()


@dataclass
class StoredIndex:
    """A verified index as read from disk."""

    path: Path
    manifest: dict[str, Any]
    chunks: list[Chunk]
    faiss_index: Any

    @property
    def model_id(self) -> str:
        return str(self.manifest["embedding"]["model_id"])

    @property
    def dimension(self) -> int:
        return int(self.manifest["embedding"]["dimension"])


def write_index(
    out_dir: Path, chunks: list[Chunk], faiss_index: Any, manifest: dict[str, Any]
) -> dict[str, Any]:
    """Write the data files, commit the manifest, then delete files no longer referenced; return the manifest."""
    import faiss

    out_dir.mkdir(parents=True, exist_ok=True)
    index_bytes = faiss.serialize_index(faiss_index).tobytes()
    chunks_bytes = (
        json.dumps({"chunks": [c.to_json() for c in chunks]}, ensure_ascii=False, separators=(",", ":")) + "\n"
    ).encode("utf-8")
    index_sha, chunks_sha = sha256_bytes(index_bytes), sha256_bytes(chunks_bytes)
    index_name, chunks_name = f"index-{index_sha[:16]}.faiss", f"chunks-{chunks_sha[:16]}.json"
    atomic_write_bytes(out_dir / index_name, index_bytes)
    atomic_write_bytes(out_dir / chunks_name, chunks_bytes)
    full = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **manifest,
        "index": {
            **manifest.get("index", {}),
            "file": index_name,
            "sha256": index_sha,
            "ntotal": faiss_index.ntotal,
        },
        "chunks": {"file": chunks_name, "sha256": chunks_sha, "count": len(chunks)},
    }
    full["checksum"] = manifest_checksum(full)
    atomic_write_json(out_dir / MANIFEST, full)  # the commit point
    keep = {MANIFEST, index_name, chunks_name, ".lock"}
    for stale in out_dir.iterdir():
        name = stale.name
        leftover = name.startswith((".index-", ".chunks-", f".{MANIFEST}.")) and name.endswith(".tmp")
        ours = (name.startswith("index-") and name.endswith(".faiss")) or (
            name.startswith("chunks-") and name.endswith(".json")
        )
        if stale.is_file() and name not in keep and (ours or leftover):
            stale.unlink(missing_ok=True)
    return full


def _bad(folder: Path, message: str) -> IntegrityError:
    """The refusal every integrity check raises: what is wrong, and the command that fixes it."""
    return IntegrityError(message, hint=rebuild_hint(folder))


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of the index folder ``path``, checked for shape and self-consistency."""
    file = path / MANIFEST
    if not file.exists():
        raise NotFoundError(
            f"no index at {path} (no {MANIFEST})", hint=f"build one with `promptkit index build --out {path}`"
        )
    try:
        manifest = read_json(file, what="index manifest")
    except ValidationError as exc:
        raise _bad(path, exc.message) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _bad(path, f"{file} is not a promptkit index manifest")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise _bad(path, f"{file} has format version {version!r}, this promptkit reads {FORMAT_VERSION}")
    if manifest.get("checksum") != manifest_checksum(manifest):
        raise _bad(path, f"{file} was modified after the index was built (checksum mismatch)")
    expected = {
        "index.file": str, "index.sha256": str, "index.ntotal": int,
        "chunks.file": str, "chunks.sha256": str, "chunks.count": int,
        "embedding.dimension": int, "embedding.model_id": str,
    }
    for dotted, kind in expected.items():
        section, key = dotted.split(".")
        block = manifest.get(section)
        if not isinstance(block, dict) or key not in block:
            raise _bad(path, f"{file} lacks field {dotted}")
        value = block[key]
        if not isinstance(value, kind) or isinstance(value, bool) or (kind is int and value < 0):
            raise _bad(path, f"{file}: field {dotted} should be a {'count' if kind is int else 'string'}, "
                             f"got {json.dumps(value)[:40]}")
    ef = manifest["index"].get("ef_search")
    if ef is not None and (not isinstance(ef, int) or isinstance(ef, bool) or not 1 <= ef <= 100_000):
        raise _bad(path, f"{file}: field index.ef_search should be a positive count, got {json.dumps(ef)[:40]}")
    return manifest


def _read_checked(folder: Path, entry: dict[str, Any], what: str) -> bytes:
    name = str(entry["file"])
    file = folder / name
    if not name or "\x00" in name or Path(name).name != name:
        raise _bad(folder, f"{folder / MANIFEST} names a {what} file outside the index folder ({name!r})")
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise _bad(folder, f"{what} file {file} is missing") from None
    except OSError as exc:
        raise _bad(folder, f"cannot read {what} file {file}: {exc.strerror}") from None
    if sha256_bytes(data) != entry["sha256"]:
        raise _bad(folder, f"{what} file {file} does not match the sha256 in {MANIFEST} (tampered or truncated)")
    return data


def read_index(path: str | os.PathLike[str]) -> StoredIndex:
    """Load and verify an index folder: manifest checksum, data file hashes, counts and dimension."""
    import faiss

    folder = Path(path).expanduser()
    manifest = read_manifest(folder)
    index_bytes = _read_checked(folder, manifest["index"], "FAISS index")
    chunks_bytes = _read_checked(folder, manifest["chunks"], "chunks")
    chunks_file, index_file = folder / manifest["chunks"]["file"], folder / manifest["index"]["file"]
    try:
        payload = json.loads(chunks_bytes.decode("utf-8"))
        chunks = [Chunk.from_json(c) for c in payload["chunks"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise _bad(folder, f"chunks file {chunks_file} is malformed ({exc})") from None
    try:
        index = faiss.deserialize_index(np.frombuffer(index_bytes, dtype=np.uint8).copy())
    except RuntimeError as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else "unknown error"
        raise _bad(folder, f"FAISS index file {index_file} is unreadable ({first_line})") from None
    dim = int(manifest["embedding"]["dimension"])
    counts = {index.ntotal, len(chunks), manifest["chunks"]["count"], manifest["index"]["ntotal"]}
    if len(counts) != 1:
        raise _bad(
            folder,
            f"index {folder}: {index.ntotal} vectors but {len(chunks)} chunks "
            f"(manifest says {manifest['chunks']['count']})",
        )
    if index.d != dim:
        raise _bad(folder, f"index {folder}: vectors have {index.d} dimensions, manifest says {dim}")
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = int(manifest["index"].get("ef_search", HNSW_EF_SEARCH))
    return StoredIndex(path=folder, manifest=manifest, chunks=chunks, faiss_index=index)
