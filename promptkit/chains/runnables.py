"""Three small runnables that keep LangChain's batched path intact through a chain.

LangChain's ``RunnableParallel``/``RunnablePassthrough.assign`` batch by calling ``invoke`` once per input, so a
model inside them would run once per example. :class:`BatchAssign` is the batch-preserving equivalent of
``RunnablePassthrough.assign(key=runnable)``: its ``batch`` hands the whole list to ``runnable.batch``, so
``prompt | model | parser`` inside it reaches the model's real batched ``batch`` once. :class:`BatchLambda` is a
``RunnableLambda`` whose function takes the whole list. :func:`finisher` builds the last step: it passes the
model's text through while streaming and then yields the finished fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig, RunnableGenerator
from langchain_core.runnables.utils import AddableDict


def _merge(chunks: Iterator[Any]) -> Any:
    state: Any = None
    for chunk in chunks:
        if state is None:
            state = chunk
        elif isinstance(state, dict) and isinstance(chunk, dict):
            merged = dict(state)
            for k, v in chunk.items():
                merged[k] = (
                    merged[k] + v if k in merged and isinstance(v, str) and isinstance(merged[k], str) else v
                )
            state = merged
        else:
            state = chunk
    return state


def _first_config(config: RunnableConfig | list[RunnableConfig] | None) -> RunnableConfig | None:
    if isinstance(config, list):
        return config[0] if config else None
    return config


class BatchAssign(Runnable[dict, dict]):
    """``{**state, key: runnable.invoke(select(state))}``, batched as one ``runnable.batch`` call."""

    def __init__(self, key: str, runnable: Runnable, select: Callable[[dict], Any] | None = None):
        self.key = key
        self.runnable = runnable
        self.select = select or (lambda state: state)
        self.name = f"assign_{key}"

    def invoke(self, input: dict, config: RunnableConfig | None = None, **kwargs: Any) -> dict:
        return self.batch([input], config, **kwargs)[0]

    def batch(
        self,
        inputs: list[dict],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        if not inputs:
            return []
        todo = [i for i, s in enumerate(inputs) if not isinstance(s, Exception) and not s.get("_skip")]
        results: list[Any] = list(inputs)
        if todo:
            sub = [self.select(inputs[i]) for i in todo]
            outs = self.runnable.batch(sub, _first_config(config), return_exceptions=return_exceptions)
            for i, out in zip(todo, outs, strict=True):
                results[i] = out if isinstance(out, Exception) else {**inputs[i], self.key: out}
        return results

    def transform(
        self, input: Iterator[dict], config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[dict]:
        state = _merge(input)
        if state.get("_skip"):
            yield AddableDict(state)
            return
        yield AddableDict(state)
        for piece in self.runnable.stream(self.select(state), config):
            yield AddableDict({self.key: piece})

    def stream(self, input: dict, config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[dict]:
        yield from self.transform(iter([input]), config, **kwargs)


class BatchLambda(Runnable[Any, Any]):
    """A step whose function maps a whole list of states at once (``invoke`` is a list of one)."""

    def __init__(self, func: Callable[[list[Any]], list[Any]], name: str | None = None):
        self.func = func
        self.name = name or getattr(func, "__name__", "batch_lambda")

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return self.func([input])[0]

    def batch(
        self,
        inputs: list[Any],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        if not inputs:
            return []
        try:
            return self.func(list(inputs))
        except Exception as exc:
            if return_exceptions:
                return [exc for _ in inputs]
            raise

    def transform(
        self, input: Iterator[Any], config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[Any]:
        yield self.invoke(_merge(input), config)


def finisher(finish: Callable[[dict], dict], stream_key: str = "raw", name: str = "finish") -> Runnable:
    """The last step of a chain: stream ``stream_key`` pieces as they come, then the finished fields.

    The chunks it yields add up (``+``) to exactly ``finish(state)``: first ``{"raw": piece}`` chunks, then one
    chunk with every other field.
    """

    def _run(chunks: Iterator[dict]) -> Iterator[dict]:
        state: dict = {}
        streamed = ""
        for chunk in chunks:
            for k, v in chunk.items():
                if k == stream_key and isinstance(v, str):
                    streamed += v
                    if v:
                        yield AddableDict({stream_key: v})
                else:
                    state[k] = v
        state[stream_key] = streamed if streamed or stream_key not in state else state[stream_key]
        final = finish(state)
        if stream_key in final and final[stream_key] != streamed:
            # the finished value differs from what was streamed (e.g. no model call): emit the rest
            rest = final[stream_key][len(streamed) :] if final[stream_key].startswith(streamed) else None
            if rest is None:
                raise RuntimeError("finisher changed an already streamed value")
            if rest:
                yield AddableDict({stream_key: rest})
        last = {k: v for k, v in final.items() if k != stream_key}
        if stream_key in final and not final[stream_key]:
            last[stream_key] = ""  # nothing was streamed (no model call): the key is still there
        yield AddableDict(last)

    return RunnableGenerator(_run, name=name)
