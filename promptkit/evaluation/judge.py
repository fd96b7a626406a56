"""An LLM judge: any LangChain chat model asked yes/no questions about an answer.

Criteria (:data:`CRITERIA`) are questions with a yes/no answer:

* ``faithful``: is every statement of the answer supported by the given sources?
* ``answers``: does the answer actually answer the student's question?

How the verdict is read: when the model offers log-probabilities of a continuation (promptkit's local models:
``render_prompt(messages)`` and ``logprob(prompts, continuations)``), the judge compares the probability of
the answer starting with "Yes" with that of "No" (``yes``/``no`` in any case, summed) and says yes when
``p_yes = P(yes) / (P(yes) + P(no))`` is at least 0.5; otherwise (a served model without log-probabilities) it
generates a few tokens and reads the first word (yes/sim or no/não; anything else is undecided, ``None``).
Verdicts go through the model's LangChain cache like any model call, so a promptkit
:class:`~promptkit.cache.ReplayCache` records them and a strict replay needs no model.

Judges disagree with people; :mod:`promptkit.evaluation.agreement` measures how much (Cohen's kappa on hand
labels).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promptkit.errors import UnsupportedError, ValidationError
from promptkit.text import fold_words

#: criterion → the yes/no question asked
CRITERIA: dict[str, str] = {
    "faithful": "Is the answer faithful to the sources, that is, is every statement in it supported by the "
                "sources?",
    "answers": "Does the answer actually answer the student's question?",
}

SYSTEM = (
    "You are a strict grader of a course tutor's answers. You read a student's question, the tutor's answer "
    "and the course sources the answer cites, then answer one yes/no question about the answer. Reply with a "
    "single word: Yes or No."
)

YES = ("Yes", "yes")
NO = ("No", "no")
_YES_WORDS = ("yes", "sim")
_NO_WORDS = ("no", "nao")


@dataclass(frozen=True)
class Verdict:
    """One judge verdict: ``answer`` True (yes), False (no) or None (undecided); ``p_yes`` when read from
    log-probabilities; ``via`` is ``"logprob"`` or ``"text"``; ``text`` is the generated word(s)."""

    answer: bool | None
    p_yes: float | None = None
    via: str = "logprob"
    text: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"answer": self.answer, "via": self.via}
        if self.p_yes is not None:
            out["p_yes"] = round(self.p_yes, 4)
        if self.text is not None:
            out["text"] = self.text
        return out


def read_word(text: str) -> bool | None:
    """The verdict in a generated text: its first word, yes/sim or no/não (any case, accents, punctuation).

    >>> read_word("Yes."), read_word("  não, porque…"), read_word("Sim"), read_word("Maybe")
    (True, False, True, None)
    """
    words = fold_words(text).split()
    if not words:
        return None
    if words[0] in _YES_WORDS:
        return True
    if words[0] in _NO_WORDS:
        return False
    return None


def p_yes(yes_logprobs: Sequence[float], no_logprobs: Sequence[float]) -> float:
    """P(yes) / (P(yes) + P(no)) from the log-probabilities of the yes and no spellings (log-sum-exp, stable).

    >>> round(p_yes([math.log(0.6)], [math.log(0.2)]), 3)
    0.75
    >>> p_yes([-1000.0], [-1000.0])
    0.5
    """
    top = max([*yes_logprobs, *no_logprobs])
    y = sum(math.exp(v - top) for v in yes_logprobs)
    n = sum(math.exp(v - top) for v in no_logprobs)
    return y / (y + n) if y + n > 0 else 0.5


def _sources_text(sources: Sequence[str]) -> str:
    if not sources:
        return "(no sources were cited)"
    return "\n\n".join(f"[{i}] {s.strip()}" for i, s in enumerate(sources, start=1))


def messages_for(request: Mapping[str, Any], criterion: str) -> list[Any]:
    """The conversation that asks one criterion about one answer (``request``: question, answer, sources)."""
    from langchain_core.messages import HumanMessage, SystemMessage

    if criterion not in CRITERIA:
        raise ValidationError(f"unknown judge criterion {criterion!r}; expected one of: "
                              f"{', '.join(CRITERIA)}")
    body = (
        f"Student's question:\n{request.get('question', '')}\n\n"
        f"Sources:\n{_sources_text(list(request.get('sources') or []))}\n\n"
        f"Tutor's answer:\n{request.get('answer', '')}\n\n"
        f"{CRITERIA[criterion]} Reply Yes or No."
    )
    return [SystemMessage(SYSTEM), HumanMessage(body)]


class LLMJudge:
    """Yes/no verdicts of a chat model on answers (see the module docstring).

    ``use_logprobs``: ``None`` (default) uses log-probabilities when the model offers them, ``False`` always
    generates, ``True`` requires them. ``threshold``: the ``p_yes`` from which the verdict is yes."""

    def __init__(self, model: Any, *, use_logprobs: bool | None = None, threshold: float = 0.5,
                 max_new_tokens: int = 4):
        if not hasattr(model, "invoke"):
            raise ValidationError(f"a judge needs a LangChain chat model, got {type(model).__name__}")
        self.model = model
        self.use_logprobs = use_logprobs
        self.threshold = threshold
        self.max_new_tokens = max_new_tokens

    @property
    def model_id(self) -> str:
        return str(getattr(self.model, "model_id", None) or getattr(self.model, "model_name", None)
                   or getattr(self.model, "model", None) or type(self.model).__name__)

    def offers_logprobs(self) -> bool:
        model = self.model
        return callable(getattr(model, "logprob", None)) and callable(getattr(model, "render_prompt", None))

    def judge(self, request: Mapping[str, Any],
              criteria: Sequence[str] = tuple(CRITERIA)) -> dict[str, Verdict]:
        """The verdicts on one answer."""
        return self.judge_many([request], criteria=criteria)[0]

    def judge_many(self, requests: Sequence[Mapping[str, Any]],
                   criteria: Sequence[str] = tuple(CRITERIA)) -> list[dict[str, Verdict]]:
        """The verdicts on many answers, asked in batches (one per criterion)."""
        out: list[dict[str, Verdict]] = [{} for _ in requests]
        if not requests:
            return out
        for criterion in criteria:
            conversations = [messages_for(r, criterion) for r in requests]
            verdicts = self._by_logprob(conversations) if self._logprobs_wanted() else None
            if verdicts is None:
                verdicts = self._by_text(conversations)
            for slot, verdict in zip(out, verdicts, strict=True):
                slot[criterion] = verdict
        return out

    def _logprobs_wanted(self) -> bool:
        if self.use_logprobs is False:
            return False
        if not self.offers_logprobs():
            if self.use_logprobs:
                raise UnsupportedError(f"judge model {self.model_id} does not expose log-probabilities",
                                       hint="use a promptkit local model, or use_logprobs=None")
            return False
        return True

    def _by_logprob(self, conversations: Sequence[Sequence[Any]]) -> list[Verdict] | None:
        prompts = [self.model.render_prompt(list(c)) for c in conversations]
        spellings = [*YES, *NO]
        try:
            values = self.model.logprob([p for p in prompts for _ in spellings],
                                        [s for _ in prompts for s in spellings])
        except UnsupportedError:
            if self.use_logprobs:
                raise
            return None
        out = []
        width = len(spellings)
        for i in range(len(prompts)):
            row = values[i * width: (i + 1) * width]
            p = p_yes(row[: len(YES)], row[len(YES):])
            out.append(Verdict(p >= self.threshold, p, "logprob"))
        return out

    def _by_text(self, conversations: Sequence[Sequence[Any]]) -> list[Verdict]:
        model = self.model
        try:
            model = model.bind(max_tokens=self.max_new_tokens)
        except Exception:  # noqa: BLE001 - a model that takes no limit answers in full
            pass
        messages = model.batch([list(c) for c in conversations])
        out = []
        for message in messages:
            content = getattr(message, "content", message)
            text = content if isinstance(content, str) else str(content)
            out.append(Verdict(read_word(text), None, "text", text.strip()[:40]))
        return out
