"""Chains: small YAML definitions in ``chains/`` turned into LangChain runnables.

    from promptkit.chains import load_chain, list_chains
    rag = load_chain("rag_course")
    rag.invoke({"question": "Em que ano foi publicado o artigo do Transformer?"})
    rag.batch([{"question": q} for q in questions])     # one batched model call

Kinds: ``zero_shot`` and ``few_shot`` (task ``qa`` over a given context, or ``classify`` onto a label set),
``summarize`` (single pass or map-reduce by token count), ``rag`` (hybrid retrieval from the course index,
documents delimited as data and fitted to the context window) and ``moderation`` (rules + LLM classifier).
Every chain returns a dict with ``answer``, ``raw``, ``abstained``, ``prompt``, ``prompt_hash``, ``model``,
``sources``, ``contexts``, ``examples`` and ``moderation``.

Inputs are size-checked before any model call: a question over :data:`MAX_QUESTION_CHARS` (2,000) characters and
a text to classify or moderate over :data:`MAX_TEXT_CHARS` (8,000) are refused with a ``ValidationError``;
contexts and documents are fitted to the model's window instead (see :mod:`promptkit.limits`).
"""

from __future__ import annotations

from promptkit.chains.definition import ChainDefinition, get_definition, list_chains, parse_definition
from promptkit.chains.guard import with_guard
from promptkit.limits import MAX_QUESTION_CHARS, MAX_TEXT_CHARS
from promptkit.chains.loader import build_chain, load_chain

__all__ = [
    "MAX_QUESTION_CHARS",
    "MAX_TEXT_CHARS",
    "ChainDefinition",
    "build_chain",
    "get_definition",
    "list_chains",
    "load_chain",
    "parse_definition",
    "with_guard",
]
