"""The regression gate: compare a run with its baseline under a suite entry's tolerances.

Rules, each on the metric's own scale (SQuAD: points 0-100, official normaliser unless the metric ends in
``_pt``; long-form: shares 0-1 and lengths in words):

* ``max_drop``: fails when ``baseline - now > max_drop`` (a drop of exactly ``max_drop`` passes);
  ``max_rise``: fails when ``now - baseline > max_rise``. Unset, a metric where higher is better may not fall
  and one where lower is better may not rise (a bound of 0); one where neither is better is bounded only when
  set;
* ``ci_lower_bound``: fails when the lower end of the 95% paired-bootstrap CI of the improvement (``now -
  baseline``, or ``baseline - now`` where lower is better) is below the bound (equal passes); only for metrics
  with per-item scores (SQuAD: exact, f1, exact_pt, f1_pt);
* ``max_flips``: fails when more items than this went from correct to wrong (SQuAD: EM 1 to EM 0; long-form:
  key facts ≥ 0.5 to < 0.5, or declined to answered out of scope), not counting the ids in ``allow_flips``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from promptkit.errors import ValidationError
from promptkit.evaluation.compare import Comparison, Flip, compare
from promptkit.evaluation.results import EvalResult, TaskResult
from promptkit.evaluation.runner import load_result
from promptkit.evaluation.tasks import MetricSpec, Task, task_of
from promptkit.regression.suite import SUITE_WIDE, MetricTolerance, Tolerances

EPS = 1e-9


@dataclass
class MetricCheck:
    """One row of the check table."""

    name: str
    baseline: float | None
    now: float | None
    delta: float | None
    ci: tuple[float, float] | None
    tolerance: str
    ok: bool
    reason: str = ""
    digits: int = 1


@dataclass
class Verdict:
    """The outcome of :func:`gate`."""

    metrics: list[MetricCheck]
    flips: list[Flip]
    allowed_flips: list[Flip]
    fixed: list[Flip]
    max_flips: int | None
    failures: list[str]
    comparison: Comparison | None = None
    dataset_changed: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def _tolerance_text(drop: float | None, rise: float | None, bound: float | None, paired: bool) -> str:
    parts = []
    if drop is not None:
        parts.append(f"drop ≤ {drop:g}")
    if rise is not None:
        parts.append(f"rise ≤ {rise:g}")
    if bound is not None and paired:
        parts.append(f"CI low ≥ {bound:g}")
    return ", ".join(parts) or "shown only"


def coerce_tolerances(tolerances: Tolerances | dict[str, Any] | None, **overrides: Any) -> Tolerances:
    """A :class:`Tolerances` from a model, a mapping, or keyword overrides (``f1={"max_drop": 1}``,
    ``f1=1.0`` as a shorthand for ``max_drop``, ``max_flips=0``, ``ci_lower_bound=-5``)."""
    data: dict[str, Any] = {}
    if isinstance(tolerances, Tolerances):
        data = tolerances.model_dump(exclude_none=True)
    elif tolerances:
        data = dict(tolerances)
    for key, value in overrides.items():
        if key not in SUITE_WIDE and isinstance(value, int | float) and not isinstance(value, bool):
            value = {"max_drop": float(value)}
        data[key] = value
    return Tolerances.model_validate(data)


def gate(
    baseline: EvalResult | TaskResult | str | os.PathLike[str],
    result: EvalResult | TaskResult | str | os.PathLike[str],
    *,
    metrics: list[str] | None = None,
    tolerances: Tolerances | dict[str, Any] | None = None,
    allow_flips: list[str] | None = None,
) -> Verdict:
    """Check ``result`` against ``baseline``; every guarded metric, the CI bound and the flip budget.

    ``metrics`` defaults to the task's headline metrics; every metric a tolerance names is guarded too."""
    base, now = load_result(baseline), load_result(result)
    tol = coerce_tolerances(tolerances)
    task = task_of(base)
    guarded = list(dict.fromkeys([*(metrics or task.default_metrics()), *tol.named()]))
    for name in guarded:
        task.spec(name)  # an unknown metric is one error line naming the task's metrics
    allowed = set(allow_flips or [])
    if base.dataset.sha256 != now.dataset.sha256:
        message = (f"dataset changed: {now.dataset.name} sha256 {base.dataset.sha256[:8]} → "
                   f"{now.dataset.sha256[:8]}; the baseline no longer measures the same questions, "
                   "re-record the baseline")
        return Verdict([], [], [], [], tol.max_flips, [message], None, dataset_changed=True)
    if base.task != now.task:
        raise ValidationError(f"the baseline is a {base.task} run and the new run a {now.task} run",
                              hint="re-record the baseline")
    comparison = compare(base, now)
    rows: list[MetricCheck] = []
    failures: list[str] = []
    for name in guarded:
        check, reasons = _check_metric(task, name, tol.for_metric(name), tol, base, now, comparison)
        rows.append(check)
        failures += reasons
    counted = [f for f in comparison.correct_to_wrong if f.id not in allowed]
    waived = [f for f in comparison.correct_to_wrong if f.id in allowed]
    if tol.max_flips is not None and len(counted) > tol.max_flips:
        ids = ", ".join(f.id for f in counted[:10]) + (" …" if len(counted) > 10 else "")
        failures.append(f"{len(counted)} item(s) flipped from correct to wrong (allowed {tol.max_flips}): {ids}")
    notes = []
    if comparison.only_a or comparison.only_b:
        notes.append(f"questions only in the baseline: {len(comparison.only_a)}, only now: {len(comparison.only_b)}")
    return Verdict(rows, counted, waived, comparison.wrong_to_correct, tol.max_flips, failures, comparison,
                   notes=notes)


def _check_metric(task: Task, name: str, t: MetricTolerance, tol: Tolerances, base: Any, now: Any,
                  comparison: Comparison) -> tuple[MetricCheck, list[str]]:
    """One row of the table and the reasons it fails (none when it passes)."""
    spec = task.spec(name)
    bound = t.ci_lower_bound if t.ci_lower_bound is not None else tol.ci_lower_bound
    paired = spec.per_row and name in comparison.deltas
    ci = None
    if paired:
        d = comparison.deltas[name]
        b_val, n_val, delta = d["a"], d["b"], d["delta"]
        ci = (d["low"], d["high"])
    else:
        b_val, n_val = base.metric(name), now.metric(name)
        delta = None if b_val is None or n_val is None else n_val - b_val
    drop, rise = t.bounds(spec.better)
    k, unit = spec.digits, spec.unit
    reasons = []
    if delta is not None and drop is not None and -delta > drop + EPS:
        reasons.append(f"{name} fell {-delta:.{k}f}{unit} ({b_val:.{k}f} → {n_val:.{k}f}), "
                       f"more than the allowed {drop:g}")
    if delta is not None and rise is not None and delta > rise + EPS:
        reasons.append(f"{name} rose {delta:.{k}f}{unit} ({b_val:.{k}f} → {n_val:.{k}f}), "
                       f"more than the allowed {rise:g}")
    if spec.better is None:
        bound = None
    if ci is not None and bound is not None:
        low = ci[0] if spec.better == "higher" else -ci[1]
        if low < bound - EPS:
            what = "the difference" if spec.better == "higher" else "the improvement (baseline - now)"
            reasons.append(f"{name}: lower end of the 95% CI of {what} is {low:+.{k}f}, "
                           f"below the bound {bound:+g}")
    text = _tolerance_text(drop, rise, bound, paired)
    check = MetricCheck(name, b_val, n_val, delta, ci, text, not reasons, "; ".join(reasons), digits=k)
    return check, reasons


# -- text ----------------------------------------------------------------------------------------------------


def _fmt(value: float | None, signed: bool = False, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _clip(text: str, width: int = 40) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def format_flip(f: Flip) -> str:
    gold = " | ".join(f.gold) or "(no answer)"
    return (f"  {f.id}: {_clip(f.question, 60)}\n"
            f"      gold {_clip(gold)!r}; baseline {_clip(f.prediction_a or '(abstained)')!r} → "
            f"now {_clip(f.prediction_b or '(abstained)')!r}")


def format_verdict(verdict: Verdict, *, limit: int = 20) -> str:
    """The check table (metric, baseline, now, delta, CI of the difference, tolerance, status) and the flips."""
    if verdict.dataset_changed:
        return "\n".join(verdict.failures)
    header = ("metric", "baseline", "now", "delta", "95% CI of delta", "tolerance", "status")
    table = [header]
    for m in verdict.metrics:
        k = m.digits
        ci = f"[{m.ci[0]:+.{k}f}, {m.ci[1]:+.{k}f}]" if m.ci else "-"
        table.append((m.name, _fmt(m.baseline, digits=k), _fmt(m.now, digits=k), _fmt(m.delta, True, k), ci,
                      m.tolerance, "ok" if m.ok else "FAIL"))
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = []
    for i, row in enumerate(table):
        cells = [c.ljust(w) if j in (0, 5, 6) else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    budget = "no limit" if verdict.max_flips is None else f"allowed {verdict.max_flips}"
    waived = f", {len(verdict.allowed_flips)} listed in allow_flips" if verdict.allowed_flips else ""
    lines.append("")
    lines.append(f"flips correct → wrong: {len(verdict.flips)} ({budget}{waived}); "
                 f"wrong → correct: {len(verdict.fixed)}")
    for f in verdict.flips[:limit]:
        lines.append(format_flip(f))
    if len(verdict.flips) > limit:
        lines.append(f"  … and {len(verdict.flips) - limit} more")
    lines += verdict.notes
    return "\n".join(lines)


def failure_message(verdict: Verdict, title: str = "prompt regression") -> str:
    """A readable assertion message: what failed, the table, and the flipped items."""
    lines = [f"{title}:"] + [f"- {f}" for f in verdict.failures]
    if not verdict.dataset_changed:
        lines += ["", format_verdict(verdict)]
    return "\n".join(lines)
