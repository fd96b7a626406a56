"""Long-form answers with citations: the course tutor over ``eval/datasets/tutor_questions.jsonl``.

An item (one JSON line) has ``id``, ``lang``, ``type``, ``question``, ``reference`` (a good answer),
``key_facts`` (short statements a correct answer contains), ``gold_sources`` (corpus files that answer it) and
``split``. An item with no key facts and no gold sources is *out of scope*: the material does not cover it and
the tutor should decline. The chain reads ``{"question"}`` and retrieves by itself (mode ``rag``); its output
is the tutor's contract (``answer``, ``declined``, ``citations`` with each chunk's ``n``, ``source`` and
``text``, and the ``sources`` retrieved).

Per-row scores (definitions in :mod:`promptkit.evaluation.longform`; ``None`` where a metric does not apply):

======================  ==================================================================  ============
metric                  value                                                               rows
======================  ==================================================================  ============
``accuracy``            1 when the row is correct (below), else 0                           all
``key_fact_recall``     share of the key facts found in the answer (0 when it declines)      in scope
``faithfulness``        share of sentences supported by the chunks they cite                 answered
``citation_precision``  share of the citations used that support a sentence citing them      citing
``citation_recall``     share of the gold files among the cited files (0 when declined)      in scope
``context_recall``      1 when a gold source file was retrieved                              in scope
``decline_accuracy``    1 when the answer declines                                           out of scope
``false_decline_rate``  1 when the answer declines                                           in scope
``answer_words``        the answer's length in words                                         answered
``judge_<criterion>``   the LLM judge's yes (1) or no (0), when a judge was asked            answered
======================  ==================================================================  ============

A row is *correct* when an in-scope answer reaches a key-fact recall of at least 0.5 without declining, or an
out-of-scope answer declines; ``eval compare`` lists the rows that flip between correct and not. Metrics are
broken down by ``type`` and ``lang``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from promptkit import grounding as G
from promptkit.evaluation import longform as L
from promptkit.evaluation.results import TaskRow
from promptkit.evaluation.tasks.base import Item, MetricSpec, RowView, Scored, Task

#: key-fact recall from which an in-scope answer counts as correct
CORRECT_RECALL = 0.5


class TutorItem(Item):
    """One tutor question (see the module docstring)."""

    lang: str = Field(min_length=2, max_length=8)
    type: str = Field(min_length=1)
    question: str = Field(min_length=1)
    reference: str
    key_facts: list[str]
    gold_sources: list[str]

    @field_validator("key_facts", "gold_sources")
    @classmethod
    def _non_empty_strings(cls, value: list[str]) -> list[str]:
        if any(not s.strip() for s in value):
            raise ValueError("every entry must be a non-empty string")
        return value

    @model_validator(mode="after")
    def _scope(self) -> TutorItem:
        if bool(self.key_facts) != bool(self.gold_sources):
            raise ValueError("an in-scope item needs both key_facts and gold_sources; an out-of-scope item "
                             "has neither")
        return self

    @property
    def in_scope(self) -> bool:
        return bool(self.key_facts)


def _share(description: str, better: str | None = "higher") -> dict[str, Any]:
    return {"description": description, "better": better}


class LongformTask(Task):
    """Long-form cited answers, judged against key facts and gold sources (see the module docstring)."""

    name: ClassVar[str] = "longform"
    title: ClassVar[str] = "long-form answers with citations"
    item_model: ClassVar[type[Item]] = TutorItem
    modes: ClassVar[tuple[str, ...]] = ("rag",)
    item_word: ClassVar[str] = "question"
    size_hint: ClassVar[str] = "shorten that question in the dataset"
    judge_criteria: ClassVar[tuple[str, ...]] = ("faithful", "answers")
    metrics: ClassVar[tuple[MetricSpec, ...]] = (
        MetricSpec("accuracy", **_share("share of items answered correctly (key facts ≥ 0.5, or declined "
                                        "when out of scope)")),
        MetricSpec("key_fact_recall", **_share("share of key facts found in the answer (in scope)")),
        MetricSpec("faithfulness", **_share("share of answer sentences supported by the chunks they cite")),
        MetricSpec("citation_precision", **_share("share of cited chunks supporting a sentence citing them")),
        MetricSpec("citation_recall", **_share("share of gold source files among the cited files")),
        MetricSpec("context_recall", **_share("share of in-scope items with a gold source file retrieved")),
        MetricSpec("decline_accuracy", **_share("share of out-of-scope items declined")),
        MetricSpec("false_decline_rate", **_share("share of in-scope items declined", "lower")),
        MetricSpec("answer_words", "mean length of the answers given, in words", better=None, digits=1),
        MetricSpec("judge_faithful", **_share("LLM judge: share of answers faithful to their sources")),
        MetricSpec("judge_answers", **_share("LLM judge: share of answers that answer the question")),
        MetricSpec("in_scope", "items the material covers", better=None, digits=0, per_row=False),
        MetricSpec("out_of_scope", "items the material does not cover", better=None, digits=0, per_row=False),
        MetricSpec("declined", "answers that declined", better=None, digits=0, per_row=False),
    )
    headline: ClassVar[tuple[str, ...]] = ("key_fact_recall", "faithfulness", "citation_precision",
                                           "decline_accuracy")
    group_by: ClassVar[tuple[str, ...]] = ("type", "lang")
    drop_metric: ClassVar[str | None] = "key_fact_recall"
    correct_rule: ClassVar[str] = "key facts ≥ 0.5, or declined out of scope"

    def score(self, item: TutorItem, output: dict[str, Any]) -> Scored:  # type: ignore[override]
        answer = str(output.get("answer", "") or "")
        declined = L.is_decline(answer, output.get("declined") if "declined" in output else None)
        citations = [c for c in (output.get("citations") or []) if isinstance(c, dict)]
        chunks = {int(c["n"]): str(c.get("text") or "") for c in citations if _is_int(c.get("n"))}
        used = set(G.citation_numbers(answer))
        cited_files = [str(c.get("source") or "") for c in citations
                       if _is_int(c.get("n")) and int(c["n"]) in used]
        sources = [s for s in (output.get("sources") or []) if isinstance(s, dict)]
        retrieved = [str(x.get("source") or "") for x in [*sources, *citations]]
        scores: dict[str, float | None] = {}
        details: dict[str, Any] = {"declined": declined}
        if item.in_scope:
            found = G.stems(answer)
            facts = [{"fact": f, "found": (not declined) and L.fact_found(f, found)} for f in item.key_facts]
            recall = sum(f["found"] for f in facts) / len(facts)
            scores["key_fact_recall"] = recall
            scores["citation_recall"] = 0.0 if declined else L.citation_recall(cited_files, item.gold_sources)
            scores["context_recall"] = L.context_recall(retrieved, item.gold_sources)
            scores["false_decline_rate"] = float(declined)
            correct = not declined and recall >= CORRECT_RECALL
            details["facts"] = facts
        else:
            scores["decline_accuracy"] = float(declined)
            correct = declined
        if not declined:
            verdicts = L.sentence_verdicts(answer, chunks)
            scores["faithfulness"] = L.faithfulness(answer, chunks)
            scores["citation_precision"] = L.citation_precision(answer, chunks)
            scores["answer_words"] = float(L.answer_words(answer))
            details["sentences"] = [{"text": s.text, "cites": list(s.cites), "support": round(sup, 3),
                                     "supported": ok} for s, sup, ok in verdicts]
        scores["accuracy"] = float(correct)
        kept = {
            "answer": answer,
            "declined": declined,
            "decline_reason": output.get("decline_reason"),
            "citations": [{k: c.get(k) for k in ("n", "source", "chunk_id", "title", "text") if k in c}
                          for c in citations],
            "sources": [{k: s.get(k) for k in ("source", "title", "chunk", "id", "score") if k in s}
                        for s in sources],
        }
        return Scored(prediction=answer, scores=scores, correct=correct, output=kept, details=details)

    def totals(self, rows: Sequence[TaskRow]) -> dict[str, float | int | None]:
        in_scope = sum(1 for r in rows if r.gold.get("key_facts"))
        return {"in_scope": in_scope, "out_of_scope": len(rows) - in_scope,
                "declined": sum(1 for r in rows if r.output.get("declined"))}

    def judge_request(self, row: TaskRow) -> dict[str, Any] | None:
        if row.output.get("declined") or not row.prediction.strip():
            return None
        citations = row.output.get("citations") or []
        used = set(G.citation_numbers(row.prediction))
        cited = [c for c in citations if c.get("n") in used] or citations
        return {"question": row.question, "answer": row.prediction,
                "sources": [str(c.get("text") or "") for c in cited]}

    def gold_text(self, row: Any) -> list[str]:
        return list(row.gold.get("key_facts") or []) or ["(out of scope: decline)"]

    def row_view(self, row: Any) -> RowView:
        return RowView(row.question, self.gold_text(row), row.prediction, row.prediction)

    def flip_note(self, scores_a: Mapping[str, float | None], scores_b: Mapping[str, float | None]) -> str:
        if scores_a.get("key_fact_recall") is None and scores_b.get("key_fact_recall") is None:
            said = {1.0: "declined", 0.0: "answered"}
            before, after = scores_a.get("decline_accuracy"), scores_b.get("decline_accuracy")
            return f"{said.get(before, '-')} → {said.get(after, '-')}"  # type: ignore[arg-type]
        return super().flip_note(scores_a, scores_b)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
