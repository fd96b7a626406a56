"""Reports of one or more evaluation runs: a self-contained HTML page (inline CSS and SVG, no external assets)
and a Markdown summary table (one row per run) for READMEs and pull requests."""

from __future__ import annotations

import os
from collections.abc import Sequence
from html import escape
from pathlib import Path

from promptkit.errors import ValidationError
from promptkit.evaluation.compare import Comparison, Flip, compare
from promptkit.evaluation.results import EvalResult
from promptkit.evaluation.runner import load_result
from promptkit.fileio import atomic_write_text

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

_EM_COLOUR = "#0969da"
_F1_COLOUR = "#8250df"


def _num(value: object, digits: int = 1) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:.{digits}f}" if isinstance(value, float) else str(value)
    return "—"


def _ci(result: EvalResult, key: str) -> str:
    ci = result.ci.get(key)
    return f"[{ci['low']:.1f}, {ci['high']:.1f}]" if ci else "—"


def _run_table(index: int, r: EvalResult) -> str:
    m, p = r.metrics, r.metrics_pt
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
    head = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in meta)
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


def bar_chart(results: Sequence[EvalResult]) -> str:
    """An inline SVG of EM and F1 (official) per run, labelled with the prompt version."""
    group, bar, gap, height, top, bottom = 110, 36, 8, 200, 20, 60
    width = 60 + group * len(results)
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height + top + bottom}' "
        f"role='img' aria-label='EM and F1 per run'>",
    ]
    for tick in (0, 25, 50, 75, 100):
        y = top + height - tick * height / 100
        parts.append(
            f"<line x1='40' x2='{width}' y1='{y:.1f}' y2='{y:.1f}' stroke='#d0d7de'/>"
            f"<text x='34' y='{y + 4:.1f}' font-size='10' text-anchor='end'>{tick}</text>"
        )
    for i, r in enumerate(results):
        x0 = 50 + i * group
        for j, (key, colour) in enumerate((("exact", _EM_COLOUR), ("f1", _F1_COLOUR))):
            value = float(r.metrics.get(key, 0.0))
            h = max(0.0, min(100.0, value)) * height / 100
            x = x0 + j * (bar + gap)
            parts.append(
                f"<rect x='{x}' y='{top + height - h:.1f}' width='{bar}' height='{h:.1f}' fill='{colour}'>"
                f"<title>{escape(r.label)} {'EM' if key == 'exact' else 'F1'} {value:.1f}</title></rect>"
                f"<text x='{x + bar / 2}' y='{top + height - h - 4:.1f}' font-size='10' "
                f"text-anchor='middle'>{value:.1f}</text>"
            )
        label = r.label if len(r.label) <= 18 else r.label[:17] + "…"
        parts.append(
            f"<text x='{x0 + bar + gap / 2}' y='{top + height + 16}' font-size='11' "
            f"text-anchor='middle'>{escape(label)}</text>"
            f"<text x='{x0 + bar + gap / 2}' y='{top + height + 30}' font-size='9' fill='#656d76' "
            f"text-anchor='middle'>{escape(r.mode)} · n={r.dataset.total}</text>"
        )
    legend_y = top + height + 48
    parts.append(
        f"<rect x='50' y='{legend_y - 9}' width='10' height='10' fill='{_EM_COLOUR}'/>"
        f"<text x='64' y='{legend_y}' font-size='11'>EM</text>"
        f"<rect x='100' y='{legend_y - 9}' width='10' height='10' fill='{_F1_COLOUR}'/>"
        f"<text x='114' y='{legend_y}' font-size='11'>F1</text></svg>"
    )
    return "".join(parts)


def _flip_rows(flips: Sequence[Flip]) -> str:
    return "".join(
        f"<tr id='flip-{escape(f.id)}'><td><code>{escape(f.id)}</code></td><td>{escape(f.question)}</td>"
        f"<td>{escape(' | '.join(f.answers) or '(no answer)')}</td>"
        f"<td>{escape(f.prediction_a or '(abstained)')}<div class='muted'>{escape(f.raw_a)}</div></td>"
        f"<td>{escape(f.prediction_b or '(abstained)')}<div class='muted'>{escape(f.raw_b)}</div></td>"
        f"<td class='num'>{f.exact_a} → {f.exact_b}</td><td class='num'>{f.f1_a:.2f} → {f.f1_b:.2f}</td></tr>"
        for f in flips
    )


def _comparison_section(c: Comparison) -> str:
    deltas = "".join(
        f"<tr><th>{escape(k)}</th><td class='num'>{d['a']:.1f}</td><td class='num'>{d['b']:.1f}</td>"
        f"<td class='num'>{d['delta']:+.1f}</td><td class='num'>[{d['low']:+.1f}, {d['high']:+.1f}]</td>"
        f"<td class='num'>{d['p_b_better']:.2f}</td></tr>"
        for k, d in c.deltas.items()
    )
    out = [
        f"<h2>{escape(c.a)} → {escape(c.b)}</h2>",
        f"<p class='muted'>{c.common} common questions"
        + ("" if c.same_dataset else " · <strong>the datasets differ</strong>")
        + "</p>",
        "<table><tr><th>metric</th><th>A</th><th>B</th><th>B − A</th><th>95% CI (paired)</th>"
        f"<th>P(B&gt;A)</th></tr>{deltas}</table>",
    ]
    head = (
        "<tr><th>id</th><th>question</th><th>gold</th><th>A: "
        + escape(c.a)
        + "</th><th>B: "
        + escape(c.b)
        + "</th><th>EM</th><th>F1</th></tr>"
    )
    for title, flips, css in (
        ("Correct → wrong (EM)", c.correct_to_wrong, "bad"),
        ("Wrong → correct (EM)", c.wrong_to_correct, "good"),
        ("F1 drops", c.f1_drops, "bad"),
    ):
        out.append(f"<h3>{escape(title)}: {len(flips)}</h3>")
        if flips:
            out.append(f"<table class='{css}'>{head}{_flip_rows(flips)}</table>")
    return "".join(out)


def render_report(results: Sequence[EvalResult], *, title: str = "promptkit evaluation report") -> str:
    """The HTML text: a table per run, an EM/F1 chart, and each later run compared with the first."""
    sections = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        "<h2>EM and F1 per prompt version</h2>",
        bar_chart(results),
    ]
    sections += [_run_table(i, r) for i, r in enumerate(results)]
    for other in results[1:]:
        try:
            sections.append(_comparison_section(compare(results[0], other)))
        except ValidationError as exc:
            sections.append(
                f"<h2>{escape(results[0].label)} → {escape(other.label)}</h2>"
                f"<p class='muted'>not comparable: {escape(exc.message)}</p>"
            )
    sections.append("</body></html>\n")
    return "".join(sections)


def markdown_table(results: Sequence[EvalResult]) -> str:
    """One Markdown row per run: prompt, model, mode, split, official and Portuguese-normalised EM/F1 with 95%
    intervals, HasAns F1, NoAns EM, retrieval hit@1/hit@k, and the run's wall time with its cache use
    (examples/s only means generation speed when the run had no cache hits)."""
    head = (
        "| prompt | model | mode | split | n | EM | F1 | EM pt | F1 pt | HasAns F1 | NoAns EM | hit@1 / hit@k "
        "| s | ex/s | cache hits/misses |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in results:
        m, p = r.metrics, r.metrics_pt
        hits = (
            f"{r.retrieval.hit_at_1:.1f} / {r.retrieval.hit_at_k:.1f} (k={r.retrieval.k})" if r.retrieval else "—"
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
    results: Sequence[EvalResult | str | os.PathLike[str]],
    html_out: str | os.PathLike[str] | None = None,
    *,
    title: str = "promptkit evaluation report",
    markdown_out: str | os.PathLike[str] | None = None,
) -> Path | None:
    """Write a self-contained HTML report of ``results`` (objects or results files) to ``html_out`` and/or their
    Markdown summary table to ``markdown_out``; returns the HTML path (else the Markdown path)."""
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
