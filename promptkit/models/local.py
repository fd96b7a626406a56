"""A local transformers causal LM behind promptkit's batched LangChain chat model.

Weights are loaded once per process for each (model, dtype, int8) combination (:func:`get_backend`); every
:class:`LocalChatModel` built on them is a light wrapper with its own generation settings, so several chains share
one copy of the weights. Greedy generation runs batches through :mod:`promptkit.models.greedy` (the prompts' shared
prefix computed once, prompt-lookup drafts verified several tokens per step); sampling, streaming and models whose
generation config adds logits processors use ``model.generate`` on left-padded batches. Either way a batch is
several times faster per example on a CPU than one call per prompt.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage
from pydantic import Field, PrivateAttr

from promptkit.errors import MissingDependencyError, ValidationError
from promptkit.llm.base import BatchedChatModel
from promptkit.models.greedy import greedy_stream, plain_greedy
from promptkit.models.prefill import PrefixStore, grouped_order

DTYPES = ("bf16", "fp32")
_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool", "function": "tool"}


@dataclass
class Backend:
    """Loaded weights and tokenizer, shared by every wrapper with the same (model, dtype, int8)."""

    model: Any
    tokenizer: Any
    dtype: str
    int8: bool
    context_window: int
    eos_ids: list[int]
    prefixes: PrefixStore = field(default_factory=PrefixStore)


_BACKENDS: dict[tuple[str, str, bool], Backend] = {}
_BACKENDS_LOCK = threading.Lock()


def _torch() -> Any:
    try:
        import torch
    except ImportError:  # pragma: no cover - hard dependency
        raise MissingDependencyError("the local model needs torch; install with: pip install torch") from None
    return torch


def load_backend(source: str, *, dtype: str, int8: bool, local_only: bool, weights: str | None = None) -> Backend:
    """Load a causal LM and its tokenizer from a folder (or a hub id when ``local_only`` is false).

    ``weights`` is another folder to read the model (config + safetensors) from, e.g. a bf16 copy; the
    tokenizer always comes from ``source``.
    """
    if dtype not in DTYPES:
        raise ValidationError(f"unknown dtype {dtype!r}; expected one of: {', '.join(DTYPES)}")
    torch = _torch()
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_only)
        torch_dtype = torch.float32 if (int8 or dtype == "fp32") else torch.bfloat16
        model = AutoModelForCausalLM.from_pretrained(weights or source, dtype=torch_dtype,
                                                     local_files_only=local_only)
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    model.eval()
    if int8:
        # Dynamic int8 of every Linear layer: faster, but measured to damage answer quality badly.
        from torch.ao.quantization import quantize_dynamic

        model = quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    eos = model.generation_config.eos_token_id
    eos_ids = [eos] if isinstance(eos, int) else list(eos or [])
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in eos_ids:
        eos_ids.append(tokenizer.eos_token_id)
    window = getattr(model.config, "max_position_embeddings", None) or 4096
    return Backend(model=model, tokenizer=tokenizer, dtype="fp32" if int8 else dtype, int8=int8,
                   context_window=int(window), eos_ids=eos_ids)


def stop_matcher(tokenizer: Any, stops: Sequence[str]) -> tuple[int, Callable[[Sequence[int]], bool]]:
    """``(window, matches)``: ``matches(ids)`` tells whether the text of the last ``window`` generated tokens holds
    one of ``stops`` (the window holds the longest stop string, since a token may decode to less than a char)."""
    wanted = [s for s in stops if s]
    window = 2 * max((len(s) for s in wanted), default=1) + 4

    def matches(ids: Sequence[int]) -> bool:
        text = tokenizer.decode(list(ids[-window:]), skip_special_tokens=True)
        return any(s in text for s in wanted)

    return window, matches


def stop_string_criterion(tokenizer: Any, stops: Sequence[str], prompt_length: int) -> Any:
    """A ``transformers`` stopping criterion: a row is done once its generated text contains a stop string.

    ``generate`` marks done rows (padding them from then on) and ends the whole batch as soon as every row has hit
    EOS or a stop string, so a RAG answer of a few tokens with ``stop=["\\n"]`` does not run to
    ``max_new_tokens``. Only the last few tokens of each row are decoded per step (enough to hold the longest
    stop string), unlike ``generate(stop_strings=…)``, which scans the whole vocabulary (151k tokens for Qwen)
    every time it is built — about a second per batch on a 2-core CPU.
    """
    import torch
    from transformers import StoppingCriteria

    window, matches = stop_matcher(tokenizer, stops)

    class StopOnStrings(StoppingCriteria):
        def __init__(self) -> None:
            self.done: Any = None

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            rows, length = input_ids.shape
            if self.done is None or self.done.shape[0] != rows:
                self.done = torch.zeros(rows, dtype=torch.bool)
            start = max(prompt_length, length - window)
            if start < length:
                tails = input_ids[:, start:].tolist()
                for r in range(rows):
                    if not self.done[r] and matches(tails[r]):
                        self.done[r] = True
            return self.done.clone()

    return StopOnStrings()


_TOKENIZERS: dict[str, Any] = {}
_COUNTS: dict[tuple[str, str], int] = {}
_COUNTS_MAX = 50_000


class LightTokenizer:
    """What a replay needs from a model's tokenizer (token counts, chat-template rendering), loaded lazily.

    Counting uses ``tokenizers`` on the folder's ``tokenizer.json`` (the object the transformers tokenizer wraps:
    same ids), parsed only on the first count that :mod:`promptkit.models.tokenizer_cache` does not hold.
    Rendering is always done by transformers' ``apply_chat_template`` (``PreTrainedTokenizerFast``, no torch) and
    remembered in the same cache, so a replayed run usually imports neither transformers nor the tokenizer file.
    """

    padding_side = "left"

    def __init__(self, folder: Path):
        self._folder = folder
        self._rust: Any = None
        self._full: Any = None
        self._lock = threading.Lock()
        template_path = folder / "chat_template.jinja"
        if template_path.is_file():
            self.chat_template: str | None = template_path.read_text("utf-8")
        else:
            import json

            try:
                config = json.loads((folder / "tokenizer_config.json").read_text("utf-8"))
            except (OSError, ValueError):
                config = {}
            template = config.get("chat_template")
            self.chat_template = template if isinstance(template, str) else None

    @classmethod
    def usable(cls, folder: Path) -> bool:
        """Whether ``folder`` has a ``tokenizer.json`` (what counting reads)."""
        return (folder / "tokenizer.json").is_file()

    @property
    def _tok(self) -> Any:
        if self._rust is None:
            with self._lock:
                if self._rust is None:
                    from tokenizers import Tokenizer

                    self._rust = Tokenizer.from_file(str(self._folder / "tokenizer.json"))
        return self._rust

    @property
    def full(self) -> Any:
        """The transformers tokenizer (``PreTrainedTokenizerFast``), loaded on first need."""
        if self._full is None:
            with self._lock:
                if self._full is None:
                    from transformers import PreTrainedTokenizerFast

                    tok = PreTrainedTokenizerFast.from_pretrained(str(self._folder), local_files_only=True)
                    tok.padding_side = "left"
                    if tok.pad_token_id is None:
                        tok.pad_token = tok.eos_token
                    self._full = tok
        return self._full

    def __call__(self, text: str, add_special_tokens: bool = False, **_: Any) -> dict[str, list[int]]:
        return {"input_ids": self._tok.encode(text, add_special_tokens=add_special_tokens).ids}

    def apply_chat_template(self, chat: list[dict[str, Any]], tokenize: bool = False,
                            add_generation_prompt: bool = False) -> str:
        if tokenize:
            raise ValueError("LightTokenizer renders text only (tokenize=False)")
        from promptkit.models.tokenizer_cache import render_key, store_for

        store = store_for(str(self._folder)) if self.chat_template else None
        key = render_key(self.chat_template or "", chat, add_generation_prompt) if store is not None else ""
        text = store.get_render(key) if store is not None else None
        if text is None:
            text = self.full.apply_chat_template(chat, tokenize=False, add_generation_prompt=add_generation_prompt)
            if store is not None:
                store.put_render(key, text)
        return text


def load_tokenizer(source: str, *, local_only: bool = True) -> Any:
    """The tokenizer alone (no weights), prepared like a backend's: enough to render and count prompts.

    A folder with a ``tokenizer.json`` gets a :class:`LightTokenizer` (no torch; transformers only to render a
    conversation the tokenizer cache has not seen); anything else ``AutoTokenizer``, which imports torch.
    """
    with _BACKENDS_LOCK:
        tok = _TOKENIZERS.get(source)
        if tok is None:
            if LightTokenizer.usable(Path(source)):
                tok = LightTokenizer(Path(source))
                _TOKENIZERS[source] = tok
                return tok
            _torch()
            from transformers import AutoTokenizer

            tok = AutoTokenizer.from_pretrained(source, local_files_only=local_only)
            tok.padding_side = "left"
            if tok.pad_token_id is None:
                tok.pad_token = tok.eos_token
            _TOKENIZERS[source] = tok
        return tok


def peek_backend(key: tuple[str, str, bool]) -> Backend | None:
    """The backend for ``key`` if it is already loaded (never loads)."""
    with _BACKENDS_LOCK:
        return _BACKENDS.get(key)


def get_backend(key: tuple[str, str, bool], loader: Callable[[], Backend]) -> Backend:
    """The memoised backend for ``key`` = (model identity, dtype, int8), loading it on first use."""
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


def _text_of(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    parts = []
    for part in content:
        if isinstance(part, str):
            parts.append(part)
        elif isinstance(part, dict) and part.get("type") == "text":
            parts.append(str(part.get("text", "")))
    return "".join(parts)


class LocalChatModel(BatchedChatModel):
    """A transformers causal LM with real batched generation, streaming and log-probabilities.

    Build it with :func:`promptkit.models.load_llm`, which loads (or reuses) the weights.
    """

    path: str
    dtype: str = "bf16"
    int8: bool = False
    threads: int | None = None
    # Greedy decoding (promptkit.models.greedy): draft this many tokens per row and step from the row's own prompt
    # and verify them in the same forward pass, and compute the prompts' shared prefix once. Both measured in
    # benchmarks/README.md; draft_tokens=0 with prefix_cache off decodes with transformers' generate.
    draft_tokens: int = Field(default=8, ge=0, le=32)
    prefix_cache: bool = True
    # Rows joining a running batch once half of it has finished: off, because on the eval's chunks of 16 prompts it
    # measured slower than batch by batch (benchmarks/README.md); worth trying on long lists of prompts.
    continuous_batching: bool = False
    _backend: Backend | None = PrivateAttr(default=None)
    _loader: Callable[[], Backend] | None = PrivateAttr(default=None)
    _light_tokenizer: Any = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "promptkit-local"

    def attach(self, backend: Backend) -> LocalChatModel:
        self._backend = backend
        return self

    def defer(self, loader: Callable[[], Backend]) -> LocalChatModel:
        """Load the weights with ``loader`` only when a generation needs them (replayed calls never do)."""
        self._loader = loader
        return self

    @property
    def loaded(self) -> bool:
        """Whether the weights are in memory."""
        return self._backend is not None

    @property
    def backend(self) -> Backend:
        if self._backend is None and self._loader is not None:
            self._backend = self._loader()
        if self._backend is None:
            raise ValidationError("this LocalChatModel has no weights attached; build it with load_llm()")
        return self._backend

    @property
    def tokenizer(self) -> Any:
        if self._backend is None and self._loader is not None:
            # Rendering and counting need only the tokenizer: keep the weights unloaded until a cache miss.
            return self._light() or load_tokenizer(self.path)
        return self.backend.tokenizer

    def _light(self) -> LightTokenizer | None:
        """The cached tokenizer front of a local folder (``None`` for a hub id): rendering goes through it even
        once the weights are loaded, so every rendered prompt is remembered for later replays."""
        if self._light_tokenizer is None:
            usable = LightTokenizer.usable(Path(self.path))
            self._light_tokenizer = load_tokenizer(self.path) if usable else False
        return self._light_tokenizer or None

    def numerics(self) -> dict[str, Any]:
        return {"dtype": self.dtype, "int8": self.int8}

    def _batch_order(self, prompts: Sequence[str]) -> list[int]:
        # With the prefix cache, prompts that share more than the template (one retrieved passage) go into the
        # same batch, whose greedy loop prefills what they share once.
        return grouped_order(prompts) if self.prefix_cache else super()._batch_order(prompts)

    def _set_threads(self) -> None:
        if self.threads:
            torch = _torch()
            if torch.get_num_threads() != self.threads:
                torch.set_num_threads(self.threads)

    # -- prompts and tokens -----------------------------------------------------------------------------------
    def render_prompt(self, messages: Sequence[BaseMessage]) -> str:
        tok = self._light() or self.tokenizer
        chat = []
        for m in messages:
            role = getattr(m, "role", None) if m.type == "chat" else _ROLES.get(m.type, "user")
            chat.append({"role": role or "user", "content": _text_of(m)})
        if getattr(tok, "chat_template", None):
            return tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        return "\n\n".join(f"{c['role']}: {c['content']}" for c in chat) + "\n\nassistant:"

    def get_num_tokens(self, text: str) -> int:
        """Tokens of ``text``, memoised per model folder in memory and on disk
        (:mod:`promptkit.models.tokenizer_cache`): fitting retrieved documents into the context window counts the
        same blocks several times per question, across questions and on every re-run."""
        key = (self.path, text)
        count = _COUNTS.get(key)
        if count is None:
            from promptkit.models.tokenizer_cache import store_for

            store = store_for(self.path)
            count = store.get_count(text) if store is not None else None
            if count is None:
                count = len(self.tokenizer(text, add_special_tokens=False)["input_ids"])
                if store is not None:
                    store.put_count(text, count)
            if len(_COUNTS) >= _COUNTS_MAX:
                _COUNTS.clear()
            _COUNTS[key] = count
        return count

    def _encode(self, prompts: list[str], max_new_tokens: int) -> Any:
        enc = self.backend.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        self._check_window(int(enc["input_ids"].shape[1]), max_new_tokens)
        return enc

    def _check_window(self, length: int, max_new_tokens: int) -> None:
        if length + max_new_tokens > self.context_window:
            raise ValidationError(
                f"prompt of {length} tokens plus {max_new_tokens} new tokens exceeds the model's context window "
                f"of {self.context_window} tokens",
                hint="shorten the context (fewer or smaller retrieved chunks) or lower max_new_tokens",
            )

    def _generate_kwargs(self, params: dict[str, Any]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "max_new_tokens": params["max_new_tokens"],
            "pad_token_id": self.backend.tokenizer.pad_token_id,
            "eos_token_id": self.backend.eos_ids,
        }
        if params["temperature"] > 0:
            _torch().manual_seed(params["seed"])
            kwargs.update(do_sample=True, temperature=params["temperature"], top_p=params["top_p"])
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return kwargs

    def _stopping(self, params: dict[str, Any], prompt_length: int, *extra: Any) -> dict[str, Any]:
        """``stopping_criteria`` for ``generate``: the stop strings (when any) plus ``extra`` criteria."""
        from transformers import StoppingCriteriaList

        criteria = list(extra)
        if any(params["stop"]):
            criteria.append(stop_string_criterion(self.backend.tokenizer, params["stop"], prompt_length))
        return {"stopping_criteria": StoppingCriteriaList(criteria)} if criteria else {}

    # -- generation -------------------------------------------------------------------------------------------
    def _greedy_loop(self, params: dict[str, Any]) -> bool:
        """Whether this generation goes through :mod:`promptkit.models.greedy` rather than ``generate``."""
        return (params["temperature"] == 0 and bool(self.draft_tokens or self.prefix_cache)
                and plain_greedy(self.backend.model))

    def _complete(self, prompts: list[str], params: dict[str, Any]) -> list[str]:
        torch = _torch()
        self._set_threads()
        if self._greedy_loop(params):
            return [text for _, text in sorted(self._stream_greedy(prompts, params))]
        enc = self._encode(prompts, params["max_new_tokens"])
        width = int(enc["input_ids"].shape[1])
        with torch.inference_mode():
            out = self.backend.model.generate(**enc, **self._generate_kwargs(params),
                                              **self._stopping(params, width))
        new = out[:, width:]
        return self.backend.tokenizer.batch_decode(new, skip_special_tokens=True)

    def _complete_stream(self, prompts: list[str], params: dict[str, Any]) -> Iterator[tuple[int, str]]:
        # a subclass that replaces _complete (a recorder, a stand-in model) gets its batch-by-batch calls
        if not prompts:
            return
        if type(self)._complete is LocalChatModel._complete and self._greedy_loop(params):
            self._set_threads()
            yield from self._stream_greedy(prompts, params)
        else:
            yield from super()._complete_stream(prompts, params)

    def _stream_greedy(self, prompts: list[str], params: dict[str, Any]) -> Iterator[tuple[int, str]]:
        """All prompts through :func:`promptkit.models.greedy.greedy_stream` (batches of ``batch_size``, continuous
        with ``continuous_batching``), each answer as soon as it is finished."""
        torch = _torch()
        backend = self.backend
        tok = backend.tokenizer
        rows = tok(prompts, add_special_tokens=False)["input_ids"]
        self._check_window(max(len(r) for r in rows), params["max_new_tokens"])
        stopped = stop_matcher(tok, params["stop"])[1] if any(params["stop"]) else None
        stream = greedy_stream(backend.model, rows, batch_size=self.batch_size,
                               max_new_tokens=params["max_new_tokens"], pad_id=tok.pad_token_id,
                               eos_ids=backend.eos_ids, stopped=stopped,
                               prefixes=backend.prefixes if self.prefix_cache else None, draft=self.draft_tokens,
                               join=self.continuous_batching)
        while True:
            with torch.inference_mode():  # entered per step, so the caller's code between answers runs normally
                item = next(stream, None)
            if item is None:
                return
            yield item[0], tok.decode(item[1], skip_special_tokens=True)

    def _stream_text(self, prompt: str, params: dict[str, Any]) -> Iterator[str]:
        torch = _torch()
        from transformers import StoppingCriteria, TextIteratorStreamer

        self._set_threads()
        enc = self._encode([prompt], params["max_new_tokens"])
        streamer = TextIteratorStreamer(self.backend.tokenizer, skip_prompt=True, skip_special_tokens=True)
        cancelled = threading.Event()
        errors: list[BaseException] = []

        class _Cancel(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full((input_ids.shape[0],), cancelled.is_set(), dtype=torch.bool)

        kwargs = self._generate_kwargs(params)
        kwargs.update(streamer=streamer)
        kwargs.update(self._stopping(params, int(enc["input_ids"].shape[1]), _Cancel()))

        def run() -> None:
            try:
                with torch.inference_mode():
                    self.backend.model.generate(**enc, **kwargs)
            except BaseException as exc:  # surfaced to the consumer below
                errors.append(exc)
                streamer.end()

        worker = threading.Thread(target=run, name="promptkit-stream", daemon=True)
        worker.start()
        try:
            for piece in streamer:
                if piece:
                    yield piece
        finally:
            cancelled.set()
            worker.join()
        if errors:
            raise errors[0]

    def _logprob(self, prompts: list[str], continuations: list[str]) -> list[float]:
        """Sum of log P(token) over each continuation, one forward pass per batch (left-padded)."""
        torch = _torch()
        self._set_threads()
        tok = self.backend.tokenizer
        p_ids = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
        c_ids = [tok(c, add_special_tokens=False)["input_ids"] for c in continuations]
        results = [0.0] * len(prompts)
        rows = [i for i, c in enumerate(c_ids) if c]
        if not rows:
            return results
        seqs = [p_ids[i] + c_ids[i] for i in rows]
        width = max(len(s) for s in seqs)
        if width > self.context_window:
            raise ValidationError(f"prompt plus continuation of {width} tokens exceeds the context window of "
                                  f"{self.context_window} tokens")
        pad = tok.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(s)) + s for s in seqs])
        mask = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in seqs])
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        keep = max(len(c_ids[i]) for i in rows) + 1
        with torch.inference_mode():
            logits = self.backend.model(input_ids=input_ids, attention_mask=mask, position_ids=positions,
                                        logits_to_keep=keep).logits
            logp = torch.log_softmax(logits.float(), dim=-1)
        # Row r's continuation occupies the last n positions; position t's logits predict token t + 1.
        for r, i in enumerate(rows):
            cont = c_ids[i]
            n = len(cont)
            picked = logp[r, keep - 1 - n : keep - 1, :].gather(-1, torch.tensor(cont).unsqueeze(-1))
            results[i] = float(picked.sum())
        return results
