"""Evaluation of QA chains on SQuAD 2.0 datasets: run, compare, report.

>>> from promptkit.evaluation import evaluate            # doctest: +SKIP
>>> result = evaluate(chain="qa_zero_shot", dataset="course_qa", split="dev")   # doctest: +SKIP
>>> result.metrics["f1"], result.metrics_pt["f1"]      # doctest: +SKIP
"""

from __future__ import annotations

from promptkit.evaluation.compare import Comparison, Flip, compare, format_comparison
from promptkit.evaluation.report import render_report, report
from promptkit.evaluation.results import EvalResult, EvalRow, format_summary
from promptkit.evaluation.runner import evaluate, load_result, package_versions, score_rows

__all__ = [
    "Comparison",
    "EvalResult",
    "EvalRow",
    "Flip",
    "compare",
    "evaluate",
    "format_comparison",
    "format_summary",
    "load_result",
    "package_versions",
    "render_report",
    "report",
    "score_rows",
]
