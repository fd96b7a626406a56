"""A moderation guard around any chain: flagged input is refused before the chain runs; flagged output is
withheld.

``with_guard(chain, moderation)`` returns a runnable whose ``batch`` moderates all inputs in one
``moderation.batch`` call, runs the inner chain once (``inner.batch``) on the inputs that passed, and moderates
all answers in one more call. Each output carries ``moderation: {"input": verdict, "output": verdict | None}``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.utils import AddableDict

from promptkit.chains.runnables import _first_config

REFUSALS = {
    "pt-BR": "Não posso ajudar com esse pedido: ele foi bloqueado pela moderação ({categories}).",
    "en": "I can't help with this request: it was blocked by moderation ({categories}).",
}
WITHHELD = {
    "pt-BR": "A resposta foi retida pela moderação ({categories}).",
    "en": "The answer was withheld by moderation ({categories}).",
}
INPUT_KEYS = ("question", "text", "input", "query")


def input_text(value: Any) -> str:
    """The user-written part of a chain input (question/text), not retrieved or given context."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "\n".join(str(value[k]) for k in INPUT_KEYS if isinstance(value.get(k), str))
    return str(value)


def _short(verdict: dict[str, Any]) -> dict[str, Any]:
    return {
        "flagged": verdict["flagged"],
        "categories": verdict["categories"],
        "verdicts": {c: v for c, v in verdict["verdicts"].items() if v["unsafe"] or v["rules"] or v["llm"]},
    }


class GuardedChain(Runnable[Any, dict]):
    """``inner`` wrapped by a moderation chain on its input and (optionally) its output."""

    def __init__(
        self, inner: Runnable, moderation: Runnable, *, check_output: bool = True, language: str = "pt-BR"
    ):
        self.inner = inner
        self.moderation = moderation
        self.check_output = check_output
        self.language = language if language in REFUSALS else "pt-BR"
        self.name = "guarded"

    def _refusal(self, verdict: dict[str, Any]) -> dict[str, Any]:
        text = REFUSALS[self.language].format(categories=", ".join(verdict["categories"]))
        return {
            "answer": text,
            "abstained": True,
            "abstain_reason": "refused",
            "refused": True,
            "withheld": False,
            "raw": "",
            "sources": [],
            "contexts": [],
            "examples": [],
            "moderation": {"input": _short(verdict), "output": None},
        }

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
        cfg = _first_config(config)
        checks = self.moderation.batch([{"text": input_text(i)} for i in inputs], cfg)
        results: list[Any] = [None] * len(inputs)
        allowed = []
        for i, verdict in enumerate(checks):
            if verdict["flagged"]:
                results[i] = self._refusal(verdict)
            else:
                allowed.append(i)
        if allowed:
            outs = self.inner.batch([inputs[i] for i in allowed], cfg, return_exceptions=return_exceptions)
            answered = []
            for i, out in zip(allowed, outs, strict=True):
                if isinstance(out, Exception):
                    results[i] = out
                    continue
                out = dict(out)
                out.update(
                    refused=False, withheld=False, moderation={"input": _short(checks[i]), "output": None}
                )
                results[i] = out
                if self.check_output and str(out.get("answer") or "").strip():
                    answered.append(i)
            if answered:
                verdicts = self.moderation.batch([{"text": results[i]["answer"]} for i in answered], cfg)
                for i, verdict in zip(answered, verdicts, strict=True):
                    results[i]["moderation"]["output"] = _short(verdict)
                    if verdict["flagged"]:
                        results[i].update(
                            answer=WITHHELD[self.language].format(
                                categories=", ".join(verdict["categories"])
                            ),
                            abstained=True,
                            abstain_reason="withheld",
                            withheld=True,
                        )
        return results

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> dict:
        out = self.batch([input], config)[0]
        if isinstance(out, Exception):
            raise out
        return out

    def stream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[dict]:
        """With an output check the answer must be complete before it is shown, so it comes in one chunk."""
        if self.check_output:
            yield self.invoke(input, config)
            return
        verdict = self.moderation.invoke({"text": input_text(input)}, config)
        if verdict["flagged"]:
            yield self._refusal(verdict)
            return
        for chunk in self.inner.stream(input, config):
            yield chunk
        yield AddableDict(
            refused=False, withheld=False, moderation={"input": _short(verdict), "output": None}
        )

    def transform(
        self, input: Iterator[Any], config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[dict]:
        final = None
        for chunk in input:
            final = chunk if final is None else final + chunk
        yield from self.stream(final, config)


def with_guard(
    chain: Runnable, moderation: Runnable, *, check_output: bool = True, language: str = "pt-BR"
) -> Runnable:
    """Wrap ``chain`` with a moderation chain (see :class:`GuardedChain`)."""
    return GuardedChain(chain, moderation, check_output=check_output, language=language)
