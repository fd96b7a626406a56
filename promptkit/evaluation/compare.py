"""Compare two evaluation runs item by item: metric deltas with paired-bootstrap CIs, and flipped items."""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, Field

from promptkit import metrics as M
from promptkit.errors import ValidationError
from promptkit.evaluation.results import EvalResult, EvalRow
from promptkit.evaluation.runner import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, load_result


class Flip(BaseModel):
    """One question whose score changed between run A and run B."""

    id: str
    question: str
    answers: list[str]
    prediction_a: str
    prediction_b: str
    raw_a: str
    raw_b: str
    exact_a: int
    exact_b: int
    f1_a: float
    f1_b: float


class Comparison(BaseModel):
    """B minus A on the questions both runs answered."""

    a: str
    b: str
    common: int
    only_a: list[str] = Field(default_factory=list)
    only_b: list[str] = Field(default_factory=list)
    same_dataset: bool
    deltas: dict[str, dict[str, Any]]
    metrics_a: dict[str, float | int]
    metrics_b: dict[str, float | int]
    correct_to_wrong: list[Flip]
    wrong_to_correct: list[Flip]
    f1_drops: list[Flip] = Field(description="F1 fell but EM did not flip from correct to wrong")

    def summary(self) -> str:
        return format_comparison(self)


def _flip(a: EvalRow, b: EvalRow) -> Flip:
    return Flip(
        id=a.id,
        question=a.question,
        answers=a.answers,
        prediction_a=a.prediction,
        prediction_b=b.prediction,
        raw_a=a.raw,
        raw_b=b.raw,
        exact_a=a.exact,
        exact_b=b.exact,
        f1_a=a.f1,
        f1_b=b.f1,
    )


def compare(
    a: EvalResult | str | os.PathLike[str],
    b: EvalResult | str | os.PathLike[str],
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> Comparison:
    """Deltas (B − A) of EM/F1 (official and ``pt-v1``) with paired-bootstrap CIs, and the flipped items."""
    ra, rb = load_result(a), load_result(b)
    rows_a, rows_b = ra.row_map(), rb.row_map()
    common = [qid for qid in rows_a if qid in rows_b]
    if not common:
        raise ValidationError(
            "the two runs share no question ids",
            hint="compare runs made on the same dataset (and split)",
        )
    deltas: dict[str, dict[str, Any]] = {}
    for metric in ("exact", "f1", "exact_pt", "f1_pt"):
        va = [float(getattr(rows_a[q], metric)) for q in common]
        vb = [float(getattr(rows_b[q], metric)) for q in common]
        deltas[metric] = M.paired_bootstrap(va, vb, resamples=resamples, seed=seed)
        deltas[metric]["a"] = 100.0 * sum(va) / len(va)
        deltas[metric]["b"] = 100.0 * sum(vb) / len(vb)
    c2w = [_flip(rows_a[q], rows_b[q]) for q in common if rows_a[q].exact == 1 and rows_b[q].exact == 0]
    w2c = [_flip(rows_a[q], rows_b[q]) for q in common if rows_a[q].exact == 0 and rows_b[q].exact == 1]
    drops = [
        _flip(rows_a[q], rows_b[q])
        for q in common
        if rows_b[q].f1 < rows_a[q].f1 - 1e-9 and not (rows_a[q].exact == 1 and rows_b[q].exact == 0)
    ]
    drops.sort(key=lambda f: f.f1_b - f.f1_a)
    return Comparison(
        a=ra.label,
        b=rb.label,
        common=len(common),
        only_a=[q for q in rows_a if q not in rows_b],
        only_b=[q for q in rows_b if q not in rows_a],
        same_dataset=ra.dataset.sha256 == rb.dataset.sha256,
        deltas=deltas,
        metrics_a=ra.metrics,
        metrics_b=rb.metrics,
        correct_to_wrong=c2w,
        wrong_to_correct=w2c,
        f1_drops=drops,
    )


def _short(text: str, width: int = 48) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def format_comparison(c: Comparison) -> str:
    """A plain-text report of a comparison."""
    lines = [
        f"A = {c.a}",
        f"B = {c.b}",
        f"{c.common} common questions" + ("" if c.same_dataset else " (WARNING: the datasets differ)"),
    ]
    if c.only_a or c.only_b:
        lines.append(f"only in A: {len(c.only_a)} · only in B: {len(c.only_b)}")
    lines += ["", f"{'metric':<10}{'A':>8}{'B':>8}{'B-A':>8}  95% CI (paired bootstrap)   P(B>A)"]
    for name, d in c.deltas.items():
        lines.append(
            f"{name:<10}{d['a']:>8.1f}{d['b']:>8.1f}{d['delta']:>+8.1f}  "
            f"[{d['low']:+.1f}, {d['high']:+.1f}]{'':<14}{d['p_b_better']:.2f}"
        )
    for title, flips in (
        ("correct → wrong (EM)", c.correct_to_wrong),
        ("wrong → correct (EM)", c.wrong_to_correct),
        ("F1 drops", c.f1_drops),
    ):
        lines += ["", f"{title}: {len(flips)}"]
        for f in flips[:20]:
            lines.append(
                f"  {f.id}: {_short(f.prediction_a or '∅', 30)!r} → {_short(f.prediction_b or '∅', 30)!r}"
                f"  (gold {_short(' | '.join(f.answers) or '∅', 30)!r}, F1 {f.f1_a:.2f} → {f.f1_b:.2f})"
            )
        if len(flips) > 20:
            lines.append(f"  … and {len(flips) - 20} more")
    return "\n".join(lines)
