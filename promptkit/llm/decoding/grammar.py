"""Constrained decoding: answers that must be JSON (optionally matching a JSON schema).

The grammar engine is llguidance (the library behind Guidance and several serving engines): it compiles a JSON
schema into a grammar and, token by token, gives the set of tokens that keep the answer valid. The decoder masks
every other token before choosing, so a small model cannot produce text that fails to parse. ``response_format``
takes OpenAI's shapes, so the same bound option works for a served model: ``{"type": "json_object"}`` or
``{"type": "json_schema", "json_schema": {"name": ..., "schema": {...}}}``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

from promptkit.errors import MissingDependencyError, ValidationError

_TOKENIZERS: dict[int, Any] = {}
JSON_LAYOUT = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}
_LOCK = threading.Lock()


def schema_of(response_format: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON schema a ``response_format`` asks for (``{"type": "object"}`` for plain JSON mode)."""
    kind = response_format.get("type")
    if kind == "json_object":
        return {"type": "object"}
    if kind == "json_schema":
        inner = response_format.get("json_schema") or {}
        schema = inner.get("schema") if isinstance(inner, Mapping) else None
        if isinstance(schema, Mapping):
            return dict(schema)
    raise ValidationError(
        f"unsupported response_format {dict(response_format)!r}",
        hint='use {"type": "json_object"} or {"type": "json_schema", "json_schema": {"name": ..., "schema": {...}}}',
    )


def _llguidance() -> Any:
    try:
        import llguidance
        import llguidance.hf  # noqa: F401 - the transformers tokenizer bridge
    except ImportError:  # pragma: no cover - a declared dependency
        raise MissingDependencyError("structured output needs llguidance", hint="pip install llguidance") from None
    return llguidance


def compile_grammar(response_format: Mapping[str, Any]) -> str:
    """The grammar for a ``response_format``; an invalid schema is one clear error."""
    llguidance = _llguidance()
    schema = schema_of(response_format)
    try:
        # one fixed layout, as json.dumps writes it: free whitespace lets a small model loop on blank space
        grammar = llguidance.LLMatcher.grammar_from_json_schema(json.dumps(schema), overrides=JSON_LAYOUT)
    except ValueError as exc:
        raise ValidationError(f"the JSON schema of response_format is not valid ({exc})") from None
    problem = llguidance.LLMatcher.validate_grammar(grammar)
    if problem and not problem.startswith("WARNING"):
        raise ValidationError(f"the JSON schema of response_format cannot be enforced ({problem})")
    return grammar


def guidance_tokenizer(tokenizer: Any, vocab_size: int) -> Any:
    """llguidance's view of a transformers tokenizer (built once per tokenizer: about a second for 150k tokens)."""
    llguidance = _llguidance()
    with _LOCK:
        found = _TOKENIZERS.get(id(tokenizer))
        if found is None or found[0] is not tokenizer:
            found = (tokenizer, llguidance.hf.from_tokenizer(tokenizer, n_vocab=vocab_size))
            _TOKENIZERS[id(tokenizer)] = found
        return found[1]


class RowConstraint:
    """One answer's grammar state: which tokens may come next, and whether the answer is complete."""

    def __init__(self, tokenizer: Any, grammar: str, vocab_size: int):
        llguidance = _llguidance()
        self.vocab_size = vocab_size
        self.matcher = llguidance.LLMatcher(tokenizer, grammar, log_level=0)
        if self.matcher.is_error():
            raise ValidationError(f"cannot enforce response_format: {self.matcher.get_error()}")

    def allowed(self) -> Any:
        """A boolean tensor over the vocabulary: the tokens that keep the answer valid."""
        import numpy as np
        import torch

        bits = np.unpackbits(np.frombuffer(self.matcher.compute_bitmask(), dtype=np.uint8), bitorder="little")
        mask = np.zeros(self.vocab_size, dtype=bool)
        n = min(self.vocab_size, bits.shape[0])
        mask[:n] = bits[:n].astype(bool)
        return torch.from_numpy(mask)

    def consume(self, token: int) -> None:
        self.matcher.consume_token(int(token))

    @property
    def complete(self) -> bool:
        """The answer is complete: the grammar accepts nothing more but the end of the sequence."""
        return self.matcher.is_stopped()
