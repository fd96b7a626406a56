"""Plain-text summaries of results of any task: SQuAD's EM/F1 table, or a task's metrics with their intervals
and the breakdown per group (question type, language…)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from promptkit.evaluation.results import EvalResult, TaskResult
from promptkit.evaluation.results import format_summary as format_squad_summary
from promptkit.evaluation.tasks import Table, Task, task_of


def table(header: Sequence[str], body: Sequence[Sequence[str]], *, left: Sequence[int] = (0,)) -> list[str]:
    """Aligned plain-text table lines (columns in ``left`` flush left, the others right)."""
    rows = [list(header), *[list(r) for r in body]]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    out = []
    for i, row in enumerate(rows):
        out.append("  ".join(c.ljust(w) if j in left else c.rjust(w)
                             for j, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip())
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def ci_text(task: Task, name: str, ci: dict[str, Any] | None) -> str:
    if not ci:
        return ""
    k = task.spec(name).digits
    return f"[{ci['low']:.{k}f}, {ci['high']:.{k}f}]"


def shown_metrics(task: Task, result: EvalResult | TaskResult) -> list[str]:
    """The task's metrics that have a value in this run, headline first."""
    names = [*task.headline, *(s.name for s in task.metrics if s.name not in task.headline)]
    return [n for n in names if result.metric(n) is not None]


def breakdown_tables(task: Task, result: EvalResult | TaskResult) -> list[Table]:
    """The run's metrics per group of items, one table per breakdown key (``by lang``: a row per language
    with its n and the task's headline metrics); none for SQuAD."""
    out = []
    for key, groups in getattr(result, "groups", {}).items():
        columns = [n for n in task.headline if any(g.get(n) is not None for g in groups.values())]
        rows = [(value, str(g.get("n", "")), *(task.spec(n).fmt(_num(g.get(n))) for n in columns))
                for value, g in groups.items()]
        out.append(Table(f"by {key}", (key, "n", *columns), rows))
    return out


def format_task_summary(result: TaskResult) -> str:
    """The metrics of a run (value, 95% interval, rows it applies to, meaning) and the breakdowns."""
    task = task_of(result)
    lines = [
        f"task {result.task} · chain {result.chain} · prompt {result.prompt.ref or '-'} · "
        f"model {result.model.id or '-'} · mode {result.mode}",
        f"dataset {result.dataset.name} (split {result.dataset.split or 'all'}, {result.dataset.total} items)"
        f" · cache {result.cache.mode}: {result.cache.hits} hits, {result.cache.misses} misses"
        f" · {result.duration_s:.1f} s",
        "",
    ]
    body = []
    for name in shown_metrics(task, result):
        spec = task.spec(name)
        ci = result.ci.get(name)
        body.append((name, spec.fmt(result.metric(name)), ci_text(task, name, ci),
                     str(ci.get("n", "")) if ci else "", spec.description))
    lines += table(("metric", "value", "95% CI", "n", "meaning"), body, left=(0, 4))
    if result.judge is not None:
        lines += ["", f"judge: {result.judge.id} (verdicts via {result.judge.settings.get('via', '?')})"]
    for extra in [*breakdown_tables(task, result), *task.tables(result.metrics)]:
        lines += ["", f"{extra.title}:"]
        lines += ["  " + line for line in table(extra.header, extra.rows)]
    return "\n".join(lines)


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def format_summary(result: EvalResult | TaskResult) -> str:
    """A plain-text summary of a run of any task."""
    if isinstance(result, EvalResult):
        return format_squad_summary(result)
    return format_task_summary(result)
