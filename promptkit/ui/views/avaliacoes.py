"""Avaliações: the results files of the project, a chart of the metrics per prompt version with their 95%
CIs, two runs compared (paired deltas and flipped questions, as ``promptkit eval compare``) and one question
up close."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from promptkit.ui import common
from promptkit.ui.services import comparison_rows, flip_rows, metric_rows, result_files

METRICS = ["EM", "F1", "EM (pt)", "F1 (pt)"]


@st.cache_resource(show_spinner=False, max_entries=256)
def _load(path: str, mtime: float) -> Any:
    from promptkit.evaluation import load_result

    return load_result(path)


def load(path: Path) -> Any:
    return _load(str(path), path.stat().st_mtime)


def files_table(results: dict[Path, Any], root: Path) -> list[dict[str, Any]]:
    """One row per results file: where it is, what ran, on what, and its scores."""
    rows = []
    for path, r in results.items():
        try:
            where = path.relative_to(root).as_posix()
        except ValueError:
            where = str(path)
        rows.append(
            {
                "arquivo": where,
                "chain": r.chain,
                "prompt": r.prompt.ref or "—",
                "conjunto": r.dataset.name,
                "split": r.dataset.split or "todas",
                "modo": r.mode,
                "perguntas": r.dataset.total,
                "EM": round(float(r.metrics.get("exact", 0.0)), 1),
                "F1": round(float(r.metrics.get("f1", 0.0)), 1),
                "quando": r.timestamp[:16].replace("T", " "),
            }
        )
    return rows


def group_key(result: Any) -> str:
    return f"{result.dataset.name} · split {result.dataset.split or 'todas'} · modo {result.mode}"


def short_labels(paths: list[Path], results: dict[Path, Any]) -> dict[Path, str]:
    """The prompt ref of each run, with its file name where two runs share a ref."""
    refs = [results[p].label for p in paths]
    return {
        p: results[p].label if refs.count(results[p].label) == 1 else f"{results[p].label} ({p.stem})"
        for p in paths
    }


def chart(rows: list[dict[str, Any]], metrics: list[str]) -> Any:
    import altair as alt
    import pandas as pd

    frame = pd.DataFrame([r for r in rows if r["métrica"] in metrics])
    base = alt.Chart(frame).encode(
        y=alt.Y("execução:N", title=None, sort=None, axis=alt.Axis(labelLimit=320)),
        yOffset=alt.YOffset("métrica:N", sort=metrics),
        color=alt.Color("métrica:N", sort=metrics, title="métrica"),
    )
    bars = base.mark_bar(opacity=0.85).encode(
        x=alt.X(
            "valor:Q",
            title="pontos (0-100), com IC de 95%",
            scale=alt.Scale(domain=[0, 100]),
            axis=alt.Axis(values=list(range(0, 101, 10))),
        ),
        tooltip=[
            alt.Tooltip("execução:N"),
            alt.Tooltip("métrica:N"),
            alt.Tooltip("valor:Q", format=".1f"),
            alt.Tooltip("ic_inferior:Q", format=".1f", title="IC inferior"),
            alt.Tooltip("ic_superior:Q", format=".1f", title="IC superior"),
            alt.Tooltip("perguntas:Q"),
        ],
    )
    whiskers = base.mark_rule(strokeWidth=1.5).encode(
        x="ic_inferior:Q", x2="ic_superior:Q", color=alt.value("#333")
    )
    height = max(160, 26 * len(frame))
    return (bars + whiskers).properties(height=height)


def metrics_tab(chosen: list[Path], results: dict[Path, Any], labels: dict[Path, str]) -> None:
    metrics = st.multiselect("Métricas", METRICS, default=["EM", "F1"], key="eval_metrics")
    rows = metric_rows({labels[p]: results[p] for p in chosen})
    if not metrics or not rows:
        st.info("Escolha ao menos uma métrica.")
        return
    st.altair_chart(chart(rows, metrics), width="stretch")
    st.dataframe(
        [
            {
                "execução": labels[p],
                "modelo": results[p].model.id,
                "perguntas": results[p].dataset.total,
                "EM": round(results[p].metrics.get("exact", 0.0), 1),
                "F1": round(results[p].metrics.get("f1", 0.0), 1),
                "F1 (pt)": round(results[p].metrics_pt.get("f1", 0.0), 1),
            }
            for p in chosen
        ],
        hide_index=True,
        width="stretch",
    )


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
    st.caption(
        f"{comparison.common} perguntas em comum · diferença B − A com IC de 95% por bootstrap pareado"
    )
    st.dataframe(comparison_rows(comparison), hide_index=True, width="stretch")
    for title, flips in (
        (f"Certa → errada ({comparison.correct_rule})", comparison.correct_to_wrong),
        (f"Errada → certa ({comparison.correct_rule})", comparison.wrong_to_correct),
        (f"{(comparison.drop_metric or 'nota').upper()} caiu", comparison.drops),
    ):
        st.markdown(f"**{title}: {len(flips)}**")
        if flips:
            st.dataframe(flip_rows(flips), hide_index=True, width="stretch", column_config=FLIP_COLUMNS)


def question_tab(chosen: list[Path], results: dict[Path, Any], labels: dict[Path, str]) -> None:
    rows = {r.id: r for r in results[chosen[0]].rows}
    ids = list(rows)
    qid = st.selectbox("Pergunta", ids, format_func=lambda i: f"{i}: {rows[i].question}", key="eval_question")
    first = rows[qid]
    st.markdown(f"**Pergunta:** {common.md_escape(first.question)}")
    st.markdown(
        "**Gabarito:** "
        + (common.md_escape(" | ".join(first.answers)) if first.answers else "_(sem resposta no texto)_")
    )
    for column, path in zip(st.columns(min(len(chosen), 3)), chosen[:3], strict=False):
        row = results[path].row_map().get(qid)
        with column:
            st.markdown(f"##### {common.md_escape(labels[path])}")
            if row is None:
                st.caption("esta execução não tem esta pergunta")
                continue
            verdict = (
                ":green[:material/check_circle: exata]"
                if row.exact
                else ":orange[:material/adjust: parcial]"
                if row.f1 > 0
                else ":red[:material/cancel: errada]"
            )
            st.markdown(f"{verdict} · F1 {common.decimal(row.f1, 2)} · {common.decimal(row.latency_s, 2)} s")
            st.code(row.prediction or "∅ (absteve-se)", language=None, wrap_lines=True)
            with st.expander("Texto do modelo e fontes"):
                st.code(row.raw or "", language=None, wrap_lines=True)
                if row.check_raw is not None:
                    st.caption(f"verificação cruzada: {row.check_raw!r}")
                for s in row.sources:
                    st.caption(f"{s.get('source')} (trecho {s.get('chunk')})")


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
            groups.setdefault(group_key(result), []).append(path)
        names = sorted(groups, key=lambda g: (-len(groups[g]), g))
        group = st.selectbox(
            "Conjunto de dados",
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
            tab_metrics, tab_compare, tab_question = st.tabs(
                ["Métricas", "Comparar duas execuções", "Uma pergunta"]
            )
            with tab_metrics:
                metrics_tab(chosen, results, all_labels)
            with tab_compare, common.friendly_errors("Não foi possível comparar"):
                compare_tab(chosen, all_labels)
            with tab_question:
                question_tab(chosen, results, all_labels)
