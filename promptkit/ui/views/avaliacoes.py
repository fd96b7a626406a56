"""Avaliações: the results files of the project (every evaluation task), a chart of each run's metrics with
their 95% CIs, two runs compared (paired deltas and flipped items, as ``promptkit eval compare``) and one
item up close. What is shown comes from :mod:`promptkit.ui.services`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import streamlit as st

from promptkit.ui import common
from promptkit.ui.services import (
    chart_metrics,
    chart_scale,
    comparison_rows,
    files_table,
    flip_rows,
    flip_sections,
    metric_label,
    metric_meanings,
    metric_rows,
    metrics_table,
    result_files,
    row_detail,
    run_group,
    run_tables,
    short_labels,
    table_rows,
)


@st.cache_resource(show_spinner=False, max_entries=256)
def _load(path: str, mtime: float) -> Any:
    from promptkit.evaluation import load_result

    return load_result(path)


def load(path: Path) -> Any:
    return _load(str(path), path.stat().st_mtime)


def _task(result: Any) -> Any:
    from promptkit.evaluation.tasks import task_of

    return task_of(result)


def chart(rows: list[dict[str, Any]], metrics: list[str], scale: float) -> Any:
    """Bars of each run's metrics with their 95% CI as whiskers, on an axis from 0 to ``scale``."""
    import altair as alt
    import pandas as pd

    frame = pd.DataFrame([r for r in rows if r["métrica"] in metrics])
    points = scale == 100.0
    digits = ".1f" if points else ".3f"
    base = alt.Chart(frame).encode(
        y=alt.Y("execução:N", title=None, sort=None, axis=alt.Axis(labelLimit=320)),
        yOffset=alt.YOffset("métrica:N", sort=metrics),
        color=alt.Color("métrica:N", sort=metrics, title="métrica"),
    )
    bars = base.mark_bar(opacity=0.85).encode(
        x=alt.X(
            "valor:Q",
            title=("pontos (0-100)" if points else "proporção (0-1)") + ", com IC de 95%",
            scale=alt.Scale(domain=[0, scale]),
            axis=alt.Axis(values=[scale * i / 10 for i in range(11)], format=".0f" if points else ".1f"),
        ),
        tooltip=[
            alt.Tooltip("execução:N"),
            alt.Tooltip("métrica:N"),
            alt.Tooltip("valor:Q", format=digits),
            alt.Tooltip("ic_inferior:Q", format=digits, title="IC inferior"),
            alt.Tooltip("ic_superior:Q", format=digits, title="IC superior"),
            alt.Tooltip("itens:Q"),
        ],
    )
    whiskers = base.mark_rule(strokeWidth=1.5).encode(
        x="ic_inferior:Q", x2="ic_superior:Q", color=alt.value("#333")
    )
    height = max(160, 26 * len(frame))
    return (bars + whiskers).properties(height=height)


def metrics_tab(chosen: list[Path], results: dict[Path, Any], labels: dict[Path, str], group: str) -> None:
    task = _task(results[chosen[0]])
    runs = {labels[p]: results[p] for p in chosen}
    rows = metric_rows(runs)
    drawn = {r["métrica"] for r in rows}
    options = [metric_label(n) for n in chart_metrics(task) if metric_label(n) in drawn]
    default = [metric_label(n) for n in task.headline if metric_label(n) in options] or options[:2]
    metrics = st.multiselect("Métricas", options, default=default, key=f"eval_metrics_{group}")
    if not metrics or not rows:
        st.info("Escolha ao menos uma métrica.")
    else:
        st.altair_chart(chart(rows, metrics, chart_scale(task)), width="stretch")
    table = metrics_table(runs)
    st.dataframe(table, hide_index=True, width="stretch")
    shown = [n for n in (s.name for s in task.metrics) if any(metric_label(n) in r for r in table)]
    with st.expander("O que cada métrica mede"):
        st.dataframe(metric_meanings(task, shown), hide_index=True, width="stretch")
    tables = {p: t for p in chosen if (t := run_tables(results[p]))}
    if not tables:  # SQuAD runs have no breakdowns
        return
    st.markdown("##### Métricas por grupo de itens")
    path = st.selectbox("Execução", list(tables), format_func=labels.get, key=f"eval_tables_{group}")
    for table in tables[path]:
        st.markdown(f"**{table.title}**")
        st.dataframe(table_rows(table), hide_index=True, width="stretch")


@st.cache_resource(show_spinner=False, max_entries=64)
def _compare(a: str, a_mtime: float, b: str, b_mtime: float) -> Any:
    from promptkit.evaluation import compare

    return compare(a, b)


FLIP_COLUMNS = {
    "pergunta": st.column_config.TextColumn(width="medium"),
    "gabarito": st.column_config.TextColumn(width="small"),
    "resposta A": st.column_config.TextColumn(width="small"),
    "resposta B": st.column_config.TextColumn(width="small"),
}


def compare_tab(chosen: list[Path], labels: dict[Path, str]) -> None:
    if len(chosen) < 2:
        st.info("Escolha ao menos duas execuções acima para compará-las.")
        return
    left, right = st.columns(2)
    a = left.selectbox("A (referência)", chosen, index=0, format_func=labels.get, key="eval_a")
    b = right.selectbox("B (nova)", chosen, index=1, format_func=labels.get, key="eval_b")
    if a == b:
        st.info("Escolha duas execuções diferentes.")
        return
    with st.spinner("Comparando (bootstrap pareado)…"):
        comparison = _compare(str(a), a.stat().st_mtime, str(b), b.stat().st_mtime)
    if not comparison.same_dataset:
        st.warning("Os conjuntos de dados das duas execuções diferem: compare com cuidado.")
    st.caption(f"{comparison.common} itens em comum · diferença B − A com IC de 95% por bootstrap pareado")
    st.dataframe(comparison_rows(comparison), hide_index=True, width="stretch")
    for title, flips in flip_sections(comparison):
        st.markdown(f"**{title}: {len(flips)}**")
        if flips:
            st.dataframe(flip_rows(flips), hide_index=True, width="stretch", column_config=FLIP_COLUMNS)


VERDICTS = {
    "certa": ":green[:material/check_circle: certa]",
    "parcial": ":orange[:material/adjust: parcial]",
    "errada": ":red[:material/cancel: errada]",
    "": ":gray[:material/remove: não conta]",
}


def item_tab(chosen: list[Path], results: dict[Path, Any], labels: dict[Path, str]) -> None:
    questions = {r.id: r.question for r in results[chosen[0]].rows}
    if not questions:
        st.info("Esta execução não tem itens.")
        return
    item = st.selectbox(
        "Item", list(questions), format_func=lambda i: f"{i}: {questions[i]}", key="eval_question"
    )
    first = row_detail(results[chosen[0]], item)
    st.markdown(f"**Pergunta:** {common.md_escape(first.question)}")
    st.markdown(
        "**Gabarito:** "
        + (common.md_escape(" | ".join(first.gold)) if first.gold else "_(sem resposta no texto)_")
    )
    for column, path in zip(st.columns(min(len(chosen), 3)), chosen[:3], strict=False):
        detail = row_detail(results[path], item)
        with column:
            st.markdown(f"##### {common.md_escape(labels[path])}")
            if detail is None:
                st.caption("esta execução não tem este item")
                continue
            scores = " · ".join(f"{name} {value}" for name, value in detail.scores.items())
            st.markdown(
                f"{VERDICTS.get(detail.verdict, detail.verdict)} · {common.decimal(detail.latency_s, 2)} s"
            )
            if scores:
                st.caption(scores)
            if detail.declined:
                st.caption("a chain não respondeu (recusou ou se absteve)")
            if detail.citations:
                st.markdown(common.with_citation_badges(detail.prediction or "∅"))
                for c in detail.citations:
                    where = c.get("source") or c.get("chunk_id") or ""
                    with st.expander(f"**[{c.get('n')}]** {common.md_escape(str(where))}"):
                        st.markdown(common.md_escape(str(c.get("text") or "")))
            else:
                st.code(detail.prediction or "∅ (sem resposta)", language=None, wrap_lines=True)
            with st.expander("Texto do modelo e como foi pontuado"):
                st.code(detail.raw or "", language=None, wrap_lines=True)
                if detail.details:
                    st.code(json.dumps(detail.details, ensure_ascii=False, indent=2), language="json")


st.title("Avaliações")
with common.friendly_errors("Não foi possível ler os resultados"):
    from promptkit.paths import project_root

    root = project_root()
    files = result_files(root)
    if not files:
        st.info(
            "Nenhum arquivo de resultados em `eval/results/` (nem em `runs/`) deste projeto. Gere um com "
            "`promptkit eval run --chain CHAIN --dataset DATASET --out eval/results/NOME.json`."
        )
    else:
        results: dict[Path, Any] = {}
        problems: list[str] = []
        for path in files:
            try:
                results[path] = load(path)
            except Exception as exc:  # noqa: BLE001 - one unreadable file does not hide the others
                problems.append(f"{path.name}: {common.error_text(exc)}")
        if problems:
            st.warning(f"{len(problems)} arquivo(s) ignorado(s): " + "; ".join(problems[:3]))
        with st.expander(f"Arquivos de resultados ({len(results)})"):
            st.dataframe(files_table(results, root), hide_index=True, width="stretch")
        groups: dict[str, list[Path]] = {}
        for path, result in results.items():
            groups.setdefault(run_group(result), []).append(path)
        names = sorted(groups, key=lambda g: (-len(groups[g]), g))
        group = st.selectbox(
            "Tarefa e conjunto de dados",
            names,
            format_func=lambda g: f"{g} ({len(groups[g])} execuções)",
            key="eval_group",
        )
        paths = groups[group]
        all_labels = short_labels(paths, results)
        chosen = st.multiselect(
            "Execuções",
            paths,
            default=paths[: min(4, len(paths))],
            format_func=all_labels.get,
            key=f"eval_runs_{group}",
        )
        if not chosen:
            st.info("Escolha ao menos uma execução.")
        else:
            tab_metrics, tab_compare, tab_item = st.tabs(["Métricas", "Comparar duas execuções", "Um item"])
            with tab_metrics:
                metrics_tab(chosen, results, all_labels, group)
            with tab_compare, common.friendly_errors("Não foi possível comparar"):
                compare_tab(chosen, all_labels)
            with tab_item:
                item_tab(chosen, results, all_labels)
