"""The regression gate: compare a run with its baseline under a suite entry's tolerances.

Rules (all on the 0-100 scale, official SQuAD normaliser unless the metric ends in ``_pt``):

* ``max_drop``: fails when ``baseline - now > max_drop`` (a drop of exactly ``max_drop`` passes);
* ``ci_lower_bound``: fails when the lower end of the 95% paired-bootstrap CI of ``now - baseline`` is below the
  bound (equal passes); only for metrics with per-item scores (exact, f1, exact_pt, f1_pt);
* ``max_flips``: fails when more items than this went from correct (EM 1) to wrong (EM 0), not counting the ids
  in ``allow_flips``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from promptkit.evaluation.compare import Comparison, Flip, compare
from promptkit.evaluation.results import EvalResult
from promptkit.evaluation.runner import load_result
from promptkit.regression.suite import GUARDABLE, PAIRED, MetricTolerance, Tolerances

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


def _metric_value(result: EvalResult, name: str) -> float | None:
    if name.endswith("_pt"):
        value = result.metrics_pt.get(name[: -len("_pt")])
    else:
        value = result.metrics.get(name)
    return None if value is None else float(value)


def _tolerance_text(tol: MetricTolerance, bound: float | None, paired: bool) -> str:
    parts = [f"drop ≤ {tol.max_drop:g}"]
    if bound is not None and paired:
        parts.append(f"CI low ≥ {bound:g}")
    return ", ".join(parts)


def coerce_tolerances(tolerances: Tolerances | dict[str, Any] | None, **overrides: Any) -> Tolerances:
    """A :class:`Tolerances` from a model, a mapping, or keyword overrides (``f1={"max_drop": 1}``,
    ``f1=1.0`` as a shorthand for ``max_drop``, ``max_flips=0``, ``ci_lower_bound=-5``)."""
    data: dict[str, Any] = {}
    if isinstance(tolerances, Tolerances):
        data = tolerances.model_dump(exclude_none=True)
    elif tolerances:
        data = dict(tolerances)
    for key, value in overrides.items():
        if key in GUARDABLE and isinstance(value, int | float):
            value = {"max_drop": float(value)}
        data[key] = value
    return Tolerances.model_validate(data)


def gate(
    baseline: EvalResult | str | os.PathLike[str],
    result: EvalResult | str | os.PathLike[str],
    *,
    metrics: list[str] | None = None,
    tolerances: Tolerances | dict[str, Any] | None = None,
    allow_flips: list[str] | None = None,
) -> Verdict:
    """Check ``result`` against ``baseline``; every guarded metric, the CI bound and the flip budget."""
    base, now = load_result(baseline), load_result(result)
    tol = coerce_tolerances(tolerances)
    guarded = list(dict.fromkeys([*(metrics or ["exact", "f1"]), *tol.named()]))
    allowed = set(allow_flips or [])
    if base.dataset.sha256 != now.dataset.sha256:
        message = (f"dataset changed: {now.dataset.name} sha256 {base.dataset.sha256[:8]} → "
                   f"{now.dataset.sha256[:8]}; the baseline no longer measures the same questions, "
                   "re-record the baseline")
        return Verdict([], [], [], [], tol.max_flips, [message], None, dataset_changed=True)
    comparison = compare(base, now)
    rows: list[MetricCheck] = []
    failures: list[str] = []
    for name in guarded:
        t = tol.for_metric(name)
        bound = t.ci_lower_bound if t.ci_lower_bound is not None else tol.ci_lower_bound
        paired = name in PAIRED
        ci = None
        if paired:
            d = comparison.deltas[name]
            b_val, n_val, delta = d["a"], d["b"], d["delta"]
            ci = (d["low"], d["high"])
        else:
            b_val, n_val = _metric_value(base, name), _metric_value(now, name)
            delta = None if b_val is None or n_val is None else n_val - b_val
        reasons = []
        if delta is not None and -delta > t.max_drop + EPS:
            reasons.append(f"{name} fell {-delta:.1f} points ({b_val:.1f} → {n_val:.1f}), "
                           f"more than the allowed {t.max_drop:g}")
        if ci is not None and bound is not None and ci[0] < bound - EPS:
            reasons.append(f"{name}: lower end of the 95% CI of the difference is {ci[0]:+.1f}, "
                           f"below the bound {bound:+g}")
        failures += reasons
        rows.append(MetricCheck(name, b_val, n_val, delta, ci, _tolerance_text(t, bound, paired),
                                not reasons, "; ".join(reasons)))
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


# -- text ----------------------------------------------------------------------------------------------------


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.1f}" if signed else f"{value:.1f}"


def _clip(text: str, width: int = 40) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def format_flip(f: Flip) -> str:
    gold = " | ".join(f.answers) or "(no answer)"
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
        ci = f"[{m.ci[0]:+.1f}, {m.ci[1]:+.1f}]" if m.ci else "-"
        table.append((m.name, _fmt(m.baseline), _fmt(m.now), _fmt(m.delta, True), ci, m.tolerance,
                      "ok" if m.ok else "FAIL"))
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
