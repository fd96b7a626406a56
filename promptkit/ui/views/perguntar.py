"""Perguntar ao curso: the question goes to the chain ``promptkit ask`` uses; the answer streams in, then its
numbered sources."""

from __future__ import annotations

import re
import time

import streamlit as st

from promptkit.ui import common
from promptkit.ui.services import AnswerView, StreamReader, answer_view, reason_text

LAST = "ask_last"


def ask(question: str, chain_name: str) -> AnswerView:
    from promptkit.chains import load_chain

    start = time.perf_counter()
    with st.status("Preparando a resposta…", expanded=False) as status:
        status.update(
            label="Abrindo o índice do curso (na primeira vez ele é construído, cerca de um minuto)…"
        )
        index = common.course_index()
        status.update(label="Carregando a chain e o modelo…")
        chain = load_chain(
            chain_name,
            index=index,
            llm=common.injected_llm(),
            embeddings=common.embeddings(),
            cache=common.replay_cache(),
        )
        status.update(label="Gerando a resposta…")
        placeholder = st.empty()
        reader = StreamReader()
        for chunk in chain.stream({"question": question}):
            if reader.feed(chunk):
                placeholder.markdown(common.md_escape(reader.text) + " ▌")
        placeholder.empty()
        status.update(
            label=f"Resposta pronta em {common.decimal(time.perf_counter() - start)} s", state="complete"
        )
    view = answer_view({"question": question, **reader.output()})
    view.timings.setdefault("total_s", time.perf_counter() - start)
    return view


def show(view: AnswerView) -> None:
    with st.chat_message("user"):
        st.markdown(common.md_escape(view.question))
    with st.chat_message("assistant"):
        if view.declined:
            why = reason_text(view.reason)
            st.info(view.answer + (f" ({why})" if why else ""), icon=":material/search_off:")
        else:
            text = view.answer
            if not re.search(
                r"\[\d+\]", text
            ):  # a chain that cites by source, not inline: mark them at the end
                text += "".join(f" [{n}]" for n in view.cited_numbers)
            st.markdown(common.with_citation_badges(text))
        details = [
            f"chain `{view.chain}`" if view.chain else "",
            f"prompt `{view.prompt}`" if view.prompt else "",
            f"modelo `{view.model}`" if view.model else "",
            f"{common.decimal(view.timings['total_s'])} s" if "total_s" in view.timings else "",
        ]
        st.caption(" · ".join(d for d in details if d))
    if view.sources:
        st.markdown("#### Fontes")
        for s in view.sources:
            where = s.source + (f", trecho {s.chunk}" if s.chunk is not None else "")
            badge = " :green-badge[citada]" if s.cited and not view.declined else ""
            title = common.md_escape(s.title or s.source)
            with st.expander(f"**[{s.n}]** {title} — {common.md_escape(where)}{badge}", expanded=False):
                st.markdown(common.md_escape(s.text) if s.text else "_(o texto do trecho não veio na saída)_")
    if view.sentences:
        with st.expander("Frases da resposta e o apoio de cada uma"):
            st.dataframe(
                [
                    {
                        "frase": s.text,
                        "cita": ", ".join(f"[{n}]" for n in s.cites) or "—",
                        "apoio": None if s.support is None else round(s.support, 2),
                        "sustentada": {True: "sim", False: "não", None: "—"}[s.supported],
                    }
                    for s in view.sentences
                ],
                hide_index=True,
                width="stretch",
            )


st.title("Perguntar ao curso")
with common.friendly_errors("Não foi possível abrir a chain"):
    chain_name = common.ask_chain()
    st.caption(
        f"Responde com a chain `{chain_name}`, a mesma do `promptkit ask`, usando só o material do curso, e "
        "mostra de onde tirou cada parte da resposta."
    )
    with st.form("ask_form", clear_on_submit=False):
        question = st.text_area(
            "Sua pergunta",
            key="ask_question",
            height=90,
            placeholder="Ex.: O que a temperatura controla na saída de um LLM?",
        )
        sent = st.form_submit_button("Perguntar", type="primary")
    if sent:
        if not question.strip():
            st.warning("Escreva uma pergunta antes de enviar.")
        else:
            st.session_state.pop(LAST, None)
            with common.friendly_errors("Não foi possível responder"):
                st.session_state[LAST] = ask(question.strip(), chain_name)
    if st.session_state.get(LAST) is not None:
        show(st.session_state[LAST])
