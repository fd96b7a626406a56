"""Turn a validated :class:`PromptVersion` into a LangChain ``langchain_core`` prompt object.

The objects are real ``PromptTemplate`` / ``ChatPromptTemplate`` instances (subclasses that only add one
thing: a missing variable raises :class:`MissingVariablesError` saying what was expected and what was
received, instead of a bare ``KeyError``). Few-shot versions get a ``FewShotChatMessagePromptTemplate``
placed after the leading system messages. Example values are substituted once and never parsed as
templates, so a pool example containing ``{x}`` reaches the model literally.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.prompts import (
    BasePromptTemplate,
    ChatPromptTemplate,
    FewShotChatMessagePromptTemplate,
    PromptTemplate,
)

from promptkit.errors import ValidationError
from promptkit.prompts.fewshot import build_selector, fixed_examples
from promptkit.prompts.schema import PromptVersion


class MissingVariablesError(ValidationError):
    """A prompt was rendered without all of its input variables."""


def _check_variables(prompt: BasePromptTemplate, values: Mapping[str, Any]) -> None:
    expected = list(prompt.input_variables)
    missing = [v for v in expected if v not in values and v not in (prompt.partial_variables or {})]
    if missing:
        ref = (prompt.metadata or {}).get("ref", "prompt")
        raise MissingVariablesError(
            f"{ref} is missing variable(s) {', '.join(missing)}: expected {sorted(expected)}, "
            f"received {sorted(values)}",
            hint="pass every input variable, e.g. --var name=value",
        )


class CheckedPromptTemplate(PromptTemplate):
    """``PromptTemplate`` that reports missing variables as a :class:`MissingVariablesError`."""

    def _validate_input(self, inner_input: Any) -> dict[str, Any]:
        if isinstance(inner_input, dict):
            _check_variables(self, inner_input)
        return super()._validate_input(inner_input)

    def format(self, **kwargs: Any) -> str:
        _check_variables(self, kwargs)
        return super().format(**kwargs)


class CheckedChatPromptTemplate(ChatPromptTemplate):
    """``ChatPromptTemplate`` that reports missing variables as a :class:`MissingVariablesError`."""

    def _validate_input(self, inner_input: Any) -> dict[str, Any]:
        if isinstance(inner_input, dict):
            _check_variables(self, inner_input)
        return super()._validate_input(inner_input)

    def format_messages(self, **kwargs: Any) -> list[BaseMessage]:
        _check_variables(self, kwargs)
        return super().format_messages(**kwargs)


def metadata_for(spec: PromptVersion) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": spec.name,
        "version": spec.version,
        "ref": spec.ref,
        "hash": spec.hash,
        "language": spec.language,
        "kind": spec.kind,
        "template_format": spec.template_format,
    }
    if spec.abstain_phrase:
        meta["abstain_phrase"] = spec.abstain_phrase
    if spec.parser is not None:
        meta["parser"] = spec.parser.type
    if spec.fewshot is not None:
        meta["fewshot"] = {"pool": spec.fewshot.pool, "selector": spec.fewshot.selector, "k": spec.fewshot.k}
    return meta


def build_prompt(spec: PromptVersion, prompts_root: Path, embeddings: Any = None) -> BasePromptTemplate:
    """The LangChain prompt object for one version."""
    meta = metadata_for(spec)
    if spec.kind == "text":
        assert spec.template is not None
        return CheckedPromptTemplate(
            template=spec.template,
            input_variables=list(spec.input_variables),
            template_format=spec.template_format,
            metadata=meta,
        )
    messages: list[Any] = [(m.role, m.content) for m in spec.messages or []]
    if spec.fewshot is not None:
        fs = spec.fewshot
        example_prompt = ChatPromptTemplate.from_messages(
            [(m.role, m.content) for m in fs.example], template_format=spec.template_format
        )
        selector = build_selector(spec, prompts_root, embeddings)
        if selector is None:
            block = FewShotChatMessagePromptTemplate(
                examples=fixed_examples(fs, prompts_root), example_prompt=example_prompt
            )
        else:
            block = FewShotChatMessagePromptTemplate(
                example_selector=selector,
                example_prompt=example_prompt,
                input_variables=list(selector.input_keys),
            )
        at = 0
        while at < len(messages) and messages[at][0] == "system":
            at += 1
        messages.insert(at, block)
    return CheckedChatPromptTemplate(messages, template_format=spec.template_format, metadata=meta)


def _check_unknown(prompt: BasePromptTemplate, values: Mapping[str, Any]) -> None:
    """Refuse variables the prompt does not use (usually a misspelt name that would be silently ignored)."""
    expected = set(prompt.input_variables) | set(prompt.partial_variables or {})
    extra = sorted(set(values) - expected)
    if extra:
        ref = (prompt.metadata or {}).get("ref", "prompt")
        raise ValidationError(
            f"{ref} has no variable(s) {', '.join(extra)}: expected {sorted(expected)}, received {sorted(values)}",
            hint="check the spelling or drop them",
        )


def render_text(prompt: BasePromptTemplate, values: Mapping[str, Any]) -> str:
    """A readable rendering: the string of a text prompt, or ``[role]`` blocks for a chat prompt.

    Unlike a LangChain ``format`` (which ignores extra keys), an unknown variable is an error here."""
    _check_unknown(prompt, values)
    if isinstance(prompt, ChatPromptTemplate):
        blocks = [f"[{m.type}]\n{m.content}" for m in prompt.format_messages(**values)]
        return "\n\n".join(blocks) + "\n"
    return prompt.format(**values) + "\n"


# "System: " / "Human: " / "AI: " and the newline between messages in a chat prompt's string form, with room
ROLE_BYTES = 16


def _field_counts(template: str) -> dict[str, int] | None:
    """How often each plain ``{name}`` field occurs in an f-string template; None if a field has a format spec
    or a conversion (its rendering could be longer than the value)."""
    counts: dict[str, int] = {}
    try:
        for _, name, spec, conversion in string.Formatter().parse(template):
            if name is None:
                continue
            if spec or conversion:
                return None
            counts[name] = counts.get(name, 0) + 1
    except ValueError:
        return None
    return counts


def size_bound(
    spec: PromptVersion, values: Mapping[str, Any], examples: Sequence[Mapping[str, Any]] | None = None
) -> int | None:
    """An upper bound on the UTF-8 bytes of the version's string rendering for ``values`` and these few-shot
    ``examples``, without rendering it: template bytes plus each value's bytes per use. None where the shape is
    not covered (mustache, format specs, a value or the examples missing): render the prompt then."""
    if spec.template_format != "f-string":
        return None
    if spec.kind == "text":
        parts: list[tuple[str, Mapping[str, Any]]] = [(spec.template or "", values)]
    else:
        parts = [(m.content, values) for m in spec.messages or []]
    if spec.fewshot is not None:
        if examples is None:
            return None
        parts += [(m.content, e) for e in examples for m in spec.fewshot.example]
    total = 0
    for template, given in parts:
        counts = _field_counts(template)
        if counts is None or any(name not in given for name in counts):
            return None
        total += len(template.encode("utf-8")) + ROLE_BYTES
        total += sum(n * len(str(given[name]).encode("utf-8")) for name, n in counts.items())
    return total
