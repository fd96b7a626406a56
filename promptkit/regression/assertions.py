"""``assert_no_regression``: the gate as a plain assertion for pytest tests."""

from __future__ import annotations

import os
from typing import Any

from promptkit.evaluation.results import EvalResult
from promptkit.regression.baseline import Baseline
from promptkit.regression.gate import Verdict, coerce_tolerances, failure_message, gate


def assert_no_regression(
    result: EvalResult | str | os.PathLike[str],
    baseline: Baseline | EvalResult | str | os.PathLike[str],
    *,
    metrics: list[str] | None = None,
    allow_flips: list[str] | None = None,
    **tolerances: Any,
) -> Verdict:
    """Fail (``AssertionError``) when ``result`` regressed against ``baseline``; return the verdict otherwise.

    ``baseline`` is a recorded :class:`Baseline` (its suite entry's metrics, tolerances and allowed flips are
    the defaults), a results object or a results file. Keyword tolerances override them: ``f1={"max_drop": 2}``
    (or ``f1=2.0``), ``exact=...``, ``ci_lower_bound=-5.0``, ``max_flips=0``. The message lists what failed,
    the metric table and every item that flipped from correct to wrong. A changed dataset fails with
    "dataset changed: … re-record the baseline" rather than as a regression.
    """
    if isinstance(baseline, Baseline):
        entry = baseline.entry
        base_result: Any = baseline.result
        metrics = metrics or entry.metrics
        allow = [*entry.allow_flips, *(allow_flips or [])]
        tol = coerce_tolerances(entry.tolerances, **tolerances)
        title = f"prompt regression in {baseline.suite}/{entry.id}"
    else:
        base_result, allow = baseline, list(allow_flips or [])
        tol = coerce_tolerances(None, **tolerances)
        title = "prompt regression"
    verdict = gate(base_result, result, metrics=metrics, tolerances=tol, allow_flips=allow)
    if not verdict.ok:
        raise AssertionError(failure_message(verdict, title))
    return verdict
