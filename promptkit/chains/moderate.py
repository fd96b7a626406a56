"""The moderation chain: rule layer, LLM classifier, and the documented combination rule.

Shape: ``prepare (rules) | BatchAssign("raw", prompt | model | StrOutputParser()) | finish (combine)``; with
``moderation.layers: rules`` the model step is skipped. Input: ``{"text": str}`` or a string. See
:mod:`promptkit.moderation` for the layers and the rule.
"""

from __future__ import annotations

from typing import Any

from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import Runnable, RunnableLambda

from promptkit.chains.classify import as_text_input
from promptkit.chains.parts import Parts
from promptkit.chains.runnables import BatchAssign, finisher
from promptkit.errors import ValidationError
from promptkit.moderation import check_rules, combine, parse_categories


def build_moderation(parts: Parts) -> Runnable:
    settings = parts.definition.moderation_settings
    use_rules = settings.layers in ("combined", "rules")
    use_llm = settings.layers in ("combined", "llm")

    def prepare(value: Any) -> dict[str, Any]:
        inp = as_text_input(value, parts.definition.name)
        text = inp.get("text")
        if not isinstance(text, str):
            raise ValidationError("a moderation chain needs a 'text' string")
        state: dict[str, Any] = {"text": text, "rules": check_rules(text) if use_rules else None}
        if use_llm and text.strip():
            state["vars"] = parts.variables({**inp, "text": text})
        else:
            state["_skip"] = True
        return state

    def finish(state: dict[str, Any]) -> dict[str, Any]:
        raw = state.get("raw", "")
        llm_categories: list[str] | None = None
        parsed = None
        if use_llm and not state.get("_skip"):
            llm_categories, parsed = parse_categories(raw)
            if not parsed:
                llm_categories = None  # an unreadable answer is no opinion, not "safe"
        elif use_llm:
            llm_categories = []
        result = combine(state["rules"], llm_categories, policy=settings.policy)
        return {
            "answer": ", ".join(result["categories"]) if result["flagged"] else "safe",
            "flagged": result["flagged"],
            "categories": result["categories"],
            "verdicts": result["verdicts"],
            "llm_parsed": parsed,
            "layers": settings.layers,
            "policy": settings.policy,
            "abstained": False,
            "raw": raw,
            **(
                parts.provenance()
                if use_llm
                else {"chain": parts.definition.name, "prompt": None, "prompt_hash": None, "model": None}
            ),
            "sources": [],
            "contexts": [],
            "examples": [],
            "moderation": None,
        }

    steps: list[Runnable] = [RunnableLambda(prepare, name="prepare")]
    if use_llm:
        core = parts.prompt | parts.model | StrOutputParser()
        steps.append(BatchAssign("raw", core, select=lambda s: s["vars"]))
    steps.append(finisher(finish))
    chain = steps[0]
    for step in steps[1:]:
        chain = chain | step
    return chain
