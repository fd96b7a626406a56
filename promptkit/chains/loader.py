"""``load_chain``: a chain definition turned into a LangChain runnable."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import Runnable

from promptkit.chains.answer_steps import STEPS
from promptkit.chains.definition import (
    ChainDefinition,
    ModelSettings,
    ModerationSettings,
    RetrieverSettings,
    SummarizeSettings,
    TutorSettings,
    get_definition,
    parse_definition,
)
from promptkit.chains.parts import Parts, generation_settings, resolve_llm, resolve_prompt
from promptkit.errors import ValidationError

_SECTIONS: dict[str, type] = {
    "model": ModelSettings,
    "retriever": RetrieverSettings,
    "summarize": SummarizeSettings,
    "moderation": ModerationSettings,
    "tutor": TutorSettings,
}
_TOP = ("guard", "guard_output", "description", "cross_check", "postprocess")


def override_step(steps: list[Any], name: str, value: Any) -> list[Any]:
    """The post-processing list with step ``name`` set to ``value`` (``None``/``False`` removes it, ``True`` adds
    a step without a setting); a step that is added goes where it belongs in the canonical order of
    :data:`promptkit.chains.answer_steps.STEPS`."""
    order = list(STEPS)
    names = [s if isinstance(s, str) else next(iter(s)) for s in steps]
    kept = [s for s, n in zip(steps, names, strict=True) if n != name]
    if value is None or value is False:
        return kept
    item: Any = name if value is True else {name: value}
    rank = order.index(name)
    at = next((i for i, s in enumerate(kept)
               if order.index(s if isinstance(s, str) else next(iter(s))) > rank), len(kept))
    return kept[:at] + [item] + kept[at:]


def apply_overrides(definition: ChainDefinition, overrides: dict[str, Any]) -> ChainDefinition:
    """A copy of ``definition`` with ``overrides`` applied: top-level fields (``guard``), whole sections
    (``retriever={...}``), single settings (``k=8``, ``max_new_tokens=16``) or post-processing steps by name
    (``ground=0.6``, ``snap=None`` to drop one, ``trim_question=True`` to add one)."""
    if not overrides:
        return definition
    data = definition.model_dump(exclude_none=True)
    for key, value in overrides.items():
        if key in STEPS:
            data["postprocess"] = override_step(list(data.get("postprocess", [])), key, value)
            continue
        if key in _TOP or key in _SECTIONS:
            if key in _SECTIONS and isinstance(value, dict):
                data[key] = {**data.get(key, {}), **value}
            else:
                data[key] = value
            continue
        owners = [name for name, cls in _SECTIONS.items() if key in cls.model_fields]
        if key == "name":  # model name
            owners = ["model"]
        owners = [
            o
            for o in owners
            if o in data
            or o == "model"
            or (o == "retriever" and definition.kind in ("rag", "tutor"))
            or (o == "tutor" and definition.kind == "tutor")
            or (o == "summarize" and definition.kind == "summarize")
            or (o == "moderation" and definition.kind == "moderation")
        ]
        if not owners:
            allowed = sorted({f for cls in _SECTIONS.values() for f in cls.model_fields} | set(_TOP) | set(STEPS))
            raise ValidationError(
                f"unknown setting {key!r} for chain {definition.name!r} ({definition.kind}); "
                f"expected one of: {', '.join(allowed)}"
            )
        section = owners[0]
        data.setdefault(section, {})[key] = value
    return parse_definition(data, source=f"{definition.name} (with overrides)")


def build_chain(
    definition: ChainDefinition,
    *,
    llm: Any = None,
    embeddings: Any = None,
    index: Any = None,
    cache: Any = None,
) -> Runnable:
    """Build the runnable for a validated definition (no guard)."""
    rules_only = definition.kind == "moderation" and definition.moderation_settings.layers == "rules"
    prompt, spec = resolve_prompt(definition.prompt, embeddings)
    model = None if rules_only else resolve_llm(definition, llm, cache)
    parts = Parts(
        definition=definition,
        prompt=prompt,
        spec=spec,
        llm=model,
        generation=generation_settings(definition, spec),
        embeddings=embeddings,
        index=index,
    )
    if definition.cross_check:
        parts.extra_prompts["cross_check"] = resolve_prompt(definition.cross_check, embeddings)
    if definition.kind == "tutor":
        from promptkit.chains.tutor import build_tutor

        chain = build_tutor(parts)
    elif definition.kind == "rag":
        from promptkit.chains.qa import build_qa

        chain = build_qa(parts, retrieval=True)
    elif definition.kind in ("zero_shot", "few_shot") and definition.task == "qa":
        from promptkit.chains.qa import build_qa

        chain = build_qa(parts, retrieval=False)
    elif definition.kind in ("zero_shot", "few_shot"):
        from promptkit.chains.classify import build_classify

        chain = build_classify(parts)
    elif definition.kind == "summarize":
        from promptkit.chains.summarize import build_summarize

        chain = build_summarize(parts)
    else:
        from promptkit.chains.moderate import build_moderation

        chain = build_moderation(parts)
    metadata = {"chain": definition.name, "kind": definition.kind, **parts.provenance()}
    return chain.with_config(run_name=definition.name, metadata=metadata)


def load_chain(
    name: str,
    /,
    *,
    llm: Any = None,
    embeddings: Any = None,
    index: Any = None,
    prompt: str | None = None,
    cache: Any = None,
    **overrides: Any,
) -> Runnable:
    """The runnable for chain ``name`` (a file in ``chains/`` or a path to one).

    ``llm`` injects a chat model (e.g. :class:`promptkit.testing.FakeChatModel`), otherwise the definition's model
    is loaded with :func:`promptkit.llm.load_llm`; ``embeddings`` and ``index`` are used for few-shot selection
    and retrieval; ``prompt`` replaces the prompt reference; ``cache`` (a ``ReplayCache``) is set on the model;
    other keyword arguments override settings of the definition (``k=8``, ``grounding=0.6``, ``guard=None``,
    ``name="qwen2.5-coder-1.5b-instruct"`` for the model …); the chain name is positional so ``name`` is free
    for that override.
    The result supports ``invoke``, ``batch`` (one batched model call for the whole list) and ``stream``.
    """
    definition = get_definition(name)
    if prompt:
        overrides = {**overrides}
        definition = definition.model_copy(update={"prompt": prompt})
    definition = apply_overrides(definition, overrides)
    chain = build_chain(definition, llm=llm, embeddings=embeddings, index=index, cache=cache)
    if definition.guard:
        from promptkit.chains.guard import with_guard

        moderation = load_chain(definition.guard, llm=llm, embeddings=embeddings, cache=cache)
        from promptkit.prompts import get_prompt_spec

        language = get_prompt_spec(definition.prompt).language
        chain = with_guard(chain, moderation, check_output=definition.guard_output, language=language)
    return chain
