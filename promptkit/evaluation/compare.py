"""Compare two evaluation runs item by item: metric deltas with paired-bootstrap CIs, and flipped items.

Both runs must be of the same task (:mod:`promptkit.evaluation.tasks`). Every per-row metric of the task gets
``B − A`` over the items both runs scored where the metric applies to both, with a paired-bootstrap 95%
interval and ``P(B > A)``; items flip when the task's verdict (SQuAD: EM; long-form: key facts ≥ 0.5, or
declined out of scope) changes, and the items whose graded score (SQuAD: F1; long-form: key-fact recall) fell
without flipping are listed apart.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, Field

from promptkit import metrics as M
from promptkit.errors import ValidationError
from promptkit.evaluation.results import EvalResult, TaskResult
from promptkit.evaluation.runner import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, load_result
from promptkit.evaluation.tasks import Task, get_task, task_of


class Flip(BaseModel):
    """One item whose verdict or score changed between run A and run B."""

    id: str
    question: str
    gold: list[str] = Field(description="what the item expects (SQuAD: its answers; long-form: key facts)")
    prediction_a: str
    prediction_b: str
    raw_a: str
    raw_b: str
    scores_a: dict[str, float | None]
    scores_b: dict[str, float | None]
    note: str = Field(default="", description="how the graded score moved (F1 1.00 → 0.00)")


class Comparison(BaseModel):
    """B minus A on the items both runs scored."""

    task: str = "squad"
    a: str
    b: str
    common: int
    only_a: list[str] = Field(default_factory=list)
    only_b: list[str] = Field(default_factory=list)
    same_dataset: bool
    deltas: dict[str, dict[str, Any]]
    metrics_a: dict[str, float | int | None]
    metrics_b: dict[str, float | int | None]
    correct_rule: str = Field(default="EM", description="what makes an item correct in this task")
    correct_to_wrong: list[Flip]
    wrong_to_correct: list[Flip]
    drop_metric: str | None = "f1"
    drops: list[Flip] = Field(default_factory=list,
                              description="the graded score fell but the item did not flip to wrong")

    def summary(self) -> str:
        return format_comparison(self)


def _flip(task: Task, qid: str, a: Any, b: Any) -> Flip:
    va, vb = task.row_view(a), task.row_view(b)
    sa, sb = task.row_scores(a), task.row_scores(b)
    return Flip(id=qid, question=va.question, gold=va.gold, prediction_a=va.prediction,
                prediction_b=vb.prediction, raw_a=va.raw, raw_b=vb.raw, scores_a=sa, scores_b=sb,
                note=task.flip_note(sa, sb))


def compare(
    a: EvalResult | TaskResult | str | os.PathLike[str],
    b: EvalResult | TaskResult | str | os.PathLike[str],
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> Comparison:
    """Deltas (B − A) of the task's per-row metrics with paired-bootstrap CIs, and the flipped items."""
    ra, rb = load_result(a), load_result(b)
    if ra.task != rb.task:
        raise ValidationError(f"cannot compare a {ra.task} run with a {rb.task} run",
                              hint="compare runs of the same task on the same dataset")
    task = task_of(ra)
    rows_a, rows_b = ra.row_map(), rb.row_map()
    common = [qid for qid in rows_a if qid in rows_b]
    if not common:
        raise ValidationError(
            "the two runs share no question ids",
            hint="compare runs made on the same dataset (and split)",
        )
    scores_a = {q: task.row_scores(rows_a[q]) for q in common}
    scores_b = {q: task.row_scores(rows_b[q]) for q in common}
    deltas: dict[str, dict[str, Any]] = {}
    for name in task.paired_metrics():
        spec = task.spec(name)
        both = [q for q in common if scores_a[q].get(name) is not None and scores_b[q].get(name) is not None]
        if not both:
            continue
        va = [float(scores_a[q][name]) for q in both]  # type: ignore[arg-type]
        vb = [float(scores_b[q][name]) for q in both]  # type: ignore[arg-type]
        deltas[name] = M.paired_bootstrap(va, vb, resamples=resamples, seed=seed, scale=spec.scale)
        deltas[name]["a"] = spec.scale * sum(va) / len(va)
        deltas[name]["b"] = spec.scale * sum(vb) / len(vb)
        if len(both) != len(common):
            deltas[name]["n"] = len(both)
    verdict_a = {q: task.row_correct(rows_a[q]) for q in common}
    verdict_b = {q: task.row_correct(rows_b[q]) for q in common}
    c2w = [_flip(task, q, rows_a[q], rows_b[q]) for q in common
           if verdict_a[q] is True and verdict_b[q] is False]
    w2c = [_flip(task, q, rows_a[q], rows_b[q]) for q in common
           if verdict_a[q] is False and verdict_b[q] is True]
    drops: list[Flip] = []
    name = task.drop_metric
    if name:
        for q in common:
            x, y = scores_a[q].get(name), scores_b[q].get(name)
            if x is not None and y is not None and y < x - 1e-9 and not (verdict_a[q] is True and
                                                                           verdict_b[q] is False):
                drops.append(_flip(task, q, rows_a[q], rows_b[q]))
        drops.sort(key=lambda f: (f.scores_b[name] or 0.0) - (f.scores_a[name] or 0.0))
    return Comparison(
        task=task.name,
        a=ra.label,
        b=rb.label,
        common=len(common),
        only_a=[q for q in rows_a if q not in rows_b],
        only_b=[q for q in rows_b if q not in rows_a],
        same_dataset=ra.dataset.sha256 == rb.dataset.sha256,
        deltas=deltas,
        metrics_a=ra.metrics,
        metrics_b=rb.metrics,
        correct_rule=task.correct_rule,
        correct_to_wrong=c2w,
        wrong_to_correct=w2c,
        drop_metric=name,
        drops=drops,
    )


def _short(text: str, width: int = 48) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def format_comparison(c: Comparison) -> str:
    """A plain-text report of a comparison."""
    task = get_task(c.task)
    lines = [
        f"A = {c.a}",
        f"B = {c.b}",
        f"{c.common} common questions" + ("" if c.same_dataset else " (WARNING: the datasets differ)"),
    ]
    if c.only_a or c.only_b:
        lines.append(f"only in A: {len(c.only_a)} · only in B: {len(c.only_b)}")
    width = max([10, *(len(n) + 1 for n in c.deltas)])
    lines += ["", f"{'metric':<{width}}{'A':>8}{'B':>8}{'B-A':>8}  95% CI (paired bootstrap)   P(B>A)"]
    for name, d in c.deltas.items():
        spec = task.spec(name)
        k = spec.digits
        ci = f"[{d['low']:+.{k}f}, {d['high']:+.{k}f}]"
        lines.append(
            f"{name:<{width}}{d['a']:>8.{k}f}{d['b']:>8.{k}f}{d['delta']:>+8.{k}f}  "
            f"{ci}{'':<14}{d['p_b_better']:.2f}" + (f"  (n={d['n']})" if "n" in d else "")
        )
    for title, flips in (
        (f"correct → wrong ({c.correct_rule})", c.correct_to_wrong),
        (f"wrong → correct ({c.correct_rule})", c.wrong_to_correct),
        (task.drop_title, c.drops),
    ):
        lines += ["", f"{title}: {len(flips)}"]
        for f in flips[:20]:
            lines.append(
                f"  {f.id}: {_short(f.prediction_a or '∅', 30)!r} → {_short(f.prediction_b or '∅', 30)!r}"
                f"  (gold {_short(' | '.join(f.gold) or '∅', 30)!r}, {f.note})"
            )
        if len(flips) > 20:
            lines.append(f"  … and {len(flips) - 20} more")
    return "\n".join(lines)
