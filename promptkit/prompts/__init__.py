"""The versioned prompt registry.

Prompts live in ``prompts/<name>/v<N>.yaml`` (one immutable file per version), labels in
``prompts/<name>/labels.yaml`` and the hashes of released versions in ``prompts/prompts.lock``.

>>> from promptkit.prompts import load_prompt          # doctest: +SKIP
>>> prompt = load_prompt("rag_qa@production")         # doctest: +SKIP
>>> prompt.metadata["ref"]                             # doctest: +SKIP
'rag_qa@2'

Importing this package is cheap (PyYAML and pydantic); LangChain loads only when a prompt object is built and
FAISS only when a similarity selector is.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptkit.errors import ValidationError
from promptkit.prompts.store import (
    PromptInfo,
    dangling_labels,
    list_prompts,
    load_spec,
    prompt_home,
    resolve_ref,
)

if TYPE_CHECKING:  # pragma: no cover
    from langchain_core.prompts import BasePromptTemplate

    from promptkit.prompts.schema import PromptVersion

__all__ = [
    "PromptInfo",
    "PromptVersion",
    "get_prompt_spec",
    "list_prompts",
    "load_prompt",
    "render",
    "resolve_ref",
    "select_examples",
]


def get_prompt_spec(ref: str, *, root: Path | str | None = None, lint: bool = True) -> PromptVersion:
    """The validated version a reference points at (``name``, ``name@3``, ``name@production``).

    With ``lint`` (the default) template problems and dangling labels raise a :class:`ValidationError`."""
    spec = load_spec(ref, root)
    if lint:
        from promptkit.prompts.lint import lint_spec

        base = prompt_home(spec.name, root)
        problems = dangling_labels(spec.name, base) + lint_spec(spec, base)
        if problems:
            more = f" [+{len(problems) - 1} more; run `promptkit prompts check`]" if len(problems) > 1 else ""
            raise ValidationError(problems[0] + more)
    return spec


def load_prompt(ref: str, *, embeddings: Any = None, root: Path | str | None = None) -> BasePromptTemplate:
    """A LangChain prompt object for ``ref`` with ``metadata`` name, version, ref, hash, language and kind.

    ``embeddings`` (a LangChain ``Embeddings``) is used by similarity/MMR few-shot selectors; by default
    they use
    :func:`promptkit.embeddings.load_embeddings`."""
    from promptkit.prompts.build import build_prompt

    spec = get_prompt_spec(ref, root=root)
    return build_prompt(spec, prompt_home(spec.name, root), embeddings)


def select_examples(
    ref: str, inputs: Mapping[str, Any], *, embeddings: Any = None, root: Path | str | None = None
) -> list[dict[str, Any]]:
    """The examples (each with its ``id``) that the few-shot version ``ref`` shows for ``inputs``.

    Deterministic; empty for a version without a few-shot block."""
    spec = get_prompt_spec(ref, root=root)
    if spec.fewshot is None:
        return []
    from promptkit.prompts.fewshot import build_selector, fixed_examples

    base = prompt_home(spec.name, root)
    selector = build_selector(spec, base, embeddings)
    if selector is None:
        return fixed_examples(spec.fewshot, base)
    return selector.select_examples(dict(inputs))


def render(
    ref: str, values: Mapping[str, Any], *, embeddings: Any = None, root: Path | str | None = None
) -> str:
    """The text a version renders to (chat prompts as ``[system]``/``[human]``/``[ai]`` blocks)."""
    from promptkit.prompts.build import render_text

    return render_text(load_prompt(ref, embeddings=embeddings, root=root), values)


def __getattr__(name: str) -> Any:
    if name == "PromptVersion":  # the pydantic schema loads on first use
        from promptkit.prompts.schema import PromptVersion

        return PromptVersion
    raise AttributeError(f"module 'promptkit.prompts' has no attribute {name!r}")
