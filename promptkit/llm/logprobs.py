"""Log-probabilities of given continuations, for any promptkit model: the one call chains and judges make.

The no-answer probability of the QA chains, the yes/no layer of moderation and an LLM judge all need
``log P(continuation | prompt)``. :func:`continuation_logprobs` gives it for the in-process model (its
decoder's prefill, exact), for a served model (the completions endpoint's ``echo`` + ``logprobs``, exact, or
the chat endpoint's ``top_logprobs`` of the first token, approximate; see
:class:`~promptkit.llm.served.ServedChatModel`), through the replay cache either way. Where a model gives none
(``transformers serve``, Ollama, a wrapped LangChain model) it returns ``None`` and says so in one line, once
per model and feature, so the caller skips that feature and the run goes on.

    >>> values = continuation_logprobs(llm, [messages_a, messages_b], ["sem resposta", "57"],
    ...                                feature="no-answer probability")
    >>> if values is None: ...                          # the feature is off for this model
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from typing import Any

from promptkit.errors import UnsupportedError

log = logging.getLogger("promptkit.llm")
_SAID: set[tuple[str, str]] = set()
_SAID_LOCK = threading.Lock()


def _render(llm: Any, prompt: Any) -> str:
    """A prompt as the model's ``logprob`` takes it: a string is already rendered; a conversation (a list of
    messages, or a prompt value) is rendered with the model's own chat rendering."""
    if isinstance(prompt, str):
        return prompt
    if hasattr(prompt, "to_messages"):
        prompt = prompt.to_messages()
    return llm.render_prompt(list(prompt))


def supports_logprobs(llm: Any) -> bool:
    """Whether ``llm`` can be asked for log-probabilities at all (a server may still turn out to give
    none)."""
    return callable(getattr(llm, "logprob", None)) and callable(getattr(llm, "render_prompt", None))


def continuation_logprobs(
    llm: Any, prompts: Sequence[Any], continuations: Sequence[str], *, feature: str = "log-probabilities"
) -> list[float] | None:
    """``log P(continuation | prompt)`` summed over the continuation's tokens, one per pair, or ``None`` when
    the model gives no log-probabilities (said once per model and ``feature`` on the ``promptkit.llm``
    logger).

    ``prompts`` are conversations (lists of messages or prompt values) or strings already rendered with
    ``llm.render_prompt``.
    """
    if len(prompts) != len(continuations):
        raise ValueError(f"{len(prompts)} prompts for {len(continuations)} continuations")
    if not prompts:
        return []
    if not supports_logprobs(llm):
        _say(llm, feature, f"{type(llm).__name__} gives no log-probabilities")
        return None
    rendered = [_render(llm, p) for p in prompts]
    try:
        return [float(v) for v in llm.logprob(rendered, list(continuations))]
    except UnsupportedError as exc:
        _say(llm, feature, exc.message)
        return None


def label_probabilities(
    llm: Any, prompts: Sequence[Any], labels: Sequence[str], *, feature: str = "label probabilities"
) -> list[dict[str, float]] | None:
    """For each prompt, the probability of each label among ``labels`` (a softmax of their log-probabilities):
    what a yes/no classifier or an LLM judge with a fixed scale reads. ``None`` as for
    :func:`continuation_logprobs`."""
    labels = list(labels)
    if not labels:
        raise ValueError("label_probabilities needs at least one label")
    flat = [p for p in prompts for _ in labels]
    values = continuation_logprobs(llm, flat, labels * len(prompts), feature=feature)
    if values is None:
        return None
    out = []
    for i in range(len(prompts)):
        row = values[i * len(labels) : (i + 1) * len(labels)]
        top = max(row)
        weights = [math.exp(v - top) for v in row]
        total = sum(weights)
        out.append({label: w / total for label, w in zip(labels, weights, strict=True)})
    return out


def _say(llm: Any, feature: str, why: str) -> None:
    name = str(getattr(llm, "model_id", None) or type(llm).__name__)
    with _SAID_LOCK:
        if (name, feature) in _SAID:
            return
        _SAID.add((name, feature))
    log.warning("%s is off for model %s: %s", feature, name, why)
