"""Safe file primitives: atomic writes and content hashes.

Every cache, index, results or baseline file is written through :func:`atomic_write_bytes`: the data goes to a
temporary file in the same folder, is fsynced, then renamed over the target, so a crash leaves either the old or
the new file, never a truncated one.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from promptkit.errors import ValidationError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: the old file or the new one, never a mix.

    A path that cannot be written (a folder, a folder under a file, no permission, a full disk) raises
    :class:`ValidationError` naming it; the previous file, if any, is left as it was."""
    target = Path(path)
    try:
        _atomic_write(target, data)
    except OSError as exc:
        raise ValidationError(
            f"cannot write {target}: {exc.strerror or exc}",
            hint="pass a file path in a writable folder; check the free disk space",
        ) from exc


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Fail early, before any long work, when ``path`` could not be written as a file (nothing is created)."""
    target = Path(path)
    try:
        _check_target(target)
    except OSError as exc:
        raise ValidationError(
            f"cannot write {target}: {exc.strerror or exc}", hint="pass a file path in a writable folder"
        ) from None
    return target


def _check_target(target: Path) -> None:
    for parent in reversed(target.parents):
        if parent.exists() and not parent.is_dir():
            raise NotADirectoryError(20, f"{parent} is a file, not a folder", str(parent))
    if target.is_dir():
        raise IsADirectoryError(21, "it is a folder, not a file", str(target))


def _atomic_write(target: Path, data: bytes) -> None:
    _check_target(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual permissions
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(target.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False) + "\n")


def read_json(path: str | os.PathLike[str], *, what: str = "JSON file") -> Any:
    """Read a JSON file, turning every failure into one clear :class:`ValidationError`."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ValidationError(f"{what} {p} does not exist", hint="check the path") from None
    except OSError as exc:
        raise ValidationError(f"cannot read {what} {p}: {exc.strerror}") from None
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValidationError(f"{what} {p} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"{what} {p} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            hint="the file may be truncated or corrupted; regenerate it",
        ) from None
    except ValueError:  # the only other failure of json.loads: an integer longer than Python converts
        raise ValidationError(
            f"{what} {p} holds an integer of more than {sys.get_int_max_str_digits()} digits",
            hint="write that value as an ordinary number",
        ) from None


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str], chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def canonical_json(obj: Any) -> str:
    """A stable JSON text for hashing (sorted keys, no whitespace)."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
