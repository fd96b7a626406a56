"""Streamlit helpers shared by the playground's pages.

* The model, embeddings and course index the pages use. Tests (and anyone embedding the pages) can put their
  own in ``st.session_state`` under :data:`LLM_KEY`, :data:`EMBEDDINGS_KEY` and :data:`INDEX_KEY`, e.g. a
  :class:`promptkit.testing.FakeChatModel`; otherwise the library's defaults are loaded once per process, with
  model calls going through the user's replay cache.
* :func:`friendly_errors`: any failure becomes one ``st.error`` line, never a traceback.
* Markdown escaping for model text, with citation marks ``[n]`` shown as badges.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import streamlit as st

from promptkit.errors import PromptkitError

LLM_KEY = "promptkit_llm"
EMBEDDINGS_KEY = "promptkit_embeddings"
INDEX_KEY = "promptkit_index"

# -- the library objects the pages use --------------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def _replay_cache() -> Any:
    from promptkit.cache import ReplayCache
    from promptkit.paths import replay_cache_path

    return ReplayCache(replay_cache_path(), mode="use")


def injected_llm() -> Any:
    """The chat model put in the session (tests), or ``None`` for the library's default."""
    return st.session_state.get(LLM_KEY)


def replay_cache() -> Any:
    """The replay cache for real model calls (``None`` while a model is injected: fakes are not recorded)."""
    return None if injected_llm() is not None else _replay_cache()


@st.cache_resource(show_spinner=False)
def _load_llm(name: str) -> Any:
    from promptkit.llm import load_llm

    return load_llm(name, progress=False, cache=_replay_cache())


def llm(name: str | None = None) -> Any:
    """The injected model, else the catalogue model ``name`` (default: the default model), loaded once."""
    fake = injected_llm()
    if fake is not None:
        return fake
    from promptkit.weights import DEFAULT_LLM

    return _load_llm(name or DEFAULT_LLM)


def embeddings() -> Any:
    """The injected embeddings, else ``None`` (the library's default embeddings)."""
    return st.session_state.get(EMBEDDINGS_KEY)


@st.cache_resource(show_spinner=False)
def _course_index(folder: str) -> Any:
    from promptkit.index import ensure_index

    return ensure_index(folder, show_progress=False)


def course_index() -> Any:
    """The injected index, else the course index (built or refreshed on first use)."""
    given = st.session_state.get(INDEX_KEY)
    if given is not None:
        return given
    from promptkit.paths import default_index_dir

    return _course_index(str(default_index_dir()))


def ask_chain() -> str:
    """The chain ``promptkit ask`` uses by default."""
    from promptkit.ui.services import default_ask_chain

    return default_ask_chain()


def project() -> Path | None:
    from promptkit.paths import find_project

    return find_project()


# -- errors --------------------------------------------------------------------------------------------------

_CONTROL_FLOW = ("RerunException", "StopException")


def error_text(exc: BaseException) -> str:
    """One line: the message and, for promptkit's own errors, the fix."""
    if isinstance(exc, PromptkitError):
        message = exc.message.strip().splitlines()[0] if exc.message.strip() else type(exc).__name__
        return f"{message} — {exc.hint}" if exc.hint else message
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"erro inesperado ({type(exc).__name__}){': ' + text if text else ''}"


@contextmanager
def friendly_errors(what: str = "") -> Iterator[None]:
    """Show any failure inside the block as one ``st.error`` line (Streamlit's own control flow passes)."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - every failure becomes one readable line
        if type(exc).__name__ in _CONTROL_FLOW:
            raise
        prefix = f"{what}: " if what else ""
        st.error(f"{prefix}{error_text(exc)}", icon=":material/error:")


# -- text ----------------------------------------------------------------------------------------------------


def decimal(value: float, digits: int = 1) -> str:
    """A number as Portuguese writes it (decimal comma): ``decimal(2.5) == "2,5"``."""
    return f"{value:.{digits}f}".replace(".", ",")


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>$~:])")


def md_escape(text: str) -> str:
    """``text`` shown literally by ``st.markdown`` (model output is data, not formatting)."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def with_citation_badges(text: str) -> str:
    """Escape ``text`` and show each ``[n]`` as a small badge."""
    escaped = md_escape(text)
    return re.sub(r"\s*\\\[(\d+)\\\]", r" :blue-badge[\1]", escaped)


def sidebar_project() -> None:
    """The project in use, in the sidebar."""
    folder = project()
    with st.sidebar:
        if folder is not None:
            st.caption(f"Projeto: `{folder}`")
        else:
            st.caption(
                "Sem projeto nesta pasta: os prompts, chains e dados vêm do pacote e nada pode ser gravado. "
                "Crie um com `promptkit init PASTA`."
            )
        st.caption("Tudo roda nesta máquina: nenhum dado sai dela.")
