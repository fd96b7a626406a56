"""Laboratório de prompts: two or more versions of a prompt (or two models) run side by side on the same
variables, with the rendered prompt, the answer, the tokens and the latency of each."""

from __future__ import annotations

import streamlit as st

from promptkit.ui import common
from promptkit.ui.services import (
    LabResult,
    dataset_questions,
    llm_names,
    preferred_prompt,
    prompt_variables,
    run_prompt,
    squad_datasets,
)

RESULTS = "lab_results"
BY_VERSION = "Versões de um prompt"
BY_MODEL = "Modelos"
TYPED = "Escrever os valores"
FROM_DATASET = "Pergunta de um conjunto de dados"


def choose_runs() -> list[tuple[str, str, str | None]]:
    """``[(title, prompt ref, model name)]`` chosen by the user."""
    from promptkit.prompts import list_prompts

    infos = {i.name: i for i in list_prompts()}
    names = sorted(infos)
    mode = st.radio("Comparar", [BY_VERSION, BY_MODEL], horizontal=True, key="lab_mode")
    preferred = preferred_prompt(infos.values(), versions=2)
    name = st.selectbox(
        "Prompt",
        names,
        index=names.index(preferred) if preferred in names else 0,
        format_func=lambda n: f"{n} ({infos[n].origin})",
        key="lab_prompt",
    )
    info = infos[name]
    refs = [f"{name}@{v}" for v in info.versions]
    labels = {f"{name}@{v}": ", ".join(k for k, lv in info.labels.items() if lv == v) for v in info.versions}

    def show_ref(ref: str) -> str:
        return f"{ref} ({labels[ref]})" if labels.get(ref) else ref

    if mode == BY_VERSION:
        chosen = st.multiselect(
            "Versões (duas ou mais)",
            refs,
            default=refs[-2:],
            format_func=show_ref,
            key=f"lab_versions_{name}",
        )
        return [(ref, ref, None) for ref in chosen]
    ref = st.selectbox("Versão", refs, index=len(refs) - 1, format_func=show_ref, key=f"lab_version_{name}")
    models = llm_names()
    if len(models) < 2:
        st.info(
            "Só um modelo do catálogo está instalado; instale outro (por exemplo "
            '`pip install -e ".[large]"`) para comparar modelos. '
            "`promptkit models list` mostra o catálogo."
        )
    chosen_models = st.multiselect("Modelos (dois ou mais)", models, default=models[:2], key="lab_models")
    return [(f"{ref} · {m}", ref, m) for m in chosen_models]


def choose_values(refs: list[str]) -> dict[str, str]:
    variables = prompt_variables(refs) if refs else []
    if not variables:
        return {}
    source = st.radio("Variáveis", [TYPED, FROM_DATASET], horizontal=True, key="lab_source")
    values: dict[str, str] = {}
    if source == FROM_DATASET:
        datasets = sorted(squad_datasets())
        dataset = st.selectbox(
            "Conjunto de dados",
            datasets,
            index=datasets.index("course_qa") if "course_qa" in datasets else 0,
            key="lab_dataset",
        )
        questions = dataset_questions(dataset)
        picked = st.selectbox(
            "Pergunta",
            range(len(questions)),
            key=f"lab_question_{dataset}",
            format_func=lambda i: f"{questions[i]['id']}: {questions[i]['question']}",
        )
        item = questions[picked]
        values = {"question": item["question"], "context": item["context"]}
        with st.expander("Contexto da pergunta"):
            st.markdown(common.md_escape(item["context"]))
    for var in variables:
        if var not in values:
            values[var] = st.text_area(var, key=f"lab_var_{var}", height=68 if var != "context" else 140)
    return values


def run_all(runs: list[tuple[str, str, str | None]], values: dict[str, str]) -> list[LabResult]:
    results: list[LabResult] = []
    progress = st.progress(0.0, text="Começando…")
    for i, (title, ref, model) in enumerate(runs):
        progress.progress(i / len(runs), text=f"Rodando {title} ({i + 1} de {len(runs)})…")
        results.append(
            run_prompt(ref, values, common.llm(model), embeddings=common.embeddings(), title=title)
        )
    progress.empty()
    return results


def show(results: list[LabResult]) -> None:
    for column, r in zip(st.columns(len(results)), results, strict=True):
        with column:
            st.subheader(r.title)
            st.caption(f"modelo `{r.model}`")
            st.markdown("**Resposta**")
            st.code(r.answer or "(vazia)", language=None, wrap_lines=True)
            tokens = (
                f"{r.input_tokens if r.input_tokens is not None else '?'} → "
                f"{r.output_tokens if r.output_tokens is not None else '?'}"
            )
            left, right = st.columns(2)
            left.metric("Tokens (entrada → saída)", tokens)
            right.metric("Latência", f"{common.decimal(r.latency_s, 2)} s")
            if r.cached:
                st.caption("Resposta repetida do cache de chamadas (a mesma entrada já foi gerada antes).")
            with st.expander("Prompt enviado"):
                st.code(r.rendered, language=None, wrap_lines=True)


st.title("Laboratório de prompts")
st.caption(
    "Rode versões de um prompt (ou modelos) lado a lado com as mesmas variáveis e compare as respostas."
)
with common.friendly_errors("Não foi possível preparar a comparação"):
    runs = choose_runs()
    values = choose_values(sorted({ref for _, ref, _ in runs}))
    if st.button("Rodar lado a lado", type="primary", disabled=len(runs) < 2, key="lab_run"):
        st.session_state.pop(RESULTS, None)
        with common.friendly_errors("A execução falhou"):
            st.session_state[RESULTS] = run_all(runs, values)
    if len(runs) < 2:
        st.caption("Escolha pelo menos duas versões (ou dois modelos).")
if st.session_state.get(RESULTS):
    show(st.session_state[RESULTS])
