"""A LangChain chat model base class with real batched generation and a replay cache.

LangChain's default ``BaseChatModel.batch`` runs ``invoke`` once per input (in threads), which on a CPU model means
one forward pass per example. :class:`BatchedChatModel` overrides ``batch`` so a whole list of conversations is
rendered to prompts, looked up in the replay cache, and only the misses are sent to :meth:`_complete` in
batches of ``batch_size`` (length-sorted by default). Subclasses implement :meth:`render_prompt` and :meth:`_complete`
(and optionally :meth:`_logprob` and :meth:`_stream_text`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import RunnableConfig
from pydantic import ConfigDict, Field

from promptkit.cache import ReplayCache, request_key

ProgressFn = Callable[[int], None]


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
    """Base class: batching, stop strings and the replay cache; subclasses do the actual generation."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_id: str
    revision: str = ""
    max_new_tokens: int = Field(default=64, ge=1)
    temperature: float = Field(default=0.0, ge=0.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    seed: int = 0
    stop: list[str] | None = None
    batch_size: int = Field(default=8, ge=1)
    cache: ReplayCache | None = None
    context_window: int = Field(default=4096, ge=1)

    # -- to implement -----------------------------------------------------------------------------------------
    def render_prompt(self, messages: Sequence[BaseMessage]) -> str:
        """Turn a conversation into the exact text the model sees (its chat template)."""
        raise NotImplementedError

    def _complete(self, prompts: list[str], params: dict[str, Any]) -> list[str]:
        """Generate one continuation per prompt (``len(prompts) <= batch_size``)."""
        raise NotImplementedError

    def _complete_stream(self, prompts: list[str], params: dict[str, Any]) -> Iterator[tuple[int, str]]:
        """``(index, text)`` for every prompt, in any order; by default :meth:`_complete` batch by batch."""
        for start in range(0, len(prompts), self.batch_size):
            texts = self._complete(prompts[start : start + self.batch_size], params)
            yield from enumerate(texts, start)

    def _batch_order(self, prompts: Sequence[str]) -> list[int]:
        """The order in which prompts fill batches: longest first, so a batch's prompts need little padding."""
        return sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))

    def _logprob(self, prompts: list[str], continuations: list[str]) -> list[float]:
        """Sum of log-probabilities of each continuation after its prompt."""
        raise NotImplementedError(f"{type(self).__name__} does not expose log-probabilities")

    def _stream_text(self, prompt: str, params: dict[str, Any]) -> Iterator[str]:
        """Yield pieces of one continuation; the default yields the whole answer at once."""
        yield self._complete([prompt], params)[0]

    def numerics(self) -> dict[str, Any]:
        """Settings that change the numbers the model computes (dtype, quantisation); part of the cache key."""
        return {}

    def get_num_tokens(self, text: str) -> int:
        """Approximate token count (about 4 characters per token); real models override it with their tokenizer.

        LangChain's default would try to download a GPT-2 tokenizer, which fails offline.
        """
        return len(text) // 4 + 1

    # -- generation parameters and cache keys -----------------------------------------------------------------
    def generation_params(self, stop: Sequence[str] | None = None, **overrides: Any) -> dict[str, Any]:
        params = {
            "max_new_tokens": int(overrides.get("max_new_tokens", self.max_new_tokens)),
            "temperature": float(overrides.get("temperature", self.temperature)),
            "top_p": float(overrides.get("top_p", self.top_p)),
            "seed": int(overrides.get("seed", self.seed)),
            "stop": list(stop if stop is not None else overrides.get("stop") or self.stop or []),
        }
        return params

    def request(self, prompt: str, params: dict[str, Any], kind: str = "generate") -> dict[str, Any]:
        return {
            "kind": kind,
            "model": self.model_id,
            "revision": self.revision,
            "numerics": self.numerics(),
            "prompt": prompt,
            "params": params,
        }

    # -- public batched API -----------------------------------------------------------------------------------
    def complete(
        self,
        prompts: Sequence[str],
        *,
        stop: Sequence[str] | None = None,
        progress: ProgressFn | None = None,
        **overrides: Any,
    ) -> list[str]:
        """Generate for many rendered prompts: cache lookups first, then sorted batches of the misses."""
        params = self.generation_params(stop, **overrides)
        requests = [self.request(p, params) for p in prompts]
        keys = [request_key(r) for r in requests]
        cache = self.cache
        found = cache.get_many(keys) if cache is not None else {}
        results: list[str | None] = [found[k]["text"] if k in found else None for k in keys]
        hits = sum(r is not None for r in results)
        if progress and hits:
            progress(hits)
        todo = [i for i, r in enumerate(results) if r is None]
        # Collapse duplicate prompts so they are generated once.
        first_of: dict[str, int] = {}
        unique = [i for i in todo if first_of.setdefault(keys[i], i) == i]
        if cache is not None:
            cache.hits += hits
            cache.misses += len(unique)
            cache.require([keys[i] for i in unique], describe=f"model {self.model_id}")
        unique = [unique[j] for j in self._batch_order([prompts[i] for i in unique])]
        copies = Counter(first_of[keys[i]] for i in todo)
        finished: list[int] = []

        def flush() -> None:  # store and report what finished, batch by batch
            if cache is not None and finished:
                cache.put_many((keys[d], self.model_id, requests[d], {"text": results[d]}) for d in finished)
            if progress and finished:
                progress(sum(copies[d] for d in finished))
            finished.clear()

        try:
            for j, text in self._complete_stream([prompts[i] for i in unique], params):
                results[unique[j]] = apply_stop(text, params["stop"])
                finished.append(unique[j])
                if len(finished) >= self.batch_size:
                    flush()
        finally:  # answers already generated are kept even if a later one fails
            flush()
        for i in todo:
            results[i] = results[first_of[keys[i]]]
        return [r if r is not None else "" for r in results]

    def logprob(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[float]:
        """Cached log P(continuation | prompt), summed over the continuation's tokens."""
        requests = [
            self.request(p, {"continuation": c}, kind="logprob")
            for p, c in zip(prompts, continuations, strict=True)
        ]
        keys = [request_key(r) for r in requests]
        cache = self.cache
        found = cache.get_many(keys) if cache is not None else {}
        out: list[float | None] = [found[k]["logprob"] if k in found else None for k in keys]
        todo = [i for i, v in enumerate(out) if v is None]
        if cache is not None:
            cache.require([keys[i] for i in todo], describe=f"model {self.model_id} log-probabilities")
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start : start + self.batch_size]
            values = self._logprob([prompts[i] for i in chunk], [continuations[i] for i in chunk])
            for i, v in zip(chunk, values, strict=True):
                out[i] = float(v)
            if cache is not None:
                cache.put_many((keys[i], self.model_id, requests[i], {"logprob": out[i]}) for i in chunk)
        return [float(v) for v in out]  # type: ignore[arg-type]

    # -- LangChain hooks --------------------------------------------------------------------------------------
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = self.complete([self.render_prompt(messages)], stop=stop, **kwargs)[0]
        message = AIMessage(content=text, response_metadata={"model": self.model_id})
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        prompt = self.render_prompt(messages)
        params = self.generation_params(stop, **kwargs)
        key = request_key(self.request(prompt, params))
        cached = self.cache.get_many([key]) if self.cache is not None else {}
        if key in cached:
            pieces: Iterator[str] = iter([cached[key]["text"]])
        else:
            if self.cache is not None:
                self.cache.require([key], describe=f"model {self.model_id}")
            pieces = self._stream_text(prompt, params)
        stops = params["stop"]
        # Hold back the last few characters while a stop string could still be forming across pieces.
        hold = max((len(s) for s in stops if s), default=1) - 1
        text = ""
        emitted = ""

        def emit(piece: str) -> ChatGenerationChunk:
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            return chunk

        for piece in pieces:
            text += piece
            cut = apply_stop(text, stops)
            stopped = len(cut) < len(text)
            upto = len(cut) if stopped else max(len(emitted), len(cut) - hold)
            if upto > len(emitted):
                new = cut[len(emitted) : upto]
                emitted += new
                yield emit(new)
            if stopped:
                break
        close = getattr(pieces, "close", None)
        if close is not None:  # stop a generator that is still producing tokens
            close()
        final = apply_stop(text, stops)
        if len(final) > len(emitted):
            yield emit(final[len(emitted) :])
            emitted = final
        if key not in cached and self.cache is not None:
            self.cache.put_many([(key, self.model_id, self.request(prompt, params), {"text": emitted})])

    def batch(
        self,
        inputs: list[Any],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        """Real batched generation: one padded forward pass per ``batch_size`` prompts, not one per input."""
        if not inputs:
            return []
        try:
            prompts = [self.render_prompt(self._convert_input(i).to_messages()) for i in inputs]
            stop = kwargs.pop("stop", None)
            texts = self.complete(prompts, stop=stop, **kwargs)
        except Exception as exc:
            if return_exceptions:
                return [exc for _ in inputs]
            raise
        return [AIMessage(content=t, response_metadata={"model": self.model_id}) for t in texts]

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_id": self.model_id, "revision": self.revision, **self.generation_params()}
