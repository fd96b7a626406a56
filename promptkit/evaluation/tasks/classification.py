"""Classification: one label per text, over ``eval/datasets/student_comments.jsonl`` (sentiment).

An item (one JSON line) has ``id``, ``lang``, ``text``, ``label`` (the gold label), ``split`` and optionally
``note``. The chain reads ``{"text"}`` and answers with the classification contract (``label``, ``None`` when
the answer names no label). Scoring is :func:`promptkit.kind_metrics.score_label` per text and
:func:`promptkit.kind_metrics.classification_report` over the run, the definitions the classification
benchmark prints: an answer without a label is ``(unparseable)``, never mapped to a label.

Per-row score: ``accuracy`` (1 when the predicted label is the gold one), with a bootstrap interval. Figures
of the whole run: ``macro_f1`` (the mean F1 over the labels, which are the gold labels and any label
predicted), ``unparseable`` (answers without a label), per label ``label.<l>.precision``, ``.recall``, ``.f1``
and ``.support``, and the confusion matrix ``confusion.<gold>.<predicted>`` (counts; the last column is
``(unparseable)``), shown as tables. The breakdown is per ``lang``.

A row is *correct* when its label is right, so ``eval compare`` lists the texts that go from right to wrong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from pydantic import Field

from promptkit.evaluation.results import TaskRow
from promptkit.evaluation.tasks.base import Item, MetricSpec, RowView, Scored, Table, TextTask
from promptkit.kind_metrics import UNPARSEABLE, classification_report, score_label


class LabelledItem(Item):
    """One text and its gold label (see the module docstring)."""

    lang: str = Field(min_length=2, max_length=8)
    text: str = Field(min_length=1)
    label: str = Field(min_length=1)
    note: str | None = None


def _fmt(value: float | int | None) -> str:
    return "-" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


class ClassificationTask(TextTask):
    """Labels against hand labels (see the module docstring)."""

    name: ClassVar[str] = "classification"
    title: ClassVar[str] = "classification (one label per text)"
    item_model: ClassVar[type[Item]] = LabelledItem
    metrics: ClassVar[tuple[MetricSpec, ...]] = (
        MetricSpec("accuracy", "share of texts given their gold label"),
        MetricSpec("macro_f1", "mean F1 over the labels (gold and predicted)", per_row=False),
        MetricSpec("unparseable", "answers without a label", better="lower", digits=0, per_row=False),
    )
    headline: ClassVar[tuple[str, ...]] = ("accuracy", "macro_f1")
    group_by: ClassVar[tuple[str, ...]] = ("lang",)
    correct_rule: ClassVar[str] = "label right"

    def gold(self, item: LabelledItem) -> dict[str, Any]:  # type: ignore[override]
        return {"label": item.label, "lang": item.lang}

    def score(self, item: LabelledItem, output: dict[str, Any]) -> Scored:  # type: ignore[override]
        s = score_label(item.model_dump(), output)
        kept = {k: output[k] for k in ("label", "verdict", "probabilities") if k in output}
        return Scored(
            prediction=s["predicted"],
            scores={"accuracy": float(s["correct"])},
            correct=s["correct"],
            output=kept,
        )

    def totals(self, rows: Sequence[TaskRow]) -> dict[str, float | int | None]:
        items = [{"label": r.gold["label"]} for r in rows]
        outputs = [{"label": r.output.get("label")} for r in rows]
        predicted = {o["label"] for o in outputs if o["label"]}
        labels = sorted({i["label"] for i in items} | predicted)
        report = classification_report(items, outputs, labels)
        out: dict[str, float | int | None] = {
            "macro_f1": report["macro_f1"] if rows else None,
            "unparseable": report["unparseable"],
        }
        for label, v in report["per_label"].items():
            for key in ("precision", "recall", "f1", "support"):
                out[f"label.{label}.{key}"] = v[key]
        for gold, row in report["confusion"].items():
            for pred, count in row.items():
                out[f"confusion.{gold}.{pred}"] = count
        return out

    def tables(self, metrics: Mapping[str, float | int | None]) -> list[Table]:
        labels = [k[6:-8] for k in metrics if k.startswith("label.") and k.endswith(".support")]
        if not labels:
            return []
        per_label = [
            (
                label,
                *(
                    _fmt(metrics.get(f"label.{label}.{key}"))
                    for key in ("support", "precision", "recall", "f1")
                ),
            )
            for label in labels
        ]
        columns = [*labels, UNPARSEABLE]
        matrix = [
            (gold, *(_fmt(metrics.get(f"confusion.{gold}.{pred}", 0)) for pred in columns)) for gold in labels
        ]
        return [
            Table("per label", ("label", "support", "precision", "recall", "F1"), per_label),
            Table(
                "confusion matrix (rows: gold, columns: predicted)", ("gold \\ predicted", *columns), matrix
            ),
        ]

    def gold_text(self, row: Any) -> list[str]:
        return [str(row.gold.get("label"))]

    def row_view(self, row: Any) -> RowView:
        return RowView(row.question, self.gold_text(row), row.prediction, row.prediction)
