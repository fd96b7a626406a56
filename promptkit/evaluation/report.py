"""Reports of one or more evaluation runs: a self-contained HTML page (inline CSS and SVG, no external assets)
and a Markdown summary table (one row per run) for READMEs and pull requests.

SQuAD runs show EM/F1 both ways; runs of other tasks show the task's metrics with intervals, the breakdown per
group (question type, language…) and a chart of the task's headline metrics. Runs of the same task are
compared with the first one of that task (deltas with paired intervals, flipped items side by side).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from html import escape
from pathlib import Path

from promptkit.errors import ValidationError
from promptkit.evaluation.compare import Comparison, Flip, compare
from promptkit.evaluation.results import EvalResult, TaskResult
from promptkit.evaluation.runner import load_result
from promptkit.evaluation.summary import breakdown_tables, ci_text, shown_metrics
from promptkit.evaluation.tasks import Task, get_task, task_of
from promptkit.fileio import atomic_write_text

AnyResult = EvalResult | TaskResult

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1f2328;
max-width:1200px}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d0d7de;padding-bottom:.3rem}
h3{font-size:1rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #d0d7de;padding:.3rem .55rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#656d76;font-size:.85rem}.bad{background:#ffebe9}.good{background:#dafbe1}
code{font-size:.85rem}
"""

_PALETTE = ("#0969da", "#8250df", "#1a7f37", "#bf8700", "#cf222e", "#57606a")


def _num(value: object, digits: int = 1) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:.{digits}f}" if isinstance(value, float) else str(value)
    return "—"


def _ci(result: EvalResult, key: str) -> str:
    ci = result.ci.get(key)
    return f"[{ci['low']:.1f}, {ci['high']:.1f}]" if ci else "—"


def _meta_rows(r: AnyResult) -> str:
    meta = [
        ("chain", r.chain),
        ("prompt", f"{r.prompt.ref or '—'} ({(r.prompt.hash or '')[:12] or 'no hash'})"),
        ("model", r.model.id or "—"),
        ("mode", r.mode),
        (
            "dataset",
            f"{r.dataset.name} · split {r.dataset.split or 'all'} · {r.dataset.total} questions · "
            f"sha256 {r.dataset.sha256[:12]}",
        ),
        ("cache", f"{r.cache.mode}: {r.cache.hits} hits, {r.cache.misses} misses"),
        ("when", f"{r.timestamp} · {r.duration_s:.1f} s"),
        ("versions", ", ".join(f"{k} {v}" for k, v in r.versions.items() if v)),
    ]
    if isinstance(r, TaskResult):
        meta.insert(0, ("task", f"{r.task} ({task_of(r).title})"))
        if r.judge is not None:
            meta.append(("judge", f"{r.judge.id} · verdicts via {r.judge.settings.get('via', '?')}"))
    return "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in meta)


def _task_run_table(index: int, r: TaskResult) -> str:
    task = task_of(r)
    body = "".join(
        f"<tr><th>{escape(name)}</th><td class='num'>{escape(task.spec(name).fmt(r.metric(name)))}</td>"
        f"<td class='num'>{escape(ci_text(task, name, r.ci.get(name)) or '—')}</td>"
        f"<td class='num'>{(r.ci.get(name) or {}).get('n', '')}</td>"
        f"<td class='muted'>{escape(task.spec(name).description)}</td></tr>"
        for name in shown_metrics(task, r)
    )
    parts = [
        f"<h2>Run {index + 1}: {escape(r.label)}</h2><table>{_meta_rows(r)}</table>",
        "<table><tr><th>metric</th><th>value</th><th>95% CI</th><th>n</th><th>meaning</th></tr>"
        f"{body}</table>",
    ]
    for extra in [*breakdown_tables(task, r), *task.tables(r.metrics)]:
        head = "".join(f"<th>{escape(c)}</th>" for c in extra.header)
        rows = "".join(
            f"<tr><th>{escape(row[0])}</th>" + "".join(f"<td class='num'>{escape(c)}</td>" for c in row[1:])
            + "</tr>"
            for row in extra.rows
        )
        parts.append(f"<h3>{escape(extra.title[:1].upper() + extra.title[1:])}</h3>"
                     f"<table><tr>{head}</tr>{rows}</table>")
    return "".join(parts)


def _run_table(index: int, r: AnyResult) -> str:
    return _squad_run_table(index, r) if isinstance(r, EvalResult) else _task_run_table(index, r)


def _squad_run_table(index: int, r: EvalResult) -> str:
    m, p = r.metrics, r.metrics_pt
    head = _meta_rows(r)
    rows = [
        ("EM", m.get("exact"), _ci(r, "exact"), p.get("exact"), _ci(r, "exact_pt")),
        ("F1", m.get("f1"), _ci(r, "f1"), p.get("f1"), _ci(r, "f1_pt")),
        ("HasAns EM", m.get("HasAns_exact"), "", p.get("HasAns_exact"), ""),
        ("HasAns F1", m.get("HasAns_f1"), "", p.get("HasAns_f1"), ""),
        ("NoAns EM", m.get("NoAns_exact"), "", p.get("NoAns_exact"), ""),
    ]
    if "best_f1" in m:
        rows.append(
            ("best F1", m.get("best_f1"), f"thresh {_num(m.get('best_f1_thresh'), 3)}", p.get("best_f1"), "")
        )
    if r.retrieval:
        rows.append((f"hit@1 / hit@{r.retrieval.k}", r.retrieval.hit_at_1, "", r.retrieval.hit_at_k, ""))
    body = "".join(
        f"<tr><th>{escape(name)}</th><td class='num'>{_num(a)}</td><td class='num'>{escape(ca)}</td>"
        f"<td class='num'>{_num(b)}</td><td class='num'>{escape(cb)}</td></tr>"
        for name, a, ca, b, cb in rows
    )
    official, pt = escape(r.normalizers.get("official", "")), escape(r.normalizers.get("pt", ""))
    return (
        f"<h2>Run {index + 1}: {escape(r.label)}</h2><table>{head}</table>"
        f"<table><tr><th>metric</th><th>{official}</th><th>95% CI</th><th>{pt}</th><th>95% CI</th></tr>"
        f"{body}</table>"
    )


#: how the chart names SQuAD's metric keys (every other metric by its own name)
_CHART_NAMES = {"exact": "EM", "f1": "F1"}


def task_chart(results: Sequence[AnyResult], task: Task) -> str:
    """An inline SVG of a task's headline metrics per run, on the task's own axis: 0-100 for SQuAD's points,
    0-1 for shares."""
    scale = task.spec(task.headline[0]).scale
    keys = [n for n in task.headline if task.spec(n).scale == scale and task.spec(n).better is not None]
    keys = [n for n in keys if any(r.metric(n) is not None for r in results)] or keys[:1]
    digits = 1 if scale == 100.0 else 2
    bar, gap, height, top, bottom = 26, 4, 200, 20, 60
    group = max(110, len(keys) * (bar + gap) + 30)
    legend = [_CHART_NAMES.get(k, k) for k in keys]
    # wide enough for the bars and for the legend on one line
    width = max(60 + group * len(results), 60 + sum(24 + 7 * len(n) for n in legend))
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height + top + bottom + 16}' "
        f"role='img' aria-label='{escape(task.name)} metrics per run'>",
    ]
    for tick in (0, 25, 50, 75, 100):
        y = top + height - tick * height / 100
        parts.append(
            f"<line x1='40' x2='{width}' y1='{y:.1f}' y2='{y:.1f}' stroke='#d0d7de'/>"
            f"<text x='34' y='{y + 4:.1f}' font-size='10' text-anchor='end'>"
            f"{tick if scale == 100.0 else f'{tick / 100:.2f}'}</text>"
        )
    for i, r in enumerate(results):
        x0 = 50 + i * group
        for j, key in enumerate(keys):
            value = r.metric(key)
            h = max(0.0, min(1.0, (value or 0.0) / scale)) * height
            x = x0 + j * (bar + gap)
            colour = _PALETTE[j % len(_PALETTE)]
            shown = "—" if value is None else f"{value:.{digits}f}"
            parts.append(
                f"<rect x='{x}' y='{top + height - h:.1f}' width='{bar}' height='{h:.1f}' fill='{colour}'>"
                f"<title>{escape(r.label)} {escape(_CHART_NAMES.get(key, key))} {shown}</title></rect>"
                f"<text x='{x + bar / 2}' y='{top + height - h - 4:.1f}' font-size='9' "
                f"text-anchor='middle'>{shown}</text>"
            )
        mid = x0 + (len(keys) * (bar + gap)) / 2
        label = r.label if len(r.label) <= 18 else r.label[:17] + "…"
        parts.append(
            f"<text x='{mid}' y='{top + height + 16}' font-size='11' "
            f"text-anchor='middle'>{escape(label)}</text>"
            f"<text x='{mid}' y='{top + height + 30}' font-size='9' fill='#656d76' "
            f"text-anchor='middle'>{escape(r.dataset.split or 'all')} · {escape(r.mode)} · "
            f"n={r.dataset.total}</text>"
        )
    x = 50
    for j, name in enumerate(legend):
        legend_y = top + height + 50
        parts.append(
            f"<rect x='{x}' y='{legend_y - 9}' width='10' height='10' fill='{_PALETTE[j % len(_PALETTE)]}'/>"
            f"<text x='{x + 14}' y='{legend_y}' font-size='11'>{escape(name)}</text>"
        )
        x += 24 + 7 * len(name)
    parts.append("</svg>")
    return "".join(parts)


def _flip_rows(flips: Sequence[Flip]) -> str:
    return "".join(
        f"<tr id='flip-{escape(f.id)}'><td><code>{escape(f.id)}</code></td><td>{escape(f.question)}</td>"
        f"<td>{escape(' | '.join(f.gold) or '(no answer)')}</td>"
        f"<td>{escape(f.prediction_a or '(abstained)')}<div class='muted'>{escape(f.raw_a)}</div></td>"
        f"<td>{escape(f.prediction_b or '(abstained)')}<div class='muted'>{escape(f.raw_b)}</div></td>"
        f"<td class='num'>{escape(f.note)}</td></tr>"
        for f in flips
    )


def _comparison_section(c: Comparison) -> str:
    task = get_task(c.task)

    def fmt(name: str, value: float, signed: bool = False) -> str:
        return task.spec(name).fmt(value, signed=signed)

    deltas = "".join(
        f"<tr><th>{escape(k)}</th><td class='num'>{fmt(k, d['a'])}</td><td class='num'>{fmt(k, d['b'])}</td>"
        f"<td class='num'>{fmt(k, d['delta'], True)}</td>"
        f"<td class='num'>[{fmt(k, d['low'], True)}, {fmt(k, d['high'], True)}]</td>"
        f"<td class='num'>{d['p_b_better']:.2f}</td><td class='num'>{d.get('n', c.common)}</td></tr>"
        for k, d in c.deltas.items()
    )
    out = [
        f"<h2>{escape(c.a)} → {escape(c.b)}</h2>",
        f"<p class='muted'>{c.common} common questions"
        + ("" if c.same_dataset else " · <strong>the datasets differ</strong>")
        + "</p>",
        "<table><tr><th>metric</th><th>A</th><th>B</th><th>B − A</th><th>95% CI (paired)</th>"
        f"<th>P(B&gt;A)</th><th>n</th></tr>{deltas}</table>",
    ]
    head = (
        "<tr><th>id</th><th>question</th><th>gold</th><th>A: "
        + escape(c.a)
        + "</th><th>B: "
        + escape(c.b)
        + "</th><th>change</th></tr>"
    )
    for title, flips, css in (
        (f"Correct → wrong ({c.correct_rule})", c.correct_to_wrong, "bad"),
        (f"Wrong → correct ({c.correct_rule})", c.wrong_to_correct, "good"),
        (task.drop_title[:1].upper() + task.drop_title[1:], c.drops, "bad"),
    ):
        out.append(f"<h3>{escape(title)}: {len(flips)}</h3>")
        if flips:
            out.append(f"<table class='{css}'>{head}{_flip_rows(flips)}</table>")
    return "".join(out)


def _by_task(results: Sequence[AnyResult]) -> dict[str, list[AnyResult]]:
    groups: dict[str, list[AnyResult]] = {}
    for r in results:
        groups.setdefault(r.task, []).append(r)
    return groups


def render_report(results: Sequence[AnyResult], *, title: str = "promptkit evaluation report") -> str:
    """The HTML page: a chart per task, a table per run, later runs compared with the first of their task."""
    sections = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
    ]
    groups = _by_task(results)
    for name, runs in groups.items():
        task = get_task(name)
        heading = ("EM and F1 per prompt version" if name == "squad"
                   else f"{task.title[:1].upper()}{task.title[1:]}: headline metrics per run")
        sections += [f"<h2>{escape(heading)}</h2>", task_chart(runs, task)]
    sections += [_run_table(i, r) for i, r in enumerate(results)]
    for runs in groups.values():
        for other in runs[1:]:
            try:
                sections.append(_comparison_section(compare(runs[0], other)))
            except ValidationError as exc:
                sections.append(
                    f"<h2>{escape(runs[0].label)} → {escape(other.label)}</h2>"
                    f"<p class='muted'>not comparable: {escape(exc.message)}</p>"
                )
    sections.append("</body></html>\n")
    return "".join(sections)


def markdown_table(results: Sequence[AnyResult]) -> str:
    """One Markdown table per task, one row per run (SQuAD: :func:`squad_markdown_table`; other tasks:
    :func:`task_markdown_table`), separated by a blank line."""
    tables = []
    for name, runs in _by_task(results).items():
        if name == "squad":
            tables.append(squad_markdown_table(runs))  # type: ignore[arg-type]
        else:
            tables.append(task_markdown_table(runs, get_task(name)))  # type: ignore[arg-type]
    return "\n".join(tables)


def task_markdown_table(results: Sequence[TaskResult], task: Task) -> str:
    """One Markdown row per run of a task: prompt, model, split, n, the task's headline metrics with 95%
    intervals, its other metrics that have a value, the wall time and the cache use."""
    others = [s.name for s in task.metrics if s.name not in task.headline and s.per_row
              and any(r.metric(s.name) is not None for r in results)]
    columns = [*task.headline, *others]
    head = ("| prompt | model | split | n | " + " | ".join(columns) + " | s | cache hits/misses |\n"
            + "|---" * (len(columns) + 6) + "|\n")
    lines = []
    for r in results:
        cells = [r.prompt.ref or r.chain, r.model.id or "—", r.dataset.split or "all", str(r.dataset.total)]
        for name in columns:
            value = task.spec(name).fmt(r.metric(name))
            ci = ci_text(task, name, r.ci.get(name)) if name in task.headline else ""
            cells.append(f"{value} {ci}".strip())
        cells += [_num(r.duration_s), f"{r.cache.hits}/{r.cache.misses}"]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return head + "\n".join(lines) + "\n"


def squad_markdown_table(results: Sequence[EvalResult]) -> str:
    """One Markdown row per run: prompt, model, mode, split, official and Portuguese-normalised EM/F1 with 95%
    intervals, HasAns F1, NoAns EM, retrieval hit@1/hit@k, and the run's wall time with its cache use
    (examples/s only means generation speed when the run had no cache hits)."""
    head = (
        "| prompt | model | mode | split | n | EM | F1 | EM pt | F1 pt | HasAns F1 | NoAns EM "
        "| hit@1 / hit@k | s | ex/s | cache hits/misses |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in results:
        m, p = r.metrics, r.metrics_pt
        hits = (
            f"{r.retrieval.hit_at_1:.1f} / {r.retrieval.hit_at_k:.1f} (k={r.retrieval.k})"
            if r.retrieval
            else "—"
        )
        rate = r.dataset.total / r.duration_s if r.duration_s > 0 else None
        cells = [
            r.prompt.ref or r.chain,
            r.model.id or "—",
            r.mode,
            r.dataset.split or "all",
            str(r.dataset.total),
            f"{_num(m.get('exact'))} {_ci(r, 'exact')}",
            f"{_num(m.get('f1'))} {_ci(r, 'f1')}",
            _num(p.get("exact")),
            _num(p.get("f1")),
            _num(m.get("HasAns_f1")),
            _num(m.get("NoAns_exact")),
            hits,
            _num(r.duration_s),
            _num(rate, 2),
            f"{r.cache.hits}/{r.cache.misses}",
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return head + "\n".join(lines) + "\n"


def report(
    results: Sequence[AnyResult | str | os.PathLike[str]],
    html_out: str | os.PathLike[str] | None = None,
    *,
    title: str = "promptkit evaluation report",
    markdown_out: str | os.PathLike[str] | None = None,
) -> Path | None:
    """Write a self-contained HTML report of ``results`` (objects or results files) to ``html_out`` and/or
    their Markdown summary table to ``markdown_out``; returns the HTML path (else the Markdown path)."""
    if html_out is None and markdown_out is None:
        raise ValidationError("nothing to write", hint="give an HTML output, a Markdown output, or both")
    loaded = [load_result(r) for r in results]
    if not loaded:
        raise ValidationError("no results to report", hint="pass at least one results file")
    if markdown_out is not None:
        atomic_write_text(Path(markdown_out), markdown_table(loaded))
    if html_out is not None:
        atomic_write_text(Path(html_out), render_report(loaded, title=title))
        return Path(html_out)
    return Path(markdown_out) if markdown_out is not None else None
