"""Moderation: unsafe-vs-safe and category verdicts over ``eval/datasets/guard_texts.jsonl``.

An item (one JSON line) has ``id``, ``lang``, ``text``, ``labels`` (the taxonomy categories it belongs to, see
``prompts/moderation/TAXONOMY.md``; an empty list is a safe text), ``split`` and optionally ``register`` and
``note``. The chain reads ``{"text"}`` and answers with the moderation contract (``flagged``, ``categories``,
``decided_by``…). Scoring is :func:`promptkit.kind_metrics.score_moderation` per text and
:func:`promptkit.kind_metrics.moderation_report` over the run, the definitions the moderation benchmark
prints.

Per-row scores (``None`` where a metric does not apply):

=====================  ===========================================================  ===========
metric                 value                                                        rows
=====================  ===========================================================  ===========
``recall``             1 when the text is flagged                                   unsafe
``fpr``                1 when the text is flagged (lower is better)                 safe
``recall_pt``/``_en``  ``recall`` on the Portuguese / English texts                 unsafe
``fpr_pt``/``_en``     ``fpr`` on the Portuguese / English texts                    safe
``category_recall``    share of the text's categories the verdict names             unsafe
``accuracy``           1 when flagged exactly when unsafe                           all
=====================  ===========================================================  ===========

Figures of the whole run: ``precision`` (flagged texts that are unsafe), ``worst_category_recall``, counts
(``unsafe``, ``safe``, ``flagged``), and per category ``category.<c>.support``, ``.recall`` (the verdict
names the category), ``.flagged_recall`` (flagged at all) and ``.fpr`` (named on a text without it), shown as
the per-category table. Every per-row metric gets a bootstrap interval; the breakdown is per ``lang``.

A row is *correct* when it is flagged exactly when unsafe, so ``eval compare`` lists as flips an unsafe text
that stops being flagged and a safe text that becomes flagged; a text still flagged whose categories are no
longer named is listed among the ``category_recall`` drops.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from pydantic import Field, field_validator

from promptkit.evaluation.results import TaskRow
from promptkit.evaluation.tasks.base import Item, MetricSpec, RowView, Scored, Table, TextTask
from promptkit.kind_metrics import moderation_report, score_moderation

#: languages with their own recall and false-positive-rate metrics (others count in the overall figures)
LANGS = ("pt", "en")


class ModerationItem(Item):
    """One text to moderate (see the module docstring)."""

    lang: str = Field(min_length=2, max_length=8)
    text: str = Field(min_length=1)
    labels: list[str]
    #: the text's register (slang, formal…), the file's ``register`` key (pydantic models have a ``register``)
    text_register: str | None = Field(default=None, alias="register")
    note: str | None = None

    @field_validator("labels")
    @classmethod
    def _known_categories(cls, value: list[str]) -> list[str]:
        categories = _categories()
        unknown = [c for c in value if c not in categories]
        if unknown:
            raise ValueError(f"unknown category {unknown[0]!r}; the taxonomy has {', '.join(categories)}")
        return value


def _categories() -> tuple[str, ...]:
    """The taxonomy's categories (imported when needed: the moderation package loads the rules)."""
    from promptkit.moderation.taxonomy import CATEGORIES

    return CATEGORIES


def _share(description: str, better: str | None = "higher") -> dict[str, Any]:
    return {"description": description, "better": better}


def _fmt(value: float | int | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


class ModerationTask(TextTask):
    """Moderation verdicts against hand labels (see the module docstring)."""

    name: ClassVar[str] = "moderation"
    title: ClassVar[str] = "moderation (unsafe vs safe, categories)"
    item_model: ClassVar[type[Item]] = ModerationItem
    metrics: ClassVar[tuple[MetricSpec, ...]] = (
        MetricSpec("recall", **_share("share of unsafe texts flagged")),
        MetricSpec("fpr", **_share("share of safe texts flagged (false-positive rate)", "lower")),
        *(
            spec
            for lang in LANGS
            for spec in (
                MetricSpec(f"recall_{lang}", **_share(f"share of unsafe texts flagged, lang {lang}")),
                MetricSpec(f"fpr_{lang}", **_share(f"share of safe texts flagged, lang {lang}", "lower")),
            )
        ),
        MetricSpec("category_recall", **_share("share of an unsafe text's categories the verdict names")),
        MetricSpec("accuracy", **_share("share of texts flagged exactly when unsafe")),
        MetricSpec("precision", **_share("share of flagged texts that are unsafe"), per_row=False),
        MetricSpec(
            "worst_category_recall",
            **_share("lowest per-category recall (the category named)"),
            per_row=False,
        ),
        MetricSpec("unsafe", "unsafe texts", better=None, digits=0, per_row=False),
        MetricSpec("safe", "safe texts", better=None, digits=0, per_row=False),
        MetricSpec("flagged", "texts flagged", better=None, digits=0, per_row=False),
    )
    headline: ClassVar[tuple[str, ...]] = ("recall", "fpr", "precision", "category_recall")
    group_by: ClassVar[tuple[str, ...]] = ("lang",)
    drop_metric: ClassVar[str | None] = "category_recall"
    correct_rule: ClassVar[str] = "flagged exactly when unsafe"

    def gold(self, item: ModerationItem) -> dict[str, Any]:  # type: ignore[override]
        return {"labels": list(item.labels), "lang": item.lang}

    def score(self, item: ModerationItem, output: dict[str, Any]) -> Scored:  # type: ignore[override]
        s = score_moderation(item.model_dump(), output)
        flagged = float(s["flagged"])
        scores: dict[str, float | None] = {"accuracy": float(s["flagged"] == s["unsafe"])}
        if s["unsafe"]:
            scores["recall"] = flagged
            scores["category_recall"] = len(s["hit"]) / len(s["gold"])
            if item.lang in LANGS:
                scores[f"recall_{item.lang}"] = flagged
        else:
            scores["fpr"] = flagged
            if item.lang in LANGS:
                scores[f"fpr_{item.lang}"] = flagged
        kept = {"flagged": s["flagged"], "categories": s["predicted"], "decided_by": output.get("decided_by")}
        prediction = ", ".join(s["predicted"]) if s["flagged"] else "safe"
        if s["flagged"] and not s["predicted"]:
            prediction = "flagged"
        return Scored(
            prediction=prediction,
            scores=scores,
            correct=s["flagged"] == s["unsafe"],
            output=kept,
            details={"hit": s["hit"], "missed": s["missed"]},
        )

    def totals(self, rows: Sequence[TaskRow]) -> dict[str, float | int | None]:
        items = [{"lang": r.gold.get("lang"), "labels": r.gold.get("labels") or []} for r in rows]
        report = moderation_report(items, [r.output for r in rows], _categories())
        overall = report["binary"]["all"]
        out: dict[str, float | int | None] = {
            "precision": overall["precision"],
            "unsafe": overall["unsafe"],
            "safe": overall["safe"],
            "flagged": sum(1 for r in rows if r.output.get("flagged")),
        }
        recalls = []
        for c, v in report["categories"].items():
            for key in ("support", "recall", "flagged_recall", "fpr"):
                out[f"category.{c}.{key}"] = v[key]
            if v["recall"] is not None:
                recalls.append(v["recall"])
        out["worst_category_recall"] = min(recalls) if recalls else None
        return out

    def tables(self, metrics: Mapping[str, float | int | None]) -> list[Table]:
        found = [k[9:-8] for k in metrics if k.startswith("category.") and k.endswith(".support")]
        rows = [
            (
                c,
                _fmt(metrics.get(f"category.{c}.support")),
                _fmt(metrics.get(f"category.{c}.recall")),
                _fmt(metrics.get(f"category.{c}.flagged_recall")),
                _fmt(metrics.get(f"category.{c}.fpr")),
            )
            for c in found
        ]
        if not rows:
            return []
        return [
            Table(
                "per category (recall: the verdict names it; flagged recall: flagged at all)",
                ("category", "support", "recall", "flagged recall", "FPR"),
                rows,
            )
        ]

    def gold_text(self, row: Any) -> list[str]:
        return list(row.gold.get("labels") or []) or ["(safe)"]

    def row_view(self, row: Any) -> RowView:
        return RowView(row.question, self.gold_text(row), row.prediction, row.prediction)

    def flip_note(self, scores_a: Mapping[str, float | None], scores_b: Mapping[str, float | None]) -> str:
        def said(value: float | None) -> str:
            return "-" if value is None else "flagged" if value else "not flagged"

        if scores_a.get("recall") is not None or scores_b.get("recall") is not None:
            moved = f"unsafe: {said(scores_a.get('recall'))} → {said(scores_b.get('recall'))}"
            return f"{moved}; {super().flip_note(scores_a, scores_b)}"
        return f"safe: {said(scores_a.get('fpr'))} → {said(scores_b.get('fpr'))}"
