"""Question answering chains: reading a given context (zero-/few-shot) and retrieval-augmented (RAG).

Shape: ``prepare | BatchAssign("raw", prompt | model | StrOutputParser()) | finish``.

* ``prepare`` reads ``{"question", "context"?}`` (a question over
  :data:`~promptkit.limits.MAX_QUESTION_CHARS` characters is refused); with a context it answers from it (reading mode), otherwise a
  RAG chain retrieves from the course index. Retrieved text is delimited as ``<documento …>`` data and fitted
  into the model's context window by token count (what is dropped or cut is recorded). Few-shot chains record
  the ids of the demonstrations the prompt's selector picks.
* the middle step sends every prompt of a batch to the model in one ``model.batch`` call.
* ``finish`` cleans the answer, maps a worded abstention (the prompt's own phrase or one of
  :data:`promptkit.text.ABSTENTION_PHRASES`, the vocabulary the scorer uses too) to ``answer=""``/
  ``abstained=True`` and, when the definition sets ``postprocess.grounding``, abstains on answers that do not
  occur in the context.
* with ``cross_check: <prompt ref>`` a second prompt answers from the same context first (one more batched
  call); its answer goes through the same post-processing, and when it abstains the chain abstains too
  (``abstain_reason="cross_check"``) without running the main prompt. Two prompts that must agree a question
  is answerable abstain more often on unanswerable questions than either alone (``eval/experiments.md``).
"""

from __future__ import annotations

import threading
from typing import Any

from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import Runnable, RunnableLambda

from promptkit.chains.context import fit_documents, truncate_to_tokens
from promptkit.chains.hints import answer_hint
from promptkit.limits import check_question
from promptkit.chains.parts import Parts, generation_settings
from promptkit.chains.postprocess import (
    clean_answer,
    complete_number,
    grounding_score,
    no_answer_probability,
    snap_to_span,
    trim_question_words,
)
from promptkit.chains.runnables import BatchAssign, BatchLambda, finisher
from promptkit.errors import ValidationError
from promptkit.prompts.build import size_bound
from promptkit.text import ABSTENTION_PHRASE, is_abstention

# tokens kept free for the chat template's own markup
TEMPLATE_MARGIN = 24


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


class _IndexHolder:
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


def _source_entry(meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "source": meta.get("source", ""),
        "title": meta.get("title", ""),
        "chunk": meta.get("chunk"),
        "score": meta.get("score"),
    }


def build_qa(parts: Parts, *, retrieval: bool) -> Runnable:
    """A QA chain (``retrieval=True`` for RAG: retrieves when no context is given, delimits documents)."""
    definition = parts.definition
    settings = definition.retriever_settings
    holder = _IndexHolder(parts.index, parts.embeddings)
    abstain_phrases = _abstain_phrases(parts.spec)
    fewshot = getattr(parts.spec, "fewshot", None) is not None
    check_prompt, check_spec = parts.extra_prompts.get("cross_check", (None, None))
    if check_prompt is not None and check_prompt.metadata.get("ref") == parts.prompt_ref:
        check_prompt = None  # the same prompt would give the same answer: nothing to cross-check
    prompts = [parts.prompt] + ([check_prompt] if check_prompt is not None else [])
    specs = [parts.spec] + ([check_spec] if check_prompt is not None else [])

    def budget_for(values: dict[str, Any], given: str | None, examples: list[dict[str, Any]]) -> int:
        # the context must fit every prompt that reads it
        spare = parts.context_window - parts.max_new_tokens - TEMPLATE_MARGIN
        need = settings.max_context_tokens if retrieval else len((given or "").encode("utf-8"))
        unbound = min(settings.max_context_tokens, spare) if retrieval else spare
        blank = {**values, "context": ""}
        # a token covers at least one UTF-8 byte: where the prompts' bytes (a bound from their files, else their
        # rendering) leave room for the context's, the exact token counts could not lower the budget
        bounds = [size_bound(s, blank, examples if s is parts.spec else None) for s in specs]
        if all(b is not None for b in bounds) and max(bounds) + 1 + need <= spare:  # type: ignore[operator]
            return unbound
        rendered = [p.invoke(blank).to_string() for p in prompts]
        if max(len(t.encode("utf-8")) for t in rendered) + 1 + need <= spare:
            return unbound
        overhead = max(parts.count_tokens(t) for t in rendered)
        room = spare - overhead
        return max(0, min(settings.max_context_tokens, room) if retrieval else room)

    def prepare(value: Any) -> dict[str, Any]:
        inp = as_question(value)
        question = inp["question"].strip()
        given = inp.get("context")
        values = {k: v for k, v in inp.items() if isinstance(v, str)}
        values["question"] = question
        if any("answer_hint" in p.input_variables for p in prompts) and not values.get("answer_hint"):
            values["answer_hint"] = answer_hint(question)
        state: dict[str, Any] = {
            "question": question,
            "dropped": [],
            "truncated": [],
            "sources": [],
            "contexts": [],
            "examples": [],
        }
        chosen: list[dict[str, Any]] = []
        if fewshot:
            chosen = _shown_examples(parts.prompt, {**values, "context": given or ""})
            state["examples"] = [e.get("id") for e in chosen]
        if given is not None and not isinstance(given, str):
            raise ValidationError(f"'context' must be a string or None, got {type(given).__name__}")
        budget = budget_for(values, given, chosen)
        if given:
            state["mode"] = "reading"
            meta = {
                "source": inp.get("source") or "contexto",
                "title": inp.get("title", ""),
                "id": "contexto",
            }
            docs = [(given, meta)]
        elif retrieval:
            state["mode"] = "retrieval"
            state["context_order"] = settings.order
            found = holder.get().search(question, k=settings.k, mode=settings.mode)
            docs = [(d.page_content, dict(d.metadata)) for d in found]
            if settings.order == "best_last":
                # fit by rank (the best survives the budget), then show the best document nearest the question
                fitted = fit_documents(docs, budget, parts.count_tokens)
                keep = {id(m) for m in fitted.kept}
                docs = [d for d in docs if id(d[1]) in keep][::-1]
        elif "context" in parts.prompt.input_variables:
            raise ValidationError(
                f"chain {definition.name!r} answers from a given text: pass {{'question': …, 'context': …}} "
                "(or use the rag_course chain to retrieve from the course)"
            )
        else:
            state["mode"] = "closed_book"
            docs = []
        if retrieval:
            fitted = fit_documents(docs, budget, parts.count_tokens)
            context_text = fitted.text
            state["contexts"] = fitted.texts
            state["dropped"] = fitted.dropped
            state["truncated"] = fitted.truncated
            kept = fitted.kept
        else:
            kept, context_text = [], ""
            if docs:
                text, meta = docs[0]
                context_text = truncate_to_tokens(text, budget, parts.count_tokens)
                if context_text != text:
                    state["truncated"] = [
                        {
                            "source": meta["source"],
                            "id": meta["id"],
                            "rank": 1,
                            "tokens": parts.count_tokens(text),
                            "kept_tokens": parts.count_tokens(context_text),
                        }
                    ]
                state["contexts"] = [context_text]
                kept = [meta]
        if state["mode"] == "retrieval" or inp.get("source"):
            state["sources"] = [_source_entry(m) for m in kept]
        state["vars"] = parts.variables({**values, "context": context_text})
        if check_prompt is not None:
            state["check_vars"] = parts.variables({**values, "context": context_text}, prompt=check_prompt)
        return state

    post = definition.postprocess
    abstain_text = parts.spec.abstain_phrase or ABSTENTION_PHRASE

    def score_no_answer(states: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``na_prob`` for each state: P(abstention phrase) against P(generated answer), one batched call."""
        todo, prompts, continuations = [], [], []
        for i, state in enumerate(states):
            if isinstance(state, Exception) or state.get("_skip"):
                continue
            answer = _first_line(state.get("raw", ""))
            if is_abstention(clean_answer(answer), abstain_phrases):
                state["na_prob"] = 1.0
                continue
            rendered = parts.llm.render_prompt(parts.prompt.invoke(state["vars"]).to_messages())
            todo.append(i)
            prompts += [rendered, rendered]
            continuations += [abstain_text, answer]
        if todo:
            values = parts.llm.logprob(prompts, continuations)
            for j, i in enumerate(todo):
                states[i]["na_prob"] = no_answer_probability(values[2 * j], values[2 * j + 1])
        return states

    check_phrases = _abstain_phrases(check_spec)

    def settle(
        raw: str, state: dict[str, Any], phrases: tuple[str, ...], na_prob: float | None = None
    ) -> tuple[str, bool, str | None, float | None]:
        """``(answer, abstained, reason, grounding score)`` for one raw model answer."""
        answer = clean_answer(raw, first_line=post.first_line, strip=post.strip)
        abstained = is_abstention(answer, phrases)
        reason = "abstained" if abstained else None
        threshold = 1.0 if post.na_threshold is None else post.na_threshold
        if not abstained and na_prob is not None and na_prob > threshold:
            abstained, reason = True, "no_answer_prob"
        if not abstained and post.trim_question:
            answer = trim_question_words(answer, state["question"])
        if not abstained and post.snap is not None and state["contexts"]:
            context = "\n".join(state["contexts"])
            completed = complete_number(answer, context)
            answer = completed if completed != answer else snap_to_span(answer, context, min_ratio=post.snap)
        score = None
        if not abstained and post.grounding is not None and state["contexts"]:
            score = grounding_score(answer, "\n".join(state["contexts"]))
            if score < post.grounding:
                abstained, reason = True, "ungrounded"
        if state["mode"] == "retrieval" and not state["contexts"] and not abstained:
            abstained, reason = True, "no_context"
        return answer, abstained, reason, score

    def cross_check(states: list[Any]) -> list[Any]:
        """Answer every question with the cross-check prompt first (one batched call). Where it abstains the
        chain abstains whatever the main prompt says, so the main prompt is not run for those questions."""
        assert check_prompt is not None and check_core is not None
        todo = [i for i, s in enumerate(states) if not isinstance(s, Exception) and not s.get("_skip")]
        outs = check_core.batch([states[i]["check_vars"] for i in todo]) if todo else []
        for i, raw in zip(todo, outs, strict=True):
            answer, abstained, reason, _ = settle(raw, states[i], check_phrases)
            check = {
                "prompt": str(check_prompt.metadata.get("ref", "")),
                "raw": raw,
                "answer": "" if abstained else answer,
                "abstain_reason": reason,
            }
            states[i] = {**states[i], "check": check, "_skip": abstained}
        return states

    def finish(state: dict[str, Any]) -> dict[str, Any]:
        raw = state.get("raw", "")
        na_prob = state.get("na_prob")
        check = state.get("check")
        if check is not None and check["abstain_reason"] is not None:
            # nothing retrieved stays "no_context"; any other abstention of the check is the cross-check's
            reason = "no_context" if check["abstain_reason"] == "no_context" else "cross_check"
            answer, abstained, score = "", True, None
        else:
            answer, abstained, reason, score = settle(raw, state, abstain_phrases, na_prob)
        citations = []
        if not abstained and state["sources"]:
            scored = [(grounding_score(answer, ctx), i) for i, ctx in enumerate(state["contexts"])]
            threshold = post.grounding if post.grounding is not None else 0.6
            citations = [
                dict(state["sources"][i], support=s)
                for s, i in sorted(scored, key=lambda x: (-x[0], x[1]))
                if s >= threshold and i < len(state["sources"])
            ]
        return {
            "answer": "" if abstained else answer,
            "abstained": abstained,
            "abstain_reason": reason,
            "raw": raw,
            "question": state["question"],
            "mode": state["mode"],
            **parts.provenance(),
            "sources": state["sources"],
            "citations": citations,
            "contexts": state["contexts"],
            "context_order": state.get("context_order", "rank"),
            "examples": state["examples"],
            "dropped": state["dropped"],
            "truncated": state["truncated"],
            "grounding": score,
            "na_prob": na_prob,
            "cross_check": check,
            "moderation": None,
        }

    core = parts.prompt | parts.model | StrOutputParser()
    check_core = None
    if check_prompt is not None:
        generation = generation_settings(definition, check_spec)  # the check prompt's own generation defaults
        check_core = check_prompt | (parts.llm.bind(**generation) if generation else parts.llm) | StrOutputParser()
    chain: Runnable = RunnableLambda(prepare, name="prepare")
    if check_prompt is not None:
        # a list step, not a streamed one, so that ``stream`` still streams the main answer token by token
        chain = chain | BatchLambda(cross_check, name="cross_check")
    chain = chain | BatchAssign("raw", core, select=lambda s: s["vars"])
    if post.na_threshold is not None:
        chain = chain | BatchLambda(score_no_answer, name="no_answer_prob")
    return chain | finisher(finish)


def _abstain_phrases(spec: Any) -> tuple[str, ...]:
    """A prompt version's own abstention phrase, if it declares one (matched beside the shared vocabulary of
    :func:`promptkit.text.is_abstention`)."""
    own = getattr(spec, "abstain_phrase", None)
    return (own,) if own else ()


def _shown_examples(prompt: Any, values: dict[str, Any]) -> list[dict[str, Any]]:
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


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line
    return ""
