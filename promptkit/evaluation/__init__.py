"""Evaluation of chains: run over a dataset, score with the dataset's task, compare, report.

Tasks (:mod:`promptkit.evaluation.tasks`): SQuAD 2.0 question answering (EM/F1, results schema v1), and with
schema v2 long-form cited answers of the course tutor (key-fact recall, faithfulness, citations, declines),
moderation (recall and false-positive rate per language, per category), summaries (key-point coverage,
faithfulness, length) and classification (accuracy, macro-F1, per label, confusion matrix).

>>> from promptkit.evaluation import evaluate            # doctest: +SKIP
>>> result = evaluate(chain="qa_zero_shot", dataset="course_qa", split="dev")   # doctest: +SKIP
>>> result.metrics["f1"], result.metrics_pt["f1"]      # doctest: +SKIP
>>> tutor = evaluate(chain="tutor", dataset="tutor_questions", split="dev")     # doctest: +SKIP
>>> tutor.metrics["key_fact_recall"], tutor.groups["type"]["fact"]              # doctest: +SKIP
"""

from __future__ import annotations

from promptkit.evaluation.compare import Comparison, Flip, compare, format_comparison
from promptkit.evaluation.report import render_report, report
from promptkit.evaluation.results import EvalResult, EvalRow, TaskResult, TaskRow
from promptkit.evaluation.runner import evaluate, load_result, package_versions, score_rows
from promptkit.evaluation.summary import format_summary

__all__ = [
    "Comparison",
    "EvalResult",
    "EvalRow",
    "Flip",
    "TaskResult",
    "TaskRow",
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
