"""A local transformers causal LM as a LangChain chat model, decoded by promptkit's own decoder.

``LocalChatModel(model=..., dtype=...)`` names its weights (a catalogue name, a local folder or a hub id) and
loads them on the first call that needs them; a fully replayed run never does. Weights are shared by every
model object naming the same (model, dtype) (:mod:`promptkit.llm.runtime`), so several chains hold one copy.
Every generation (``invoke``, ``batch``, ``stream``) and every log-probability runs through
:mod:`promptkit.llm.decoding`: the prompts' shared prefix computed once, a batch prefilled as a prefix tree,
prompt-lookup drafts verified several tokens per greedy step.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from langchain_core.messages import BaseMessage
from pydantic import Field, PrivateAttr

from promptkit.errors import ValidationError
from promptkit.llm.base import BatchedChatModel, Completion
from promptkit.llm.runtime import (
    Backend,
    Resolved,
    config_window,
    get_backend,
    load_backend,
    peek_backend,
    resolve,
)
from promptkit.weights.catalog import DEFAULT_LLM

_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool", "function": "tool"}


def text_of(message: BaseMessage) -> str:
    """A message's text (the text parts of a multi-part content)."""
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


def chat_entry(message: BaseMessage) -> dict[str, Any]:
    """One message as a chat-template turn: role and text, plus an assistant turn's tool calls (OpenAI's
    shape, arguments as a mapping) and a tool result's call id."""
    role = getattr(message, "role", None) if message.type == "chat" else _ROLES.get(message.type, "user")
    entry: dict[str, Any] = {"role": role or "user", "content": text_of(message)}
    calls = getattr(message, "tool_calls", None)
    if message.type == "ai" and calls:
        entry["tool_calls"] = [{"type": "function", "id": c.get("id"),
                                "function": {"name": c["name"], "arguments": c.get("args") or {}}}
                               for c in calls]
    if message.type == "tool":
        entry["tool_call_id"] = getattr(message, "tool_call_id", None)
        failed = getattr(message, "status", "success") == "error"
        if failed and not entry["content"].lower().startswith("error"):  # the template has no status field
            entry["content"] = f"Error: {entry['content']}"
    return entry


def _plain(entry: dict[str, Any]) -> str:
    """A turn's text for a model without a chat template (tool calls as the blocks the model answers)."""
    calls = [{"name": c["function"]["name"], "arguments": c["function"]["arguments"]}
             for c in entry.get("tool_calls", [])]
    return entry["content"] + "".join(f"\n<tool_call>\n{json.dumps(c, ensure_ascii=False)}\n</tool_call>"
                                      for c in calls)


def stop_matcher(tokenizer: Any, stops: Sequence[str]) -> Callable[[Sequence[int]], bool]:
    """``matches(ids)``: whether the text of the last few generated tokens holds one of ``stops`` (the window
    holds the longest stop string, since a token may decode to less than a character)."""
    wanted = [s for s in stops if s]
    window = 2 * max((len(s) for s in wanted), default=1) + 4

    def matches(ids: Sequence[int]) -> bool:
        text = tokenizer.decode(list(ids[-window:]), skip_special_tokens=True)
        return any(s in text for s in wanted)

    return matches


class LocalChatModel(BatchedChatModel):
    """A transformers causal LM with real batched generation, streaming and log-probabilities.

        >>> llm = LocalChatModel(model="qwen2.5-coder-0.5b-instruct", max_tokens=32)
        >>> llm.invoke("Quantas tarefas compõem o MMLU?").content
    """

    model: str = DEFAULT_LLM
    """A catalogue name (``promptkit models list``), a local model folder, or a Hugging Face hub id."""
    dtype: Literal["bf16", "fp32"] = "bf16"
    threads: int | None = Field(default=None, ge=1)
    # Greedy decoding: draft this many tokens per row and step from the row's own prompt and verify them in the
    # same forward pass; compute the prompts' shared prefix once. Both measured in benchmarks/README.md.
    draft_tokens: int = Field(default=8, ge=0, le=32)
    prefix_cache: bool = True
    progress: bool = True
    """Show progress bars while a catalogue model's folder is built on first use."""

    _resolved: Resolved | None = PrivateAttr(default=None)
    _backend: Backend | None = PrivateAttr(default=None)
    _source: str | None = PrivateAttr(default=None)
    _light_tokenizer: Any = PrivateAttr(default=None)
    _siblings: dict[str, LocalChatModel] = PrivateAttr(default_factory=dict)

    tool_calling: ClassVar[bool] = True

    @property
    def _llm_type(self) -> str:
        return "promptkit-local"

    # -- identity and weights ---------------------------------------------------------------------------------
    @property
    def resolved(self) -> Resolved:
        if self._resolved is None:
            self._resolved = resolve(self.model)
        return self._resolved

    @property
    def model_id(self) -> str:
        return self.resolved.model_id

    @property
    def revision(self) -> str:
        return self.resolved.revision

    def numerics(self) -> dict[str, Any]:
        return {"dtype": self.dtype}

    @property
    def path(self) -> str:
        """The folder (or hub id) the model loads from; a catalogue model's folder is built on first use."""
        if self._source is None:
            self._source = self.resolved.source(progress=self.progress)
        return self._source

    @property
    def loaded(self) -> bool:
        """Whether the weights are in memory."""
        return self._backend is not None or peek_backend((self.model_id, self.dtype)) is not None

    @property
    def backend(self) -> Backend:
        """The loaded weights and tokenizer (loaded on first use, shared per (model, dtype))."""
        if self._backend is None:
            resolved, dtype, progress = self.resolved, self.dtype, self.progress

            def loader() -> Backend:
                source = self.path
                return load_backend(source, dtype=dtype, local_only=resolved.local_only,
                                    weights=resolved.weights(source, dtype, progress))

            self._backend = get_backend((resolved.model_id, dtype), loader)
        return self._backend

    def attach(self, backend: Backend) -> LocalChatModel:
        """Use already loaded weights (tests and benchmarks that build a model by hand)."""
        self._backend = backend
        return self

    @property
    def window(self) -> int:
        if self.context_window:
            return self.context_window
        backend = self._backend or peek_backend((self.model_id, self.dtype))
        if backend is not None:
            return backend.context_window
        if self.resolved.local_only:
            return config_window(self.path) or 4096
        return self.backend.context_window

    @property
    def tokenizer(self) -> Any:
        """The tokenizer: the cached light front of a local folder, else the loaded backend's."""
        return self._light() or self.backend.tokenizer

    def _light(self) -> Any:
        """The cached tokenizer front of a local folder (``None`` for a hub id): rendering and counting go through
        it even once the weights are loaded, so both are remembered for later replays."""
        if self._light_tokenizer is None:
            from promptkit.llm.tokenizer import LightTokenizer, load_tokenizer

            usable = self.resolved.local_only and LightTokenizer.usable(Path(self.path))
            self._light_tokenizer = load_tokenizer(self.path) if usable else False
        return self._light_tokenizer or None

    def _target(self, params: dict[str, Any]) -> LocalChatModel:
        """This model, or a sibling with the same settings over the model a per-call ``model=`` names."""
        name = params.get("model")
        if not name or name in (self.model, self.model_id):
            return self
        sibling = self._siblings.get(name)
        if sibling is None:
            sibling = self.model_copy(update={"model": name})
            sibling._resolved = sibling._backend = sibling._source = sibling._light_tokenizer = None
            sibling._siblings = {}
            self._siblings[name] = sibling
        return sibling

    def _set_threads(self) -> None:
        if self.threads:
            import torch

            if torch.get_num_threads() != self.threads:
                torch.set_num_threads(self.threads)

    # -- prompts and tokens -----------------------------------------------------------------------------------
    def render_prompt(self, messages: Sequence[BaseMessage], tools: list[dict[str, Any]] | None = None,
                      tool_choice: str = "auto") -> str:
        """The chat template's text of a conversation. With ``tools`` (OpenAI tool dicts) the template lists
        them, and tool calls and results in the history take its own shapes (an assistant turn's
        ``tool_calls``, ``tool`` turns); ``tool_choice="none"`` shows no tools, and a required call opens the
        answer with ``<tool_call>``."""
        from promptkit.llm.tools import FORCED_PREFIX, forced

        tok = self.tokenizer
        chat = [chat_entry(m) for m in messages]
        shown = tools if tools and tool_choice != "none" else None
        if getattr(tok, "chat_template", None):
            extra = {"tools": shown} if shown else {}
            text = tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True, **extra)
        else:
            head = [f"tools: {json.dumps(shown, ensure_ascii=False)}"] if shown else []
            text = "\n\n".join(head + [f"{c['role']}: {_plain(c)}" for c in chat]) + "\n\nassistant:"
        if forced({"tools": shown, "tool_choice": tool_choice}):
            text += FORCED_PREFIX
        return text

    def get_num_tokens(self, text: str) -> int:
        """Tokens of ``text``, memoised per model folder in memory and on disk."""
        from promptkit.llm.tokenizer import count_tokens

        return count_tokens(self.path, self.tokenizer, text)

    def fits(self, prompt: str, params: dict[str, Any]) -> bool:
        return self.get_num_tokens(prompt) + params["max_new_tokens"] <= self.window

    def _check_window(self, length: int, max_new_tokens: int) -> None:
        if length + max_new_tokens > self.window:
            raise ValidationError(
                f"prompt of {length} tokens plus {max_new_tokens} new tokens exceeds the model's context window "
                f"of {self.window} tokens",
                hint="shorten the context (fewer or smaller retrieved chunks) or lower max_new_tokens",
            )

    # -- generation -------------------------------------------------------------------------------------------
    def _decode_options(self, params: dict[str, Any], backend: Backend) -> dict[str, Any]:
        from promptkit.llm.decoding import Sampling

        timeout = params.get("timeout")
        return {
            "max_new_tokens": params["max_new_tokens"],
            "pad_id": backend.tokenizer.pad_token_id,
            "eos_ids": backend.eos_ids,
            "stopped": stop_matcher(backend.tokenizer, params["stop"]) if params["stop"] else None,
            "prefixes": backend.prefixes if self.prefix_cache else None,
            "draft": self.draft_tokens,
            "sampling": Sampling(temperature=params["temperature"], top_p=params["top_p"], seed=params["seed"],
                                 repetition_penalty=backend.repetition_penalty),
            "deadline": time.monotonic() + timeout if timeout else None,
        }

    def _steps(self, rows: list[list[int]], params: dict[str, Any], batch_size: int) -> Iterator[Any]:
        """The decoder's steps over ``rows``, each forward pass under ``torch.inference_mode`` (entered per step,
        so the caller's code between steps runs normally)."""
        import torch

        from promptkit.llm.decoding import decode_events

        backend = self.backend
        self._set_threads()
        if any(not r for r in rows):
            raise ValidationError("a prompt encodes to no tokens with this model's tokenizer",
                                  hint="check the prompt's text and the model's tokenizer files")
        self._check_window(max(len(r) for r in rows), params["max_new_tokens"])
        options = self._decode_options(params, backend)
        from promptkit.llm.tools import forced, forced_format

        fmt = forced_format(params) if forced(params) else params.get("response_format")
        if fmt:
            from promptkit.llm.decoding.grammar import RowConstraint, compile_grammar, guidance_tokenizer

            vocab = int(backend.model.config.vocab_size)
            grammar = compile_grammar(fmt)
            tokenizer = guidance_tokenizer(backend.tokenizer, vocab)
            options["constraints"] = [RowConstraint(tokenizer, grammar, vocab) for _ in rows]
        events = decode_events(backend.model, rows, batch_size=batch_size, **options)
        while True:
            with torch.inference_mode():
                step = next(events, None)
            if step is None:
                return
            yield step

    def _complete(self, prompts: list[str], params: dict[str, Any]) -> list[Completion]:
        out: list[Completion | None] = [None] * len(prompts)
        for i, completion in self._complete_stream(prompts, params):
            out[i] = completion
        return out  # type: ignore[return-value]

    def _complete_stream(self, prompts: list[str], params: dict[str, Any]) -> Iterator[tuple[int, Completion]]:
        if not prompts:
            return
        from promptkit.llm.decoding import grouped_order

        tok = self.backend.tokenizer
        ids = tok(prompts, add_special_tokens=False)["input_ids"]
        # With the prefix cache, prompts that share more than the template (one retrieved passage) go into the
        # same batch, whose prefill computes what they share once; otherwise longest first, to pad little.
        order = grouped_order(prompts) if self.prefix_cache else sorted(range(len(prompts)),
                                                                          key=lambda i: -len(prompts[i]))
        tokens: dict[int, list[int]] = {}
        for step in self._steps([ids[i] for i in order], params, params.get("batch_size") or self.batch_size):
            tokens.setdefault(step.row, []).extend(step.tokens)
            if step.finish:
                i = order[step.row]
                generated = tokens.pop(step.row)
                text = tok.decode(generated, skip_special_tokens=True)
                yield i, Completion(self._forced_wrap(text, params), len(ids[i]), len(generated), step.finish)

    def _stream_completion(self, prompt: str, params: dict[str, Any]) -> Iterator[str | Completion]:
        from promptkit.llm.tools import FORCED_PREFIX, FORCED_SUFFIX, forced

        tok = self.backend.tokenizer
        row = tok([prompt], add_special_tokens=False)["input_ids"][0]
        wrap = forced(params)
        if wrap:
            yield FORCED_PREFIX
        generated: list[int] = []
        shown = ""
        finish = "length"
        for step in self._steps([row], params, 1):
            generated += step.tokens
            text = tok.decode(generated, skip_special_tokens=True)
            if not text.endswith("\ufffd") and len(text) > len(shown) and text.startswith(shown):
                yield text[len(shown) :]  # a character split across tokens waits for its last byte
                shown = text
            if step.finish:
                finish = step.finish
        text = tok.decode(generated, skip_special_tokens=True)
        if len(text) > len(shown) and text.startswith(shown):
            yield text[len(shown) :]
        if wrap:
            yield FORCED_SUFFIX
        yield Completion(self._forced_wrap(text, params), len(row), len(generated), finish)

    @staticmethod
    def _forced_wrap(text: str, params: dict[str, Any]) -> str:
        """A required tool call's answer as the model's own block: the prompt opened ``<tool_call>`` and the
        grammar wrote the JSON; the answer holds both tags, as a free answer would."""
        from promptkit.llm.tools import FORCED_PREFIX, FORCED_SUFFIX, forced

        return FORCED_PREFIX + text.strip() + FORCED_SUFFIX if forced(params) else text

    def _logprob(self, prompts: list[str], continuations: list[str]) -> list[float]:
        """Sum of log P(token) over each continuation, through the decoder's prefill."""
        import torch

        from promptkit.llm.decoding import continuation_logprobs

        backend = self.backend
        tok = backend.tokenizer
        self._set_threads()
        p_ids = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
        c_ids = [tok(c, add_special_tokens=False)["input_ids"] for c in continuations]
        width = max(len(p) + len(c) for p, c in zip(p_ids, c_ids, strict=True))
        if width > self.window:
            raise ValidationError(f"prompt plus continuation of {width} tokens exceeds the context window of "
                                  f"{self.window} tokens")
        with torch.inference_mode():
            return continuation_logprobs(backend.model, p_ids, c_ids, pad_id=tok.pad_token_id,
                                         prefixes=backend.prefixes if self.prefix_cache else None)
