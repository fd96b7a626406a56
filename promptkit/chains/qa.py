"""Question answering over a given context (reading) or retrieved course chunks (RAG), as a typed pipeline.

``start`` → [``cross_check``] → ``generate`` → [``no_answer_prob``] → ``settle`` → :class:`QAOutput`

* ``start`` reads ``{"question", "context"?}`` (a question over
  :data:`~promptkit.limits.MAX_QUESTION_CHARS` characters is refused); with a context the chain answers from it
  (reading mode), otherwise a RAG chain retrieves from the course index. Retrieved text is delimited as
  ``<documento …>`` data and fitted into the model's context window by token count (what is dropped or cut is
  recorded). Few-shot chains record the ids of the demonstrations the prompt's selector picks.
* ``generate`` sends every prompt of the batch to the model in one batched call.
* ``settle`` runs the chain's post-processing steps (:mod:`promptkit.chains.answer_steps`, listed in the chain
  file) and, in RAG mode, abstains when nothing was retrieved.
* with ``cross_check: <prompt ref>`` a second prompt answers from the same context first (one more batched
  call); its answer goes through the same steps, and when it abstains the chain abstains too
  (``abstain_reason="cross_check"``) without running the main prompt. Two prompts that must agree a question
  is answerable abstain more often on unanswerable questions than either alone (``eval/experiments.md``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import BaseModel, Field

from promptkit.chains.answer_steps import (
    Situation,
    first_answer_line,
    no_answer_probabilities,
    parse_steps,
    run_steps,
    step_setting,
)
from promptkit.chains.context import fit_documents, truncate_to_tokens
from promptkit.chains.hints import answer_hint
from promptkit.chains.parts import Parts, generation_settings
from promptkit.chains.pipeline import Pipeline, Stage
from promptkit.chains.postprocess import grounding_score
from promptkit.errors import ValidationError
from promptkit.limits import check_question
from promptkit.prompts.build import size_bound
from promptkit.text import ABSTENTION_PHRASE

# tokens kept free for the chat template's own markup
TEMPLATE_MARGIN = 24


class QAOutput(BaseModel):
    """What a QA chain returns (as a dict): the answer, whether and why it abstained, and its provenance."""

    answer: str = Field(description='the final answer ("" when the chain abstains)')
    abstained: bool
    abstain_reason: str | None = Field(
        default=None,
        description="abstained (the model said so), no_answer_prob, ungrounded, no_context or cross_check",
    )
    raw: str = Field(description="the model's text before post-processing")
    question: str
    mode: str = Field(description="reading (a context was given), retrieval or closed_book")
    chain: str
    prompt: str = Field(description="prompt ref that answered")
    prompt_hash: str
    model: str
    cross_check_prompt: str | None = None
    sources: list[dict[str, Any]] = Field(default_factory=list, description="what was retrieved and kept")
    citations: list[dict[str, Any]] = Field(default_factory=list, description="sources that support the answer")
    contexts: list[str] = Field(default_factory=list, description="the texts the model read, in prompt order")
    context_order: str = "rank"
    examples: list[str | None] = Field(default_factory=list, description="ids of the demonstrations shown")
    dropped: list[dict[str, Any]] = Field(default_factory=list)
    truncated: list[dict[str, Any]] = Field(default_factory=list)
    grounding: float | None = None
    na_prob: float | None = None
    cross_check: dict[str, Any] | None = Field(default=None, description="the cross-check prompt's answer")
    moderation: dict[str, Any] | None = None


@dataclass
class QAState:
    """One question on its way through the pipeline."""

    question: str
    config: RunnableConfig
    mode: str = "closed_book"
    contexts: list[str] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)
    truncated: list[dict[str, Any]] = field(default_factory=list)
    examples: list[str | None] = field(default_factory=list)
    context_order: str = "rank"
    vars: dict[str, Any] = field(default_factory=dict)
    check_vars: dict[str, Any] | None = None
    raw: str = ""
    check: dict[str, Any] | None = None
    na_prob: float | None = None
    answer: str = ""
    abstained: bool = False
    reason: str | None = None
    grounding: float | None = None
    citations: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False


def as_question(value: Any) -> dict[str, Any]:
    """Accept a bare question string or a mapping with ``question``."""
    if isinstance(value, str):
        value = {"question": value}
    if not isinstance(value, dict):
        raise ValidationError(
            f"a QA chain takes {{'question': str, 'context': str | None}}, got {type(value).__name__}"
        )
    question = value.get("question")
    if not isinstance(question, str) or not question.strip():
        raise ValidationError("a QA chain needs a non-empty 'question' string in its input")
    check_question(question)
    return value


class IndexHolder:
    """Opens (and on first use builds) the course index once, lazily, thread-safely."""

    def __init__(self, index: Any, embeddings: Any):
        self._index = index
        self._embeddings = embeddings
        self._lock = threading.Lock()

    def get(self) -> Any:
        if self._index is None:
            with self._lock:
                if self._index is None:
                    from promptkit.index import ensure_index

                    self._index = ensure_index(embeddings=self._embeddings)
        return self._index


def source_entry(meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "source": meta.get("source", ""),
        "title": meta.get("title", ""),
        "chunk": meta.get("chunk"),
        "score": meta.get("score"),
    }


def abstain_phrases(spec: Any) -> tuple[str, ...]:
    """A prompt version's own abstention phrase, if it declares one (matched beside the shared vocabulary of
    :func:`promptkit.text.is_abstention`)."""
    own = getattr(spec, "abstain_phrase", None)
    return (own,) if own else ()


def shown_examples(prompt: Any, values: dict[str, Any]) -> list[dict[str, Any]]:
    """The demonstrations a few-shot chat prompt shows for ``values``, from the prompt's own selector (which
    remembers the selection, so rendering the prompt afterwards selects nothing twice)."""
    from langchain_core.prompts import FewShotChatMessagePromptTemplate

    for block in getattr(prompt, "messages", []):
        if isinstance(block, FewShotChatMessagePromptTemplate):
            if block.example_selector is not None:
                keys = block.input_variables or list(values)
                return block.example_selector.select_examples({k: values.get(k, "") for k in keys})
            return list(block.examples or [])
    return []


class QAStart:
    """``start``: the input checked, the context given or retrieved and fitted, the prompt's variables ready."""

    def __init__(self, parts: Parts, *, retrieval: bool, check: tuple[Any, Any] | None):
        self.parts = parts
        self.retrieval = retrieval
        self.settings = parts.definition.retriever_settings
        self.holder = IndexHolder(parts.index, parts.embeddings)
        self.fewshot = getattr(parts.spec, "fewshot", None) is not None
        self.check_prompt, self.check_spec = check if check is not None else (None, None)
        self.prompts = [parts.prompt] + ([self.check_prompt] if self.check_prompt is not None else [])
        self.specs = [parts.spec] + ([self.check_spec] if self.check_prompt is not None else [])

    def budget(self, values: dict[str, Any], given: str | None, examples: list[dict[str, Any]]) -> int:
        """Tokens the context may take: it must fit every prompt that reads it."""
        parts, settings = self.parts, self.settings
        spare = parts.context_window - parts.max_new_tokens - TEMPLATE_MARGIN
        need = settings.max_context_tokens if self.retrieval else len((given or "").encode("utf-8"))
        unbound = min(settings.max_context_tokens, spare) if self.retrieval else spare
        blank = {**values, "context": ""}
        # a token covers at least one UTF-8 byte: where the prompts' bytes (a bound from their files, else their
        # rendering) leave room for the context's, the exact token counts could not lower the budget
        bounds = [size_bound(s, blank, examples if s is parts.spec else None) for s in self.specs]
        if all(b is not None for b in bounds) and max(bounds) + 1 + need <= spare:  # type: ignore[operator]
            return unbound
        rendered = [p.invoke(blank).to_string() for p in self.prompts]
        if max(len(t.encode("utf-8")) for t in rendered) + 1 + need <= spare:
            return unbound
        overhead = max(parts.count_tokens(t) for t in rendered)
        room = spare - overhead
        return max(0, min(settings.max_context_tokens, room) if self.retrieval else room)

    def __call__(self, value: Any, config: RunnableConfig) -> QAState:
        parts, settings = self.parts, self.settings
        inp = as_question(value)
        question = inp["question"].strip()
        given = inp.get("context")
        if given is not None and not isinstance(given, str):
            raise ValidationError(f"'context' must be a string or None, got {type(given).__name__}")
        values = {k: v for k, v in inp.items() if isinstance(v, str)}
        values["question"] = question
        if any("answer_hint" in p.input_variables for p in self.prompts) and not values.get("answer_hint"):
            values["answer_hint"] = answer_hint(question)
        state = QAState(question=question, config=config)
        chosen: list[dict[str, Any]] = []
        if self.fewshot:
            chosen = shown_examples(parts.prompt, {**values, "context": given or ""})
            state.examples = [e.get("id") for e in chosen]
        budget = self.budget(values, given, chosen)
        if given:
            state.mode = "reading"
            docs = [(given, {"source": inp.get("source") or "contexto", "title": inp.get("title", ""),
                             "id": "contexto"})]
        elif self.retrieval:
            state.mode = "retrieval"
            state.context_order = settings.order
            found = self.holder.get().search(question, k=settings.k, mode=settings.mode)
            docs = [(d.page_content, dict(d.metadata)) for d in found]
            if settings.order == "best_last":
                # fit by rank (the best survives the budget), then show the best document nearest the question
                fitted = fit_documents(docs, budget, parts.count_tokens)
                keep = {id(m) for m in fitted.kept}
                docs = [d for d in docs if id(d[1]) in keep][::-1]
        elif "context" in parts.prompt.input_variables:
            raise ValidationError(
                f"chain {parts.definition.name!r} answers from a given text: pass {{'question': …, 'context': …}} "
                "(or use the rag_course chain to retrieve from the course)"
            )
        else:
            docs = []
        kept: list[dict[str, Any]] = []
        context_text = ""
        if self.retrieval:
            fitted = fit_documents(docs, budget, parts.count_tokens)
            context_text, kept = fitted.text, fitted.kept
            state.contexts, state.dropped, state.truncated = fitted.texts, fitted.dropped, fitted.truncated
        elif docs:
            text, meta = docs[0]
            context_text = truncate_to_tokens(text, budget, parts.count_tokens)
            if context_text != text:
                state.truncated = [{"source": meta["source"], "id": meta["id"], "rank": 1,
                                    "tokens": parts.count_tokens(text),
                                    "kept_tokens": parts.count_tokens(context_text)}]
            state.contexts = [context_text]
            kept = [meta]
        if state.mode == "retrieval" or inp.get("source"):
            state.sources = [source_entry(m) for m in kept]
        state.vars = parts.variables({**values, "context": context_text})
        if self.check_prompt is not None:
            state.check_vars = parts.variables({**values, "context": context_text}, prompt=self.check_prompt)
        return state


class Settle:
    """The chain's post-processing steps applied to one raw answer (the main prompt's or the cross-check's)."""

    def __init__(self, spec: Any, steps: list[Any]):
        self.phrases = abstain_phrases(spec)
        self.steps = steps

    def __call__(self, raw: str, state: QAState, na_prob: float | None = None) -> Any:
        answer = run_steps(self.steps, raw, Situation(state.question, state.contexts, self.phrases, na_prob))
        if state.mode == "retrieval" and not state.contexts and not answer.abstained:
            answer = answer.abstain("no_context")
        return answer


class CrossCheck(Stage[QAState]):
    """Answer every question with the cross-check prompt first (one batched call). Where it abstains the chain
    abstains whatever the main prompt says, so the main prompt is not run for those questions."""

    name = "cross_check"

    def __init__(self, core: Runnable, settle: Settle, ref: str):
        self.core, self.settle, self.ref = core, settle, ref

    def run(self, states: list[QAState]) -> None:
        outs = self.core.batch([s.check_vars for s in states], [s.config for s in states])
        for state, raw in zip(states, outs, strict=True):
            answer = self.settle(raw, state)
            state.check = {"prompt": self.ref, "raw": raw, "answer": "" if answer.abstained else answer.text,
                           "abstain_reason": answer.reason}
            if answer.abstained:
                # nothing retrieved stays "no_context"; any other abstention of the check is the cross-check's
                state.reason = "no_context" if answer.reason == "no_context" else "cross_check"
                state.abstained, state.done = True, True


class Generate(Stage[QAState]):
    """Every prompt of the batch in one batched model call."""

    name = "generate"

    def __init__(self, core: Runnable):
        self.core = core

    def run(self, states: list[QAState]) -> None:
        for state, raw in zip(states, self.core.batch([s.vars for s in states], [s.config for s in states]),
                              strict=True):
            state.raw = raw


class NoAnswerProb(Stage[QAState]):
    """``na_prob``: P(abstention phrase) against P(answer) after the prompt, one batched log-probability call."""

    name = "no_answer_prob"

    def __init__(self, parts: Parts, abstain_text: str, phrases: tuple[str, ...]):
        self.parts, self.abstain_text, self.phrases = parts, abstain_text, phrases

    def run(self, states: list[QAState]) -> None:
        llm = self.parts.llm
        prompts = [llm.render_prompt(self.parts.prompt.invoke(s.vars).to_messages()) for s in states]
        values = no_answer_probabilities(llm, prompts, [first_answer_line(s.raw) for s in states],
                                         self.abstain_text, self.phrases)
        for state, value in zip(states, values, strict=True):
            state.na_prob = value


class Finish(Stage[QAState]):
    """The answer settled by the post-processing steps, and the retrieved sources that support it."""

    name = "settle"

    def __init__(self, settle: Settle, cite_threshold: float):
        self.settle, self.cite_threshold = settle, cite_threshold

    def run(self, states: list[QAState]) -> None:
        for state in states:
            answer = self.settle(state.raw, state, state.na_prob)
            state.answer, state.abstained = answer.text, answer.abstained
            state.reason, state.grounding = answer.reason, answer.grounding
            if not state.abstained and state.sources:
                scored = [(grounding_score(state.answer, ctx), i) for i, ctx in enumerate(state.contexts)]
                state.citations = [dict(state.sources[i], support=s)
                                   for s, i in sorted(scored, key=lambda x: (-x[0], x[1]))
                                   if s >= self.cite_threshold and i < len(state.sources)]


def build_qa(parts: Parts, *, retrieval: bool) -> Pipeline:
    """A QA pipeline (``retrieval=True`` for RAG: retrieves when no context is given, delimits documents)."""
    definition = parts.definition
    steps = parse_steps(definition.postprocess)
    check_prompt, check_spec = parts.extra_prompts.get("cross_check", (None, None))
    if check_prompt is not None and check_prompt.metadata.get("ref") == parts.prompt_ref:
        check_prompt = None  # the same prompt would give the same answer: nothing to cross-check
    start = QAStart(parts, retrieval=retrieval,
                    check=(check_prompt, check_spec) if check_prompt is not None else None)
    settle = Settle(parts.spec, steps)
    stages: list[Stage[QAState]] = []
    if check_prompt is not None:
        generation = generation_settings(definition, check_spec)  # the check prompt's own generation defaults
        check_model = parts.llm.bind(**generation) if generation else parts.llm
        check_steps = [s for s in steps if s.name != "no_answer_prob"]
        stages.append(CrossCheck(check_prompt | check_model | StrOutputParser(), Settle(check_spec, check_steps),
                                 str(check_prompt.metadata.get("ref", ""))))
    stages.append(Generate(parts.prompt | parts.model | StrOutputParser()))
    if step_setting(steps, "no_answer_prob") is not None:
        stages.append(NoAnswerProb(parts, parts.spec.abstain_phrase or ABSTENTION_PHRASE, settle.phrases))
    ground = step_setting(steps, "ground")
    stages.append(Finish(settle, ground if ground is not None else 0.6))

    provenance = parts.provenance()

    def finish(state: QAState) -> QAOutput:
        return QAOutput(answer="" if state.abstained else state.answer, abstained=state.abstained,
                        abstain_reason=state.reason, raw=state.raw, question=state.question, mode=state.mode,
                        **provenance, sources=state.sources, citations=state.citations, contexts=state.contexts,
                        context_order=state.context_order, examples=state.examples, dropped=state.dropped,
                        truncated=state.truncated, grounding=state.grounding, na_prob=state.na_prob,
                        cross_check=state.check)

    return Pipeline(definition.name, start, stages, finish)
