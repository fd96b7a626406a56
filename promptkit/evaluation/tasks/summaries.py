"""Summaries: key-point coverage, faithfulness and length over ``eval/datasets/summary_sources.jsonl``.

An item (one JSON line) has ``id``, ``lang``, ``shape`` (slides, pdf, news…), ``text`` (the source),
``points`` (short statements a good summary covers), ``max_words`` (the length asked for), ``split`` and
optionally ``title``. The chain reads ``{"text", "max_words", "language"}`` as the ``summarize`` chain takes
it (``language``: ``en`` for English items, ``pt-BR`` for Portuguese ones) and answers with the summary in
``answer``.

Per-row scores, all from :func:`promptkit.kind_metrics.score_summary` (the long-form rules of
:mod:`promptkit.grounding`: a point is covered when ``fact_found`` finds it, a sentence is faithful when
``is_supported`` holds against the source):

==================  ==========================================================================================
metric              value
==================  ==========================================================================================
``coverage``        share of the item's key points the summary states
``faithfulness``    share of the summary's sentences the source supports (0 for an empty summary)
``within_limit``    1 when the summary is not empty and has at most ``max_words`` words
``words``           the summary's length in words
==================  ==========================================================================================

A row is *correct* when its coverage is at least 0.5: ``eval compare`` lists as flips the summaries whose
coverage falls below 0.5 from at or above it (and, apart, every other fall of coverage). Metrics are broken
down by ``lang`` and ``shape``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, field_validator

from promptkit.evaluation.tasks.base import Item, MetricSpec, RowView, Scored, Task
from promptkit.kind_metrics import score_summary

#: coverage from which a summary counts as correct
CORRECT_COVERAGE = 0.5


class SummaryItem(Item):
    """One source to summarise (see the module docstring)."""

    lang: str = Field(min_length=2, max_length=8)
    shape: str = Field(min_length=1)
    text: str = Field(min_length=1)
    points: list[str] = Field(min_length=1)
    max_words: int = Field(ge=5)
    title: str | None = None

    @field_validator("points")
    @classmethod
    def _non_empty(cls, value: list[str]) -> list[str]:
        if any(not p.strip() for p in value):
            raise ValueError("every key point must be a non-empty string")
        return value


def chain_language(lang: str) -> str:
    """The ``language`` the summarize chain is given for an item's ``lang`` (``en``, else Brazilian Portuguese
    for ``pt``, else the code itself)."""
    return {"en": "en", "pt": "pt-BR"}.get(lang, lang)


class SummariesTask(Task):
    """Summaries against hand-written key points (see the module docstring)."""

    name: ClassVar[str] = "summaries"
    title: ClassVar[str] = "summaries (key points, faithfulness, length)"
    item_model: ClassVar[type[Item]] = SummaryItem
    item_word: ClassVar[str] = "source"
    metrics: ClassVar[tuple[MetricSpec, ...]] = (
        MetricSpec("coverage", "share of the key points the summary states (the key-fact rule)"),
        MetricSpec("faithfulness", "share of summary sentences the source supports (at 0.6)"),
        MetricSpec("within_limit", "share of summaries within max_words (and not empty)"),
        MetricSpec("words", "mean length of the summaries, in words", better=None, digits=1),
    )
    headline: ClassVar[tuple[str, ...]] = ("coverage", "faithfulness", "within_limit")
    group_by: ClassVar[tuple[str, ...]] = ("lang", "shape")
    drop_metric: ClassVar[str | None] = "coverage"
    correct_rule: ClassVar[str] = "coverage ≥ 0.5"

    def question(self, item: SummaryItem) -> str:  # type: ignore[override]
        return item.title or item.text.strip().splitlines()[0][:120]

    def check_item(self, item: Any, where: str) -> None:
        """Nothing to refuse: the summarize chain fits any source to the model's window (map-reduce)."""

    def chain_input(self, item: SummaryItem, mode: str) -> dict[str, Any]:  # type: ignore[override]
        return {"text": item.text, "max_words": item.max_words, "language": chain_language(item.lang)}

    def gold(self, item: SummaryItem) -> dict[str, Any]:  # type: ignore[override]
        return {
            "points": list(item.points),
            "max_words": item.max_words,
            "lang": item.lang,
            "shape": item.shape,
        }

    def score(self, item: SummaryItem, output: dict[str, Any]) -> Scored:  # type: ignore[override]
        s = score_summary(item.model_dump(), output)
        summary = str(output.get("answer") or "")
        scores: dict[str, float | None] = {
            "coverage": s["coverage"],
            "faithfulness": s["faithfulness"],
            "within_limit": float(s["within_limit"]),
            "words": float(s["words"]),
        }
        details = {
            "points": [{"point": p, "covered": ok} for p, ok in zip(item.points, s["covered"], strict=True)],
            "unsupported": s["unsupported"],
        }
        kept = {
            "answer": summary,
            **{k: output[k] for k in ("language", "max_words", "cut_to_max_words") if k in output},
        }
        return Scored(
            prediction=summary,
            scores=scores,
            correct=s["coverage"] >= CORRECT_COVERAGE,
            output=kept,
            details=details,
        )

    def gold_text(self, row: Any) -> list[str]:
        return list(row.gold.get("points") or [])

    def row_view(self, row: Any) -> RowView:
        return RowView(row.question, self.gold_text(row), row.prediction, row.prediction)
