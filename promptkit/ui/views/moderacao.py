"""Moderação: a text goes through the moderation chain; the verdict per category with the rule matches, and
the model's score against its threshold."""

from __future__ import annotations

from typing import Any

import streamlit as st

from promptkit.ui import common
from promptkit.ui.services import category_name, moderation_rows

LAST = "moderation_last"


def moderate(text: str) -> dict[str, Any]:
    from promptkit.chains import load_chain

    with st.spinner("Moderando (regras e modelo)…"):
        chain = load_chain(
            "moderation",
            llm=common.injected_llm(),
            embeddings=common.embeddings(),
            cache=common.replay_cache(),
        )
        return chain.invoke({"text": text})


def show(out: dict[str, Any]) -> None:
    if out.get("flagged"):
        names = ", ".join(category_name(c) for c in out.get("categories") or [])
        st.error(f"Sinalizado: {names}", icon=":material/flag:")
    else:
        st.success("Seguro: nenhuma categoria sinalizada.", icon=":material/check_circle:")
    score, threshold = out.get("llm_score"), out.get("threshold")
    if score is not None:
        left, middle, right = st.columns(3)
        left.metric('Pontuação do modelo, log P("Não")', common.decimal(score, 2))
        if threshold is not None:
            middle.metric("Limiar", common.decimal(threshold, 2))
            right.metric("O modelo sinalizou", "sim" if score >= threshold else "não")
        st.caption(
            'O modelo responde "Este texto é seguro?"; quanto mais alta a pontuação, mais ele acha que '
            "não é. Regras de confiança alta sinalizam sozinhas; as de confiança baixa precisam do modelo."
        )
    elif out.get("layers") == "rules":
        st.caption("Só as regras foram usadas (sem modelo).")
    st.dataframe(moderation_rows(out), hide_index=True, width="stretch")
    st.caption(
        f"chain `{out.get('chain')}` · prompt `{out.get('prompt')}` · modelo `{out.get('model')}` · "
        f"camadas {out.get('layers')} · política {out.get('policy')}"
    )


st.title("Moderação")
st.caption(
    "Verifique um texto em português ou inglês nas sete categorias da taxonomia: regras + classificador."
)
with common.friendly_errors("Não foi possível moderar"):
    with st.form("moderation_form"):
        text = st.text_area(
            "Texto",
            key="moderation_text",
            height=120,
            placeholder="Cole aqui um comentário, uma mensagem ou uma resposta do modelo.",
        )
        sent = st.form_submit_button("Moderar", type="primary")
    if sent:
        if not text.strip():
            st.warning("Escreva um texto antes de enviar.")
        else:
            st.session_state.pop(LAST, None)
            with common.friendly_errors("Não foi possível moderar"):
                st.session_state[LAST] = moderate(text)
    if st.session_state.get(LAST) is not None:
        show(st.session_state[LAST])
