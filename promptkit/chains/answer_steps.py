"""Post-processing as named steps: how a QA chain turns the model's raw text into its final answer.

A chain definition lists the steps in order::

    postprocess:
      - first_line          # keep the first non-empty line
      - strip               # drop "Resposta:" prefixes, quotes and trailing stops
      - abstention          # the prompt's abstention phrase (or a known one) -> no answer
      - trim_question       # drop words at the answer's edges that repeat the question
      - snap: 0.75          # replace the answer by the context span matching it at least this well
      - ground: 0.7         # abstain unless the answer occurs in the context at least this well

Each step sees the answer so far and the chain's state; a step that abstains ends the answer (later steps are
skipped). ``no_answer_prob: T`` scores P(abstention phrase) against P(answer) with the model's
log-probabilities (one batched call for the whole batch) and abstains above ``T`` (1.0 only reports it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from promptkit.chains.postprocess import (
    clean_answer,
    complete_number,
    grounding_score,
    no_answer_probability,
    snap_to_span,
    trim_question_words,
)
from promptkit.errors import ValidationError, unknown
from promptkit.text import is_abstention


@dataclass(frozen=True)
class Answer:
    """An answer on its way through the steps."""

    text: str
    abstained: bool = False
    reason: str | None = None
    grounding: float | None = None

    def abstain(self, reason: str) -> Answer:
        return replace(self, abstained=True, reason=reason)


@dataclass
class Situation:
    """What a step may read besides the answer: the question, the context and the prompt's abstention phrases."""

    question: str
    contexts: Sequence[str]
    phrases: tuple[str, ...]
    na_prob: float | None = None

    @property
    def context(self) -> str:
        return "\n".join(self.contexts)


class AnswerStep:
    """One named step; ``value`` is its setting from the chain file (None for steps without one)."""

    name: ClassVar[str]
    takes: ClassVar[str | None] = None  # what the setting means, for error messages (None: no setting)

    def __init__(self, value: Any = None):
        self.value = value

    def apply(self, answer: Answer, situation: Situation) -> Answer:
        raise NotImplementedError

    def describe(self) -> str | dict[str, Any]:
        return self.name if self.takes is None else {self.name: self.value}


class FirstLine(AnswerStep):
    name = "first_line"

    def apply(self, answer: Answer, situation: Situation) -> Answer:
        return replace(answer, text=clean_answer(answer.text, first_line=True, strip=False))


class Strip(AnswerStep):
    name = "strip"

    def apply(self, answer: Answer, situation: Situation) -> Answer:
        return replace(answer, text=clean_answer(answer.text, first_line=False, strip=True))


class Abstention(AnswerStep):
    name = "abstention"

    def apply(self, answer: Answer, situation: Situation) -> Answer:
        return answer.abstain("abstained") if is_abstention(answer.text, situation.phrases) else answer


class NoAnswerProb(AnswerStep):
    name = "no_answer_prob"
    takes = "a threshold in [0, 1]"

    def apply(self, answer: Answer, situation: Situation) -> Answer:
        if situation.na_prob is not None and situation.na_prob > float(self.value):
            return answer.abstain("no_answer_prob")
        return answer


class TrimQuestion(AnswerStep):
    name = "trim_question"

    def apply(self, answer: Answer, situation: Situation) -> Answer:
        return replace(answer, text=trim_question_words(answer.text, situation.question))


class Snap(AnswerStep):
    name = "snap"
    takes = "a similarity in [0, 1]"

    def apply(self, answer: Answer, situation: Situation) -> Answer:
        if not situation.contexts:
            return answer
        context = situation.context
        completed = complete_number(answer.text, context)
        if completed != answer.text:
            return replace(answer, text=completed)
        return replace(answer, text=snap_to_span(answer.text, context, min_ratio=float(self.value)))


class Ground(AnswerStep):
    name = "ground"
    takes = "a score in [0, 1]"

    def apply(self, answer: Answer, situation: Situation) -> Answer:
        if not situation.contexts:
            return answer
        score = grounding_score(answer.text, situation.context)
        answer = replace(answer, grounding=score)
        return answer.abstain("ungrounded") if score < float(self.value) else answer


STEPS: dict[str, type[AnswerStep]] = {
    cls.name: cls for cls in (FirstLine, Strip, Abstention, NoAnswerProb, TrimQuestion, Snap, Ground)
}
DEFAULT_STEPS: tuple[str, ...] = ("first_line", "strip", "abstention")


def parse_steps(spec: Sequence[Any]) -> list[AnswerStep]:
    """Steps from a chain file's ``postprocess`` list (names, or one-key mappings ``{name: setting}``)."""
    steps: list[AnswerStep] = []
    for item in spec:
        if isinstance(item, str):
            name, value = item, None
        elif isinstance(item, dict) and len(item) == 1:
            ((name, value),) = item.items()
        else:
            raise ValidationError(
                f"postprocess step {item!r} is neither a name nor a one-key mapping",
                hint="write e.g. `- strip` or `- ground: 0.7`",
            )
        cls = STEPS.get(str(name))
        if cls is None:
            raise unknown("postprocess step", str(name), STEPS)
        if cls.takes is None and value is not None:
            raise ValidationError(f"postprocess step {name!r} takes no setting, got {value!r}")
        if cls.takes is not None:
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= float(value) <= 1:
                raise ValidationError(f"postprocess step {name!r} takes {cls.takes}, got {value!r}")
            value = float(value)
        steps.append(cls(value))
    return steps


def run_steps(steps: Sequence[AnswerStep], raw: str, situation: Situation) -> Answer:
    """The final answer: ``raw`` through ``steps`` in order, stopping at the first abstention."""
    answer = Answer(raw)
    for step in steps:
        answer = step.apply(answer, situation)
        if answer.abstained:
            break
    return answer


def step_setting(steps: Sequence[AnswerStep], name: str) -> float | None:
    """The setting of the named step, when the chain has it."""
    for step in steps:
        if step.name == name:
            return step.value
    return None


def first_answer_line(raw: str) -> str:
    """The first non-empty line, as the no-answer probability scores it."""
    return clean_answer(raw, first_line=True, strip=False)


def no_answer_probabilities(llm: Any, prompts: Sequence[str], answers: Sequence[str], abstain_text: str,
                            phrases: tuple[str, ...]) -> list[float]:
    """``na_prob`` per answer: P(abstention phrase) against P(answer), one batched log-probability call
    (1.0 for an answer that already abstains in words)."""
    out: list[float | None] = [None] * len(answers)
    todo, rendered, continuations = [], [], []
    for i, (prompt, answer) in enumerate(zip(prompts, answers, strict=True)):
        if is_abstention(clean_answer(answer), phrases):
            out[i] = 1.0
            continue
        todo.append(i)
        rendered += [prompt, prompt]
        continuations += [abstain_text, answer]
    if todo:
        values = llm.logprob(rendered, continuations)
        for j, i in enumerate(todo):
            out[i] = no_answer_probability(values[2 * j], values[2 * j + 1])
    return [float(v) for v in out]  # type: ignore[arg-type]
