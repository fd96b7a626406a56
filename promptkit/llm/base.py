"""promptkit's LangChain chat model base: real batches under LangChain's own contract.

LangChain's ``BaseChatModel.batch`` runs ``invoke`` once per input (in threads), which on a CPU model means one
forward pass per example. :class:`BatchedChatModel.batch` first generates, in real padded batches of
``batch_size``, the answers of every input that the model's cache does not already hold, then hands the inputs to
LangChain's own ``batch``: each input is an ordinary ``invoke`` (callbacks, tags, metadata, run ids, message ids,
``max_concurrency``, ``return_exceptions`` per input, cache lookups and updates, all LangChain's), whose
``_generate`` takes the answer already computed for it. ``abatch`` does the same.

The cache is LangChain's: ``cache=`` any ``BaseCache`` (promptkit's :class:`~promptkit.cache.ReplayCache` records,
replays or refuses in strict mode), ``True``/``None`` for the global one, ``False`` for none. ``stream`` looks up
and records through the same cache and key as ``invoke``.

Subclasses implement :meth:`render_prompt` and :meth:`_complete` (and optionally :meth:`_complete_stream`,
:meth:`_stream_completion` and :meth:`_logprob`). Those that set ``tool_calling`` take ``bind_tools``: their
``render_prompt`` shows the bound tools to the model, and the answer's ``<tool_call>`` blocks become the
message's tool calls (:mod:`promptkit.llm.tools`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar, NamedTuple

from langchain_core.caches import BaseCache
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.globals import get_llm_cache
from langchain_core.language_models.base import LangSmithParams
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.load import dumps
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import get_config_list, run_in_executor
from pydantic import AliasChoices, ConfigDict, Field, PrivateAttr

from promptkit.cache import ReplayCache, request_key
from promptkit.errors import UnsupportedError, ValidationError
from promptkit.fileio import canonical_json

ProgressFn = Callable[[int], None]

#: keyword arguments a call (``invoke(..., **kwargs)``, ``bind(**kwargs)``) may set; anything else is refused
CALL_OPTIONS = ("max_new_tokens", "max_tokens", "temperature", "top_p", "seed", "stop", "timeout", "model",
                "response_format")
#: the options ``bind_tools`` binds, taken by models that call tools (:attr:`BatchedChatModel.tool_calling`)
TOOL_OPTIONS = ("tools", "tool_choice")
#: what LangChain's ``with_structured_output`` binds for tracers only (``generate``/``stream`` drop it before the
#: model sees the call; a batch hands it on, so it is dropped here too)
TRACING_ONLY = ("ls_structured_output_format", "structured_output_format")


class Completion(NamedTuple):
    """One generated answer with its token counts and why it ended (``"stop"`` or ``"length"``)."""

    text: str
    prompt_tokens: int
    output_tokens: int
    finish_reason: str = "stop"


def apply_stop(text: str, stop: Sequence[str] | None) -> str:
    """Cut ``text`` at the first occurrence of any stop string."""
    if not stop:
        return text
    cut = len(text)
    for s in stop:
        if s:
            i = text.find(s)
            if i != -1:
                cut = min(cut, i)
    return text[:cut]


class BatchedChatModel(BaseChatModel):
    """Base class: call options, batching, LangChain's cache and callbacks; subclasses do the generation."""

    model_config = ConfigDict(arbitrary_types_allowed=True, populate_by_name=True, extra="forbid")

    max_new_tokens: int = Field(default=64, ge=1, validation_alias=AliasChoices("max_new_tokens", "max_tokens"))
    """Tokens generated at most per answer (``max_tokens`` is accepted as its LangChain name)."""
    temperature: float = Field(default=0.0, ge=0.0)
    """0 decodes greedily; above 0 samples (with ``top_p`` and ``seed``)."""
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    seed: int = 0
    stop: list[str] | None = None
    timeout: float | None = Field(default=None, gt=0)
    """Seconds a call may take; past it the call ends with :class:`~promptkit.errors.GenerationTimeout`."""
    batch_size: int = Field(default=8, ge=1)
    context_window: int | None = Field(default=None, ge=1)
    streaming: bool = False
    """Make ``invoke`` stream internally (tokens reach ``on_llm_new_token`` callbacks), as LangChain defines it."""

    tool_calling: ClassVar[bool] = False
    """Whether the model takes ``bind_tools`` (its prompt shows the tools, its answers are read for calls)."""

    _ready: dict[str, list[Any]] = PrivateAttr(default_factory=dict)
    _ready_lock: Any = PrivateAttr(default_factory=threading.Lock)

    # -- identity (subclasses) --------------------------------------------------------------------------------
    @property
    def model_id(self) -> str:
        """The model's identity, as cache keys and results record it."""
        raise NotImplementedError

    @property
    def revision(self) -> str:
        """A fingerprint of the weights (empty when unknown)."""
        return ""

    def numerics(self) -> dict[str, Any]:
        """Settings that change the numbers the model computes (dtype); part of the cache key."""
        return {}

    @property
    def window(self) -> int:
        """The context window in tokens."""
        return self.context_window or 4096

    # -- to implement -----------------------------------------------------------------------------------------
    def render_prompt(self, messages: Sequence[BaseMessage]) -> str:
        """Turn a conversation into the exact text the model sees (its chat template). Models with
        ``tool_calling`` also take ``tools=`` (OpenAI tool dicts) and ``tool_choice=`` (normalised)."""
        raise NotImplementedError

    def _render(self, target: BatchedChatModel, messages: Sequence[BaseMessage],
                params: dict[str, Any]) -> str:
        """The prompt of one call: the conversation, with the bound tools when the call has them."""
        if params.get("tools"):
            return target.render_prompt(messages, tools=params["tools"], tool_choice=params["tool_choice"])
        return target.render_prompt(messages)

    def _complete(self, prompts: list[str], params: dict[str, Any]) -> list[Completion]:
        """Generate one answer per prompt (``len(prompts) <= batch_size``)."""
        raise NotImplementedError

    def _complete_stream(self, prompts: list[str], params: dict[str, Any]) -> Iterator[tuple[int, Completion]]:
        """``(index, completion)`` for every prompt, in any order; by default :meth:`_complete` batch by batch."""
        size = params.get("batch_size") or self.batch_size
        for start in range(0, len(prompts), size):
            yield from enumerate(self._complete(prompts[start : start + size], params), start)

    def _stream_completion(self, prompt: str, params: dict[str, Any]) -> Iterator[str | Completion]:
        """Pieces of one answer as they are generated, then its :class:`Completion`; by default all at once."""
        completion = self._complete([prompt], params)[0]
        yield completion.text
        yield completion

    def _logprob(self, prompts: list[str], continuations: list[str]) -> list[float]:
        """Sum of log-probabilities of each continuation after its prompt."""
        raise UnsupportedError(f"{type(self).__name__} does not expose log-probabilities")

    def get_num_tokens(self, text: str) -> int:
        """Approximate token count (about 4 characters per token); real models override it with their tokenizer.

        LangChain's default would try to download a GPT-2 tokenizer, which fails offline.
        """
        return len(text) // 4 + 1

    # -- call options -----------------------------------------------------------------------------------------
    def call_params(self, stop: Sequence[str] | None = None, **kwargs: Any) -> dict[str, Any]:
        """The effective options of one call: the model's defaults overridden by the call's ``kwargs``.

        Only :data:`CALL_OPTIONS` (and :data:`TOOL_OPTIONS` for models with ``tool_calling``) are accepted;
        anything else (a misspelt name) is refused rather than silently ignored. ``response_format`` (OpenAI's
        shapes) makes the answer JSON, optionally matching a schema.
        """
        kwargs = {k: v for k, v in kwargs.items() if k not in TRACING_ONLY}
        accepted = CALL_OPTIONS + TOOL_OPTIONS if self.tool_calling else CALL_OPTIONS
        unknown = sorted(set(kwargs) - set(accepted))
        if unknown:
            raise UnsupportedError(
                f"{type(self).__name__} does not take the option(s) {', '.join(unknown)}",
                hint=f"options a call may set: {', '.join(accepted)}"
                + ("; tool calling needs a model that supports it (the local model)" if "tools" in unknown
                   else ""),
            )
        limit = kwargs.get("max_new_tokens", kwargs.get("max_tokens", self.max_new_tokens))
        if "max_new_tokens" in kwargs and "max_tokens" in kwargs and kwargs["max_tokens"] != limit:
            raise ValidationError("max_tokens and max_new_tokens disagree; pass one of them")
        stops = stop if stop is not None else kwargs.get("stop")
        params: dict[str, Any] = {
            "max_new_tokens": int(limit),
            "temperature": float(kwargs.get("temperature", self.temperature)),
            "top_p": float(kwargs.get("top_p", self.top_p)),
            "seed": int(kwargs.get("seed", self.seed)),
            "stop": [s for s in (stops if stops is not None else self.stop or []) if s],
        }
        if params["max_new_tokens"] < 1 or params["temperature"] < 0 or not 0 < params["top_p"] <= 1:
            raise ValidationError(
                f"invalid generation options {params}: max_new_tokens >= 1, temperature >= 0, 0 < top_p <= 1"
            )
        if kwargs.get("model"):
            params["model"] = str(kwargs["model"])
        if kwargs.get("response_format") is not None:
            from promptkit.llm.decoding.grammar import schema_of

            schema_of(kwargs["response_format"])  # refuses an unsupported shape now
            params["response_format"] = dict(kwargs["response_format"])
        timeout = kwargs.get("timeout", self.timeout)
        if timeout is not None:
            if float(timeout) <= 0:
                raise ValidationError(f"timeout must be a positive number of seconds, got {timeout!r}")
            params["timeout"] = float(timeout)
        if kwargs.get("tools") or kwargs.get("tool_choice") not in (None, "auto", "none"):
            from promptkit.llm.tools import normalize_choice, openai_tools

            if not kwargs.get("tools"):
                raise ValidationError(f"tool_choice {kwargs['tool_choice']!r} without tools",
                                      hint="bind the tools with bind_tools(tools, tool_choice=...)")
            if params.get("response_format"):
                raise ValidationError("a call takes tools or response_format, not both",
                                      hint="use with_structured_output or bind_tools")
            params["tools"] = openai_tools(kwargs["tools"])
            params["tool_choice"] = normalize_choice(kwargs.get("tool_choice"), params["tools"])
        return params

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any) -> Any:
        """This model with ``tools`` bound (LangChain tools, pydantic classes, typed functions, OpenAI tool
        dicts): answers carry ``tool_calls``. ``tool_choice``: ``None``/``"auto"`` (the model decides),
        ``"none"``, ``"any"``/``"required"`` (some call, enforced while decoding) or a tool's name (a call of
        that tool). See :mod:`promptkit.llm.tools`."""
        if not self.tool_calling:
            raise UnsupportedError(f"{type(self).__name__} does not call tools",
                                   hint="use the local model (load_llm()) for tool calling")
        from promptkit.llm.tools import normalize_choice, openai_tools

        converted = openai_tools(tools)
        choice = normalize_choice(tool_choice, converted) if converted else "auto"
        return self.bind(tools=converted, tool_choice=choice, **kwargs)

    def request(self, prompt: str, params: dict[str, Any], kind: str = "generate") -> dict[str, Any]:
        """A promptkit request mapping (rendered prompt and options), keyed in the replay store."""
        return {
            "kind": kind,
            "model": params.get("model") or self.model_id,
            "revision": self.revision,
            "numerics": self.numerics(),
            "prompt": prompt,
            "params": {k: v for k, v in params.items() if k not in ("timeout", "model", "batch_size")},
        }

    @property
    def _identifying_params(self) -> dict[str, Any]:
        """What LangChain reports to tracers and callbacks (and evaluation results record) about this model."""
        return {"model": self.model_id, "revision": self.revision, "numerics": self.numerics(),
                **self.call_params(), "batch_size": self.batch_size, "context_window": self.context_window}

    def _get_llm_string(self, stop: list[str] | None = None, **kwargs: Any) -> str:
        """The cache key's model part: identity and every effective generation option, canonical, so equivalent
        spellings of a call (``max_tokens`` or ``max_new_tokens``, a bound default) share one cache entry."""
        params = self.call_params(stop, **kwargs)
        return canonical_json({"_type": self._llm_type, "model": params.pop("model", None) or self.model_id,
                               "revision": self.revision, "numerics": self.numerics(),
                               **{k: v for k, v in params.items() if k != "timeout"}})

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(ls_provider="promptkit", ls_model_type="chat",
                                 ls_model_name=str(kwargs.get("model") or self.model_id),
                                 ls_temperature=float(kwargs.get("temperature", self.temperature)),
                                 ls_max_tokens=int(kwargs.get("max_new_tokens",
                                                              kwargs.get("max_tokens", self.max_new_tokens))))
        stops = stop if stop is not None else self.stop
        if stops:
            params["ls_stop"] = list(stops)
        return params

    # -- the cache --------------------------------------------------------------------------------------------
    def effective_cache(self) -> BaseCache | None:
        """The cache this model's calls go through, by LangChain's rules (own, else global unless ``False``)."""
        if self.cache is False:
            return None
        if isinstance(self.cache, BaseCache):
            return self.cache
        return get_llm_cache()

    def replay_store(self) -> ReplayCache | None:
        """The effective cache when it is a promptkit replay cache (log-probabilities are recorded there too)."""
        cache = self.effective_cache()
        return cache if isinstance(cache, ReplayCache) else None

    def _cache_prompt(self, messages: Sequence[BaseMessage]) -> str:
        """The ``prompt`` LangChain's cache is keyed by for a conversation (message ids left out, as LangChain
        does)."""
        normalized = [m.model_copy(update={"id": None}) if getattr(m, "id", None) is not None else m
                      for m in messages]
        return dumps(normalized)

    def _ready_key(self, prompt: str, params: dict[str, Any]) -> str:
        return request_key(self.request(prompt, params))

    def _take_ready(self, key: str) -> Completion | None:
        with self._ready_lock:
            slot = self._ready.get(key)
            if not slot:
                return None
            completion, uses = slot
            if uses <= 1:
                del self._ready[key]
            else:
                slot[1] = uses - 1
            return completion

    # -- generation -------------------------------------------------------------------------------------------
    def generate_completions(
        self,
        prompts: Sequence[str],
        params: dict[str, Any],
        *,
        progress: ProgressFn | None = None,
        on_result: Callable[[int, Completion], None] | None = None,
    ) -> list[Completion]:
        """Generate for rendered ``prompts`` (no cache): duplicates once, the rest in batches of ``batch_size``."""
        first: dict[str, int] = {}
        unique = [i for i, p in enumerate(prompts) if first.setdefault(p, i) == i]
        copies = {i: sum(1 for p in prompts if first[p] == i) for i in unique}
        results: dict[int, Completion] = {}
        for j, completion in self._complete_stream([prompts[i] for i in unique], params):
            i = unique[j]
            completion = completion._replace(text=apply_stop(completion.text, params["stop"]))
            results[i] = completion
            if on_result is not None:
                on_result(i, completion)
            if progress is not None:
                progress(copies[i])
        return [results[first[p]] for p in prompts]

    def complete(
        self,
        prompts: Sequence[str],
        *,
        stop: Sequence[str] | None = None,
        progress: ProgressFn | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Generate for rendered prompts, uncached: the decoder's raw entry point (benchmarks, diagnostics)."""
        params = self.call_params(stop, **kwargs)
        return [c.text for c in self.generate_completions(list(prompts), params, progress=progress)]

    def _message(self, completion: Completion, params: dict[str, Any]) -> AIMessage:
        from promptkit.llm.tools import active, parse_tool_calls, tool_names

        content, calls, invalid = parse_tool_calls(completion.text, tool_names(params["tools"])) \
            if active(params) else (completion.text, [], [])
        return AIMessage(content=content, tool_calls=calls, invalid_tool_calls=invalid,
                         usage_metadata=_usage(completion),
                         response_metadata=self._response_metadata(completion, params))

    def _response_metadata(self, completion: Completion, params: dict[str, Any]) -> dict[str, Any]:
        return {"model_name": params.get("model") or self.model_id, "finish_reason": completion.finish_reason}

    def prepare_batch(
        self,
        inputs: Sequence[Any],
        kwargs: dict[str, Any],
        *,
        max_concurrency: int | None = None,
        return_exceptions: bool = False,
        progress: ProgressFn | None = None,
    ) -> list[str]:
        """Generate, in real batches, the answers of ``inputs`` that the cache lacks, and hold them for the
        ``invoke`` of each input: a promptkit replay cache stores each answer as soon as it is finished (a crash
        keeps what was generated), other cases hold them in memory. Returns what to :meth:`release` afterwards."""
        stop = kwargs.get("stop")
        rest = {k: v for k, v in kwargs.items() if k != "stop" and k not in TRACING_ONLY}
        params = self.call_params(stop, **rest)
        if max_concurrency:
            params["batch_size"] = max(1, min(self.batch_size, int(max_concurrency)))
        cache = self.effective_cache()
        llm_string = self._get_llm_string(stop=stop, **rest) if cache is not None else ""
        conversations: list[tuple[int, list[BaseMessage], str]] = []
        for i, value in enumerate(inputs):
            try:
                messages = self._convert_input(value).to_messages()
            except Exception:
                if return_exceptions:
                    continue  # the input's own invoke reports it
                raise
            conversations.append((i, messages, self._cache_prompt(messages) if cache is not None else ""))
        todo = conversations
        if cache is not None:
            todo = self._uncached(cache, conversations, llm_string, strict_raise=not return_exceptions)
        if progress is not None and len(todo) < len(conversations):
            progress(len(conversations) - len(todo))
        if not todo:
            return []
        target = self._target(params)
        prompts = [self._render(target, messages, params) for _, messages, _ in todo]
        store = cache if isinstance(cache, ReplayCache) and cache.mode in ("use", "refresh") else None
        fitting = [i for i, p in enumerate(prompts) if target.fits(p, params)]
        same: dict[str, list[int]] = {}  # inputs with one prompt share one generation
        for i in fitting:
            same.setdefault(prompts[i], []).append(i)
        held: list[str] = []

        def hold(j: int, completion: Completion) -> None:
            for k in same[prompts[fitting[j]]]:
                key = store.record(todo[k][2], llm_string, self._message(completion, params)) if store else None
                if key is None:
                    key = self._ready_key(prompts[k], params)
                    with self._ready_lock:
                        self._ready.setdefault(key, [completion, 0])[1] += 1
                held.append(key)

        try:
            target.generate_completions([prompts[i] for i in fitting], params, progress=progress, on_result=hold)
        except Exception:
            if not return_exceptions:
                self.release(held)
                raise
            # each input left then generates alone, and only the failing ones fail
        return held

    def _target(self, params: dict[str, Any]) -> BatchedChatModel:
        """The model that serves a call: this one, or the one a per-call ``model=`` names (subclasses that can
        switch models override this; the others refuse a different name rather than ignore it)."""
        name = params.get("model")
        if name and name != self.model_id:
            raise UnsupportedError(f"{type(self).__name__} cannot switch to model {name!r} per call",
                                   hint="build another chat model for it")
        return self

    def fits(self, prompt: str, params: dict[str, Any]) -> bool:
        """Whether a prompt plus its new tokens fits the context window (those that do not fail on their own)."""
        return True

    def _uncached(self, cache: BaseCache, conversations: list[tuple[int, list[BaseMessage], str]],
                  llm_string: str, *, strict_raise: bool) -> list[tuple[int, list[BaseMessage], str]]:
        from promptkit.cache import chat_key

        if isinstance(cache, ReplayCache):
            if cache.mode in ("off", "refresh"):
                return conversations
            keys = [chat_key(prompt, llm_string) for _, _, prompt in conversations]
            found = cache.get_many(keys)
            todo = [c for c, k in zip(conversations, keys, strict=True) if k not in found]
            if strict_raise:
                cache.require([chat_key(p, llm_string) for _, _, p in todo], describe=f"model {self.model_id}")
            return todo
        return [c for c in conversations if cache.lookup(c[2], llm_string) is None]

    def release(self, keys: Sequence[str]) -> None:
        """Drop held answers that no ``invoke`` took (an input that failed before reaching the model)."""
        with self._ready_lock:
            for key in keys:
                self._ready.pop(key, None)
        store = self.replay_store()
        if store is not None:
            store.discard(keys)

    def batch(
        self,
        inputs: list[Any],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        """Real batched generation (one padded forward pass per ``batch_size`` prompts), then LangChain's batch."""
        if not inputs:
            return []
        configs = get_config_list(config, len(inputs))
        keys = self.prepare_batch(inputs, kwargs, max_concurrency=configs[0].get("max_concurrency"),
                                  return_exceptions=return_exceptions)
        try:
            return super().batch(inputs, config, return_exceptions=return_exceptions, **kwargs)
        finally:
            self.release(keys)

    async def abatch(
        self,
        inputs: list[Any],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        if not inputs:
            return []
        configs = get_config_list(config, len(inputs))
        keys = await run_in_executor(None, lambda: self.prepare_batch(
            inputs, kwargs, max_concurrency=configs[0].get("max_concurrency"), return_exceptions=return_exceptions))
        try:
            return await super().abatch(inputs, config, return_exceptions=return_exceptions, **kwargs)
        finally:
            self.release(keys)

    # -- LangChain hooks --------------------------------------------------------------------------------------
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        params = self.call_params(stop, **kwargs)
        target = self._target(params)
        prompt = self._render(target, messages, params)
        completion = self._take_ready(self._ready_key(prompt, params))
        if completion is None:
            completion = target.generate_completions([prompt], params)[0]
        return ChatResult(generations=[ChatGeneration(message=self._message(completion, params))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        params = self.call_params(stop, **kwargs)
        cache = self.effective_cache()
        cache_prompt = llm_string = ""
        if cache is not None:
            cache_prompt, llm_string = self._cache_prompt(messages), self._get_llm_string(stop=stop, **kwargs)
            cached = cache.lookup(cache_prompt, llm_string)
            if cached:
                message = cached[0].message
                yield ChatGenerationChunk(message=AIMessageChunk(content=message.content))
                yield ChatGenerationChunk(message=AIMessageChunk(
                    content="", usage_metadata=getattr(message, "usage_metadata", None),
                    response_metadata=dict(message.response_metadata), chunk_position="last",
                    **_call_chunks(message)))
                return
        target = self._target(params)
        prompt = self._render(target, messages, params)
        ready = self._take_ready(self._ready_key(prompt, params))
        pieces: Iterator[str | Completion] = iter([ready.text, ready]) if ready else \
            target._stream_completion(prompt, params)
        stops = params["stop"]
        # Hold back the last few characters while a stop string could still be forming across pieces; with
        # tools, the text from a tool-call block on is held to the end, where the calls are read from the
        # whole answer.
        hold = max((len(s) for s in stops), default=1) - 1
        from promptkit.llm.tools import active, held_text

        tools = active(params)
        text = emitted = ""
        completion: Completion | None = None

        def emit(piece: str) -> ChatGenerationChunk:
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            return chunk

        try:
            for piece in pieces:
                if isinstance(piece, Completion):
                    completion = piece
                    continue
                text += piece
                cut = apply_stop(text, stops)
                stopped = len(cut) < len(text)
                upto = len(cut) if stopped else max(len(emitted), len(cut) - hold)
                if tools:
                    upto = min(upto, len(held_text(cut)))
                if upto > len(emitted):
                    yield emit(cut[len(emitted) : upto])
                    emitted = cut[:upto]
                if stopped:
                    break
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:  # stop a generator that is still producing tokens
                close()
        final = apply_stop(text, stops)
        completion = (completion or Completion(final, 0, 0, "stop"))._replace(text=final)
        message = self._message(completion, params)
        if tools:  # the text outside the blocks, whose emitted part is its beginning
            final = message.content if message.content.startswith(emitted) else emitted
        if len(final) > len(emitted):
            yield emit(final[len(emitted) :])
        yield ChatGenerationChunk(message=AIMessageChunk(content="", usage_metadata=message.usage_metadata,
                                                         response_metadata=message.response_metadata,
                                                         chunk_position="last", **_call_chunks(message)))
        if cache is not None and not ready:
            cache.update(cache_prompt, llm_string, [ChatGeneration(message=message)])

    def with_structured_output(
        self,
        schema: Any = None,
        *,
        method: str = "json_schema",
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Any:
        """Answers as validated objects: ``schema`` is a pydantic class, a TypedDict or a JSON schema dict;
        ``method`` is ``json_schema`` (default) or ``function_calling`` (both enforce the schema while decoding),
        or ``json_mode`` (any JSON object). See :mod:`promptkit.llm.structured`."""
        from promptkit.llm.structured import structured

        return structured(self, schema, method=method, include_raw=include_raw, strict=strict, **kwargs)

    # -- log-probabilities ------------------------------------------------------------------------------------
    def logprob(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[float]:
        """Cached log P(continuation | prompt), summed over the continuation's tokens (rendered prompts)."""
        requests = [
            self.request(p, {"continuation": c}, kind="logprob")
            for p, c in zip(prompts, continuations, strict=True)
        ]
        keys = [request_key(r) for r in requests]
        store = self.replay_store()
        found = store.get_many(keys) if store is not None else {}
        out: list[float | None] = [found[k]["logprob"] if k in found else None for k in keys]
        todo = [i for i, v in enumerate(out) if v is None]
        if store is not None:
            store.count(len(keys) - len(todo), len(todo))
            store.require([keys[i] for i in todo], describe=f"model {self.model_id} log-probabilities")
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start : start + self.batch_size]
            values = self._logprob([prompts[i] for i in chunk], [continuations[i] for i in chunk])
            for i, v in zip(chunk, values, strict=True):
                out[i] = float(v)
            if store is not None:
                store.put_many((keys[i], self.model_id, requests[i], {"logprob": out[i]}) for i in chunk)
        return [float(v) for v in out]  # type: ignore[arg-type]


def _call_chunks(message: BaseMessage) -> dict[str, Any]:
    """A message's tool calls as the ``tool_call_chunks`` of its last stream chunk, their arguments as JSON
    text that LangChain parses back when chunks are added. An invalid call's text goes as a JSON string, so
    that it stays invalid (LangChain's partial-JSON parser would read a broken object as a valid call)."""
    import json

    calls = getattr(message, "tool_calls", None) or []
    invalid = getattr(message, "invalid_tool_calls", None) or []
    if not calls and not invalid:
        return {}
    chunks = [{"type": "tool_call_chunk", "name": c["name"], "id": c["id"], "index": i,
               "args": json.dumps(c["args"], ensure_ascii=False)} for i, c in enumerate(calls)]
    chunks += [{"type": "tool_call_chunk", "name": c.get("name"), "args": json.dumps(c.get("args") or ""),
                "id": c.get("id"), "index": len(calls) + i} for i, c in enumerate(invalid)]
    return {"tool_call_chunks": chunks}


def _usage(completion: Completion) -> dict[str, int]:
    return {"input_tokens": completion.prompt_tokens, "output_tokens": completion.output_tokens,
            "total_tokens": completion.prompt_tokens + completion.output_tokens}
