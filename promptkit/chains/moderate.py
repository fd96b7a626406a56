"""The moderation chain: rule layer, LLM classifier, and the documented combination rule.

Shape: ``prepare (rules) | LLM step | finish (combine)``; with ``moderation.layers: rules`` the model step is
skipped. The LLM step depends on the prompt: a JSON classifier (``parser: json``, moderation@1) is run as
``BatchAssign("raw", prompt | model | StrOutputParser())``; a yes/no scoring prompt (``parser: labels`` with two
labels, moderation@2) is rendered for every text and scored with one batched ``model.logprob`` call, no
generation. Input: ``{"text": str}`` or a string. See :mod:`promptkit.moderation` for the layers and the rule.
"""

from __future__ import annotations

from typing import Any

from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import Runnable, RunnableLambda

from promptkit.chains.classify import as_text_input
from promptkit.limits import check_text
from promptkit.chains.parts import Parts
from promptkit.chains.runnables import BatchAssign, BatchLambda, finisher
from promptkit.errors import ValidationError
from promptkit.moderation import check_rules, combine, parse_categories
from promptkit.moderation.scoring import DEFAULT_THRESHOLD, yes_no_labels, yes_no_scores


def build_moderation(parts: Parts) -> Runnable:
    settings = parts.definition.moderation_settings
    use_rules = settings.layers in ("combined", "rules")
    use_llm = settings.layers in ("combined", "llm")
    labels = yes_no_labels(parts.spec) if use_llm else None
    threshold = settings.threshold if settings.threshold is not None else DEFAULT_THRESHOLD

    def score(states: list[Any]) -> list[Any]:
        todo = [i for i, s in enumerate(states) if not isinstance(s, Exception) and not s.get("_skip")]
        rendered = [parts.llm.render_prompt(parts.prompt.invoke(states[i]["vars"]).to_messages()) for i in todo]
        values = yes_no_scores(parts.llm, rendered, labels) if todo else []
        out = list(states)
        for i, v in zip(todo, values, strict=True):
            out[i] = {**states[i], "score": v}
        return out

    def prepare(value: Any) -> dict[str, Any]:
        inp = as_text_input(value, parts.definition.name)
        text = inp.get("text")
        if not isinstance(text, str):
            raise ValidationError("a moderation chain needs a 'text' string")
        check_text(text)
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
        if labels is not None:
            value = state.get("score")
            skipped = state.get("_skip")
            result = combine(
                state["rules"],
                None,
                policy=settings.policy,
                llm_unsafe=False if skipped else value >= threshold,
                llm_score=value,
            )
            verdict = "unsafe" if value is not None and value >= threshold else "safe"
            raw = "" if value is None else f"{verdict} ({value:+.2f})"
            parsed = True
        elif use_llm and not state.get("_skip"):
            llm_categories, parsed = parse_categories(raw)
            if not parsed:
                llm_categories = None  # an unreadable answer is no opinion, not "safe"
        elif use_llm:
            llm_categories = []
        if labels is None:
            result = combine(state["rules"], llm_categories, policy=settings.policy)
        return {
            "answer": ", ".join(result["categories"]) if result["flagged"] else "safe",
            "flagged": result["flagged"],
            "categories": result["categories"],
            "verdicts": result["verdicts"],
            "llm_parsed": parsed,
            "llm_score": result.get("llm_score"),
            "threshold": threshold if labels is not None else None,
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
    if labels is not None:
        steps.append(BatchLambda(score, name="score"))
    elif use_llm:
        core = parts.prompt | parts.model | StrOutputParser()
        steps.append(BatchAssign("raw", core, select=lambda s: s["vars"]))
    steps.append(finisher(finish))
    chain = steps[0]
    for step in steps[1:]:
        chain = chain | step
    return chain
