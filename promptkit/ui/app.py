"""The playground's entry point (``promptkit ui`` runs it with ``streamlit run``): one page per job, each a
script in ``views/``."""

from __future__ import annotations

import streamlit as st

from promptkit.ui.common import sidebar_project

st.set_page_config(page_title="promptkit · playground", page_icon=":material/science:", layout="wide")

PAGES = [
    st.Page("views/perguntar.py", title="Perguntar ao curso", icon=":material/forum:", default=True),
    st.Page("views/laboratorio.py", title="Laboratório de prompts", icon=":material/science:"),
    st.Page("views/avaliacoes.py", title="Avaliações", icon=":material/bar_chart:"),
    st.Page("views/registro.py", title="Registro", icon=":material/sell:"),
    st.Page("views/moderacao.py", title="Moderação", icon=":material/shield:"),
]

navigation = st.navigation(PAGES)
sidebar_project()
navigation.run()
