"""Asking the course: the main job, as a session that keeps its chain (and so the model and index) loaded.

    >>> from promptkit.chains.session import Session
    >>> tutor = Session()                               # the chain `promptkit ask` uses (DEFAULT_CHAIN)
    >>> for piece in tutor.stream("O que é temperatura em um LLM?"):
    ...     print(piece, end="")                        # the answer's sentences as they are settled
    >>> tutor.last["citations"]                         # the whole output of the last question

``promptkit ask``, ``promptkit chat`` and the playground's "Perguntar ao curso" page are shells over this.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: the chain that answers students' questions (``promptkit ask`` and ``promptkit chat``)
DEFAULT_CHAIN = "tutor"
#: words that end a chat session
EXIT_WORDS = frozenset({"sair", "exit", "quit", "tchau", ":q"})


class Session:
    """One chain, built once, answering question after question."""

    def __init__(self, chain: str = DEFAULT_CHAIN, *, index: Any = None, llm: Any = None, **overrides: Any):
        from promptkit.chains import load_chain
        from promptkit.index import ensure_index

        if isinstance(index, str | Path):
            index = ensure_index(Path(index).expanduser())
        self.name = chain
        self.chain = load_chain(chain, index=index, llm=llm, **overrides)
        self.last: dict[str, Any] = {}

    def ask(self, question: str) -> dict[str, Any]:
        """The whole output for one question."""
        self.last = self.chain.invoke({"question": question})
        return self.last

    def stream(self, question: str) -> Iterator[str]:
        """The answer's text as it is settled; the whole output is in :attr:`last` afterwards."""
        final: dict[str, Any] = {}
        for chunk in self.chain.stream({"question": question}):
            piece = chunk.get("answer")
            if piece:
                yield piece
            for key, value in chunk.items():
                final[key] = final.get(key, "") + value if key == "answer" else value
        self.last = final


def source_lines(out: dict[str, Any]) -> list[str]:
    """The numbered sources an answer cites, as lines to print after it (``[n] file (trecho c) — title``); a
    QA chain's output lists its retrieved sources instead."""
    cited = [c for c in out.get("citations") or [] if "n" in c]
    numbered = [(c["n"], c) for c in cited] or list(enumerate(out.get("sources") or [], start=1))
    lines = []
    for n, s in numbered:
        title = f" — {s['title']}" if s.get("title") else ""
        chunk = f" (trecho {s['chunk']})" if s.get("chunk") is not None else ""
        lines.append(f"[{n}] {s.get('source', '')}{chunk}{title}")
    return lines


def notes(out: dict[str, Any]) -> list[str]:
    """What a student should know besides the answer: sources left out for giving orders, why a QA chain
    abstained."""
    found = []
    flagged = out.get("flagged_sources") or []
    if flagged:
        which = ", ".join(sorted({Path(str(f.get("source", ""))).name for f in flagged}))
        found.append(f"(ignorei {len(flagged)} trecho(s) recuperado(s) que dão ordens ao assistente: {which})")
    if out.get("abstained") and not out.get("answer"):
        reasons = {
            "ungrounded": "a resposta do modelo não aparece nos documentos recuperados",
            "abstained": "os documentos recuperados não respondem a pergunta",
            "no_context": "nenhum documento recuperado",
            "cross_check": "as duas leituras do texto não concordaram",
        }
        reason = out.get("abstain_reason")
        found.append(f"(sem resposta: {reasons.get(reason, reason)})")
    return found
