"""Registro: the versions, labels and diffs of each prompt; moving a label first runs the regression check of
the candidate version and shows its verdict, and only then lets the move be applied (to the project)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from promptkit.ui import common
from promptkit.ui.services import (
    LabelCheck,
    apply_label,
    check_label_move,
    guarding_entries,
    label_problem,
    preferred_prompt,
)

CHECK = "registry_check"
NEW_LABEL = "(novo rótulo)"
STATUS = {
    "pass": ":green[:material/check_circle: passou]",
    "regression": ":red[:material/cancel: regressão]",
    "dataset_changed": ":orange[:material/warning: o conjunto de dados mudou]",
    "entry_changed": ":orange[:material/warning: a entrada da suíte mudou]",
}


def versions_table(info: Any) -> list[dict[str, Any]]:
    from promptkit.prompts import get_prompt_spec

    rows = []
    for v in reversed(info.versions):
        spec = get_prompt_spec(f"{info.name}@{v}", lint=False)
        rows.append(
            {
                "versão": v,
                "rótulos": ", ".join(k for k, lv in sorted(info.labels.items()) if lv == v) or "—",
                "liberada": "sim" if v in info.released else "não",
                "mudança": spec.changelog,
                "hash": spec.hash[:12],
            }
        )
    return rows


def show_check(check: LabelCheck) -> None:
    for e in check.entries:
        st.markdown(f"**{e.suite}/{e.entry.id}** — {STATUS.get(e.status, e.status)}")
        if e.verdict is not None:
            st.dataframe(
                [
                    {
                        "métrica": m.name,
                        "linha de base": m.baseline,
                        "agora": m.now,
                        "diferença": None if m.delta is None else round(m.delta, 1),
                        "IC 95%": "—" if m.ci is None else f"[{m.ci[0]:+.1f}, {m.ci[1]:+.1f}]",
                        "tolerância": m.tolerance,
                        "ok": "sim" if m.ok else "não",
                    }
                    for m in e.verdict.metrics
                ],
                hide_index=True,
                width="stretch",
            )
            if e.verdict.flips:
                st.caption("Certa → errada: " + ", ".join(f.id for f in e.verdict.flips))
        for failure in e.failures:
            st.caption(f"• {failure}")
        if e.result is not None:
            st.caption(
                f"{e.result.cache.hits} chamadas repetidas do cache, {e.result.cache.misses} geradas agora"
            )
    for missing in check.missing:
        st.caption(f"• {missing}: sem linha de base gravada (`promptkit eval baseline`), não verificada")


def move_label(info: Any) -> None:
    from promptkit.paths import find_project

    labels = sorted(info.labels)
    left, middle = st.columns(2)
    picked = left.selectbox("Rótulo", [*labels, NEW_LABEL], key=f"reg_label_{info.name}")
    label = (
        left.text_input("Nome do novo rótulo", key=f"reg_new_{info.name}").strip()
        if picked == NEW_LABEL
        else picked
    )
    version = middle.selectbox(
        "Apontar para a versão", list(reversed(info.versions)), key=f"reg_version_{info.name}"
    )
    problem = label_problem(label)
    if problem:
        st.caption(problem)
        return
    current = info.labels.get(label)
    if current == version:
        st.info(f"{info.name}@{label} já aponta para a v{version}.")
        return
    st.markdown(f"Mover **{info.name}@{label}**: v{current if current is not None else '—'} → **v{version}**")
    guards = guarding_entries(info.name)
    key = (info.name, label, version)
    if st.button("Verificar regressão", key="reg_check", type="primary"):
        with st.status(
            f"Verificando {info.name}@{version} contra as linhas de base…", expanded=True
        ) as status:
            done = st.empty()
            check = check_label_move(
                info.name,
                version,
                label,
                llm=common.injected_llm(),
                on_entry=lambda e: done.caption(f"{e.suite}/{e.entry.id}: {STATUS.get(e.status, e.status)}"),
            )
            status.update(label="Verificação concluída", state="complete")
        st.session_state[CHECK] = (key, check)
    stored = st.session_state.get(CHECK)
    check: LabelCheck | None = stored[1] if stored and stored[0] == key else None
    if check is None:
        st.caption(
            f"{len(guards)} entrada(s) de suíte guardam este prompt; a verificação roda cada uma com a "
            f"v{version} antes de o rótulo mudar."
            if guards
            else "Nenhuma suíte guarda este prompt: a verificação não terá o que comparar."
        )
        return
    if not check.checked:
        st.info("Nenhuma entrada de suíte com linha de base guarda este prompt: nada a verificar.")
    elif check.ok:
        st.success(f"Sem regressão: a v{version} passou em {len(check.entries)} entrada(s).")
    else:
        st.error(f"A v{version} piorou em relação à linha de base.")
    show_check(check)
    if find_project() is None:
        st.warning(
            "Sem projeto nesta pasta: o rótulo não pode ser gravado. Crie um com `promptkit init PASTA`."
        )
        return
    confirmed = check.ok or st.checkbox("Aplicar mesmo assim (a verificação falhou)", key="reg_force")
    if st.button("Aplicar rótulo", key="reg_apply", disabled=not confirmed):
        with common.friendly_errors("Não foi possível mover o rótulo"):
            change = apply_label(info.name, version, label)
            st.session_state.pop(CHECK, None)
            st.session_state["registry_done"] = (
                f"{change.name}@{change.label} agora aponta para a v{change.version}"
                + (f" (era v{change.previous})" if change.previous is not None else "")
                + (f"; v{change.version} liberada no prompts.lock" if change.released_now else "")
            )
            st.rerun()


st.title("Registro de prompts")
if st.session_state.get("registry_done"):
    st.success(st.session_state.pop("registry_done"))
with common.friendly_errors("Não foi possível ler o registro"):
    from promptkit.prompts import list_prompts

    infos = {i.name: i for i in list_prompts()}
    if not infos:
        st.info("Nenhum prompt encontrado.")
    else:
        names = sorted(infos)
        preferred = preferred_prompt(infos.values())
        name = st.selectbox(
            "Prompt",
            names,
            index=names.index(preferred) if preferred in names else 0,
            format_func=lambda n: f"{n} ({infos[n].origin})",
            key="reg_prompt",
        )
        info = infos[name]
        st.caption(
            f"{info.description} · {info.language} · {info.kind} · origem: {info.origin}"
            + (f" (`{info.folder}`)" if info.folder else "")
        )
        tab_versions, tab_diff, tab_label = st.tabs(["Versões", "Diferenças", "Mover rótulo"])
        with tab_versions:
            st.dataframe(versions_table(info), hide_index=True, width="stretch")
            shown = st.selectbox("Ver a versão", list(reversed(info.versions)), key=f"reg_show_{name}")
            from promptkit.prompts import get_prompt_spec
            from promptkit.prompts.manage import dump_yaml

            st.code(dump_yaml(get_prompt_spec(f"{name}@{shown}", lint=False).content()), language="yaml")
        with tab_diff:
            if len(info.versions) < 2:
                st.info("Este prompt tem uma versão só.")
            else:
                from promptkit.prompts.manage import diff_versions

                left, right = st.columns(2)
                a = left.selectbox("De", info.versions, index=len(info.versions) - 2, key=f"reg_a_{name}")
                b = right.selectbox("Para", info.versions, index=len(info.versions) - 1, key=f"reg_b_{name}")
                text = diff_versions(f"{name}@{a}", f"{name}@{b}")
                st.code(text or "(sem diferenças)", language="diff", wrap_lines=True)
        with tab_label:
            with common.friendly_errors("A verificação falhou"):
                move_label(info)
