"""Chains as small typed pipelines: a state per input, named stages over a batch of states, one output model.

A :class:`Pipeline` is a LangChain ``Runnable``: ``invoke``, ``batch`` (every stage sees the whole batch, so a
model stage sends one batched model call) and ``stream``, with LangChain's callbacks (each input is one chain
run; the model calls are its child runs) and ``return_exceptions`` per input. Its parts:

* ``start(input) -> state``: validates the input and builds the chain's typed state (a dataclass);
* stages (:class:`Stage`), in order: each receives the states still running (``state.done`` false) and fills
  them in; a stage may finish a state early (an abstention, a refusal);
* ``finish(state) -> output``: the chain's documented pydantic output model, returned as a plain dict.

Streaming: the stages before the one marked ``streams`` run as in a batch of one; that stage yields pieces of the
answer as they become final (``{"answer": piece}`` chunks); the last chunk holds every other field. The chunks
add up (``+``) to exactly what ``invoke`` returns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar

from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.utils import AddableDict
from pydantic import BaseModel

S = TypeVar("S")


class Stage(Generic[S]):
    """One named step of a pipeline, run over every state that is not done yet."""

    name: str = "stage"

    def run(self, states: list[S]) -> None:
        """Fill in ``states`` (in place)."""
        raise NotImplementedError

    def stream(self, state: S) -> Iterator[str]:
        """Run on one state, yielding pieces of the final answer as they are settled (streaming stages only)."""
        self.run([state])
        return iter(())


class Pipeline(Runnable[Any, dict]):
    """``start`` → stages → ``finish``, batched and streamed (see the module docstring)."""

    def __init__(
        self,
        name: str,
        start: Callable[[Any, RunnableConfig], S],
        stages: Sequence[Stage[S]],
        finish: Callable[[S], BaseModel],
        *,
        streams: str | None = None,
    ):
        self.name = name
        self.start = start
        self.stages = list(stages)
        self.finish = finish
        self.streams = streams
        names = [s.name for s in self.stages]
        if streams is not None and streams not in names:
            raise ValueError(f"no stage named {streams!r} to stream; stages: {', '.join(names)}")

    @property
    def stage_names(self) -> list[str]:
        return [s.name for s in self.stages]

    # -- batch ------------------------------------------------------------------------------------------------
    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> dict:
        return self.batch([input], config, **kwargs)[0]

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
        return self._batch_with_config(self._run_batch, inputs, config, return_exceptions=return_exceptions,
                                       run_type="chain", per_input=return_exceptions)

    def _run_batch(self, inputs: list[Any], config: list[RunnableConfig], per_input: bool = False) -> list[Any]:
        """Every stage over the whole batch. A bad input fails the batch before any stage runs, unless errors
        are wanted per input (``return_exceptions``): then it carries its error, and if a stage fails the batch
        the inputs run one by one so that only those that fail carry an error."""
        results: list[Any] = [None] * len(inputs)
        states: dict[int, S] = {}
        for i, (value, cfg) in enumerate(zip(inputs, config, strict=True)):
            try:
                states[i] = self.start(value, cfg)
            except Exception as exc:
                if not per_input:
                    raise
                results[i] = exc
        order = sorted(states)
        try:
            for stage in self.stages:
                live = [states[i] for i in order if not getattr(states[i], "done", False)]
                if live:
                    stage.run(live)
        except Exception:
            if not per_input or len(order) <= 1:
                raise
            # run the inputs one by one, so that only the inputs that fail carry the error
            for i in order:
                try:
                    results[i] = self._run_one(inputs[i], config[i])
                except Exception as exc:
                    results[i] = exc
            return results
        for i in order:
            results[i] = self.finish(states[i]).model_dump()
        return results

    def _run_one(self, value: Any, config: RunnableConfig) -> dict:
        state = self.start(value, config)
        for stage in self.stages:
            if not getattr(state, "done", False):
                stage.run([state])
        return self.finish(state).model_dump()

    # -- stream -----------------------------------------------------------------------------------------------
    def stream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[dict]:
        yield from self._transform_stream_with_config(iter([input]), self._stream, config, run_type="chain")

    def _stream(self, inputs: Iterator[Any], config: RunnableConfig) -> Iterator[dict]:
        value = None
        for value in inputs:  # a single input
            pass
        state = self.start(value, config)
        streamed = ""
        for stage in self.stages:
            if getattr(state, "done", False):
                continue
            if stage.name == self.streams:
                for piece in stage.stream(state):
                    if piece:
                        streamed += piece
                        yield AddableDict({"answer": piece})
            else:
                stage.run([state])
        final = self.finish(state).model_dump()
        answer = str(final.get("answer") or "")
        if streamed and not answer.startswith(streamed):
            raise RuntimeError(f"pipeline {self.name!r} streamed an answer that its output does not start with")
        rest = {k: v for k, v in final.items() if k != "answer"}
        rest["answer"] = answer[len(streamed) :]
        yield AddableDict(rest)
