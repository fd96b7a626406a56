"""Where a local model's weights come from and how they are held in memory.

:func:`resolve` turns what a user names (a catalogue name, a local folder, a Hugging Face hub id) into a
:class:`Resolved` source, cheaply: a catalogue model's folder is built (:func:`promptkit.weights.pull`) only when
something needs its files. :func:`get_backend` loads weights and tokenizer once per process for each
(model, dtype); every :class:`~promptkit.llm.local.LocalChatModel` naming them shares that :class:`Backend`.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptkit.errors import MissingDependencyError, ValidationError
from promptkit.llm.decoding.prefill import PrefixStore

DTYPES = ("bf16", "fp32")


@dataclass
class Backend:
    """Loaded weights and tokenizer, shared by every model wrapper with the same (model, dtype)."""

    model: Any
    tokenizer: Any
    dtype: str
    context_window: int
    eos_ids: list[int]
    repetition_penalty: float = 1.0
    prefixes: PrefixStore = field(default_factory=PrefixStore)


@dataclass(frozen=True)
class Resolved:
    """A named model, resolved: its identity (``model_id``, ``revision``: what cache keys and results record)
    and, once :meth:`folder` has run, the source ``from_pretrained`` reads."""

    name: str
    model_id: str
    revision: str
    local_only: bool
    catalogued: bool

    def source(self, progress: bool = True) -> str:
        """The folder (or hub id) to load from; builds a catalogue model's folder on first use."""
        if not self.catalogued:
            return self.model_id
        from promptkit.weights import assemble, get_entry

        entry = get_entry(self.name, kind="llm")
        if not assemble.is_ready(entry):
            return str(assemble.pull(entry, progress=progress))
        folder = assemble.model_dir(entry)
        assemble.check_folder(entry, folder)  # refuse a tampered folder before anything reads it
        return str(folder)

    def weights(self, source: str, dtype: str, progress: bool = True) -> str:
        """Where to read the weights from: a catalogued model's bf16 copy for a bf16 load, else ``source``.

        Downcasting the float32 file at load time first materialises all of it (about 4.1 GB peak RSS for the
        0.5B model); the bf16 copy is memory-mapped as is (under 0.5 GB right after loading). Both give the same
        bits: the copy was made with the same rounding.
        """
        if not self.catalogued or dtype != "bf16":
            return source
        from promptkit.weights import assemble, get_entry

        folder = assemble.ensure_bf16(get_entry(self.name, kind="llm"), Path(source), progress=progress)
        return str(folder) if folder is not None else source


def local_revision(folder: Path) -> str:
    """A cheap fingerprint of a local model folder (weight, config and tokenizer file names, sizes, mtimes)."""
    digest = hashlib.sha256()
    for f in sorted(folder.glob("*")):
        if f.suffix in (".safetensors", ".bin", ".json", ".jinja") and f.is_file():
            st = f.stat()
            digest.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns};".encode())
    return "local:" + digest.hexdigest()[:16]


def resolve(name: str) -> Resolved:
    """A catalogue name, a local folder or a hub id (``owner/name``), resolved without loading anything."""
    from promptkit.weights import CATALOG, get_entry

    if name in CATALOG:
        entry = get_entry(name, kind="llm")
        return Resolved(name, entry.name, f"gguf-sha256:{entry.sha256[:16]}", True, True)
    path = Path(name).expanduser()
    if path.is_dir():
        folder = path.resolve()
        return Resolved(name, str(folder), local_revision(folder), True, False)
    if "/" not in name or name.startswith((".", "/", "~")):
        get_entry(name, kind="llm")  # raises "unknown model …; did you mean …? available: …"
    return Resolved(name, name, "", False, False)


def config_window(folder: str) -> int | None:
    """The context window a local model folder's config.json declares (what the loaded model would report)."""
    try:
        config = json.loads((Path(folder) / "config.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return int(config.get("max_position_embeddings") or 4096)


def _torch() -> Any:
    try:
        import torch
    except ImportError:  # pragma: no cover - hard dependency
        raise MissingDependencyError("the local model needs torch; install with: pip install torch") from None
    return torch


def load_backend(source: str, *, dtype: str, local_only: bool, weights: str | None = None) -> Backend:
    """Load a causal LM and its tokenizer from a folder (or a hub id when ``local_only`` is false).

    ``weights`` is another folder to read the model (config + safetensors) from, e.g. a bf16 copy; the
    tokenizer always comes from ``source``.
    """
    if dtype not in DTYPES:
        raise ValidationError(f"unknown dtype {dtype!r}; expected one of: {', '.join(DTYPES)}")
    torch = _torch()
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from promptkit.llm.decoding.kv import check_compatible

    check_compatible()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_only)
        torch_dtype = torch.float32 if dtype == "fp32" else torch.bfloat16
        model = AutoModelForCausalLM.from_pretrained(weights or source, dtype=torch_dtype,
                                                     local_files_only=local_only)
    except OSError as exc:
        raise MissingDependencyError(
            f"cannot load model {source!r} ({exc})",
            hint="name a catalogued model (promptkit models list), a local folder, or a hub id you have cached",
        ) from None
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    model.eval()
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    config = model.generation_config
    eos = config.eos_token_id
    eos_ids = [eos] if isinstance(eos, int) else list(eos or [])
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in eos_ids:
        eos_ids.append(tokenizer.eos_token_id)
    window = getattr(model.config, "max_position_embeddings", None) or 4096
    return Backend(model=model, tokenizer=tokenizer, dtype=dtype, context_window=int(window), eos_ids=eos_ids,
                   repetition_penalty=float(getattr(config, "repetition_penalty", None) or 1.0))


_BACKENDS: dict[tuple[str, str], Backend] = {}
_BACKENDS_LOCK = threading.Lock()


def peek_backend(key: tuple[str, str]) -> Backend | None:
    """The backend for ``key`` = (model id, dtype) if it is already loaded (never loads)."""
    with _BACKENDS_LOCK:
        return _BACKENDS.get(key)


def get_backend(key: tuple[str, str], loader: Callable[[], Backend]) -> Backend:
    """The memoised backend for ``key`` = (model id, dtype), loading it on first use."""
    with _BACKENDS_LOCK:
        backend = _BACKENDS.get(key)
        if backend is None:
            backend = loader()
            _BACKENDS[key] = backend
        return backend


def clear_backends() -> None:
    """Forget every loaded model (frees memory once no wrapper refers to it)."""
    with _BACKENDS_LOCK:
        _BACKENDS.clear()
