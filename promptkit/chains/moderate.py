"""The moderation chain: rule layer, model layer, and the documented combination rule.

Shape: ``prepare (rules) | model step | finish (combine)``; with ``moderation.layers: rules`` the model step is
skipped. The model step depends on the prompt and on what was fitted for it:

* a **linear probe** for this prompt version and model (``prompts/_probes/<prompt>@<v>--<model>.json``, see
  :mod:`promptkit.probes`): the prompt is rendered, one forward pass stops at the probe's layer, and the
  probe's heads give the probability that the text is unsafe and one per category (moderation@4);
* otherwise a yes/no scoring prompt (``parser: labels``, moderation@3) is scored with one batched
  ``model.logprob`` call, no generation;
* a JSON classifier (``parser: json``, moderation@1) is run as
  ``BatchAssign("raw", prompt | model | StrOutputParser())``.

Every layer runs on every text (a cascade that skipped the model after a high-confidence rule hit flagged the same
texts but named their categories worse on the dev split: ``eval/moderation_results.md``).
Input: ``{"text": str}`` or a string. See :mod:`promptkit.moderation` for the layers and the rule.
"""

from __future__ import annotations

from typing import Any

from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import Runnable, RunnableLambda

from promptkit.chains.classify import as_text_input
from promptkit.chains.parts import Parts
from promptkit.chains.runnables import BatchAssign, BatchLambda, finisher
from promptkit.errors import ValidationError
from promptkit.limits import check_text
from promptkit.moderation import check_rules, combine, parse_categories
from promptkit.moderation.scoring import DEFAULT_THRESHOLD, yes_no_labels, yes_no_scores
from promptkit.moderation.verdict import explain


def build_moderation(parts: Parts) -> Runnable:
    settings = parts.definition.moderation_settings
    use_rules = settings.layers in ("combined", "rules")
    use_llm = settings.layers in ("combined", "llm")
    labels = yes_no_labels(parts.spec) if use_llm else None
    probe = None
    if labels is not None:
        from promptkit.probes import find_probe

        probe = find_probe(parts.prompt, parts.model_id)
    if probe is not None:
        thresholds = dict(probe.thresholds)
        if settings.threshold is not None:
            if not 0.0 <= settings.threshold <= 1.0:
                raise ValidationError(
                    f"moderation threshold {settings.threshold} is not a probability: prompt {parts.prompt_ref} is "
                    f"read by a probe (unsafe probability 0-1, fitted threshold {thresholds.get('unsafe', 0.5):.2f})",
                    hint="drop the threshold setting or give a value between 0 and 1",
                )
            thresholds["unsafe"] = float(settings.threshold)
        threshold = thresholds.get("unsafe", 0.5)
    else:
        threshold = settings.threshold if settings.threshold is not None else DEFAULT_THRESHOLD

    def score(states: list[Any]) -> list[Any]:
        todo = [i for i, s in enumerate(states) if not isinstance(s, Exception) and not s.get("_skip")]
        rendered = [parts.llm.render_prompt(parts.prompt.invoke(states[i]["vars"]).to_messages()) for i in todo]
        out = list(states)
        if probe is not None:
            from promptkit.probes import hidden_features, probe_specs, prompt_span

            spans = [prompt_span(r, states[i]["text"]) for i, r in zip(todo, rendered, strict=True)]
            features = hidden_features(parts.llm, rendered, spans=spans, specs=probe_specs(probe)) if todo else []
            probs = probe.probabilities(features) if todo else []
            for i, row in zip(todo, probs, strict=True):
                out[i] = {**states[i], "probe": {"probabilities": dict(zip(probe.heads, map(float, row), strict=True)),
                                                 "thresholds": thresholds}}
            return out
        values = yes_no_scores(parts.llm, rendered, labels) if todo else []
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
        if probe is not None and state.get("probe") is not None:
            result = combine(state["rules"], None, policy=settings.policy, probe=state["probe"])
            value = result["llm_score"]
            raw = f"{'unsafe' if result['llm_unsafe'] else 'safe'} (p={value:.2f})"
            parsed = True
        elif labels is not None:
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
            "decided_by": result.get("decided_by"),
            "explanation": explain(result),
            "probe": probe.meta.get("name") if probe is not None else None,
            "answer": ", ".join(result["categories"]) if result["flagged"] else "safe",
            "flagged": result["flagged"],
            "categories": result["categories"],
            "verdicts": result["verdicts"],
            "llm_parsed": parsed,
            "llm_score": result.get("llm_score"),
            "threshold": threshold if labels is not None else None,
            "probabilities": (state.get("probe") or {}).get("probabilities"),
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
