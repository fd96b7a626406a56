"""Classification chains: the model's text mapped onto the prompt's label set, or a linear probe's choice.

Shape: ``prepare | BatchAssign("raw", prompt | model | StrOutputParser()) | finish``; ``finish`` runs
:class:`LabelParser`, which never raises on odd output and never invents a label: text it cannot map gives
``label=None`` with ``verdict="unparseable"``, and an answer naming several labels without starting with one
gives ``verdict="ambiguous"`` and no label.

When a linear probe was fitted for the prompt version and the model (``prompts/_probes``, see
:mod:`promptkit.probes`), nothing is generated: ``prepare | BatchLambda(probe) | finish`` renders the prompt,
reads the hidden state of its last token, and the label is the head with the highest probability
(``verdict="probe"``, the probabilities in ``probabilities``).
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from langchain_core.output_parsers import BaseOutputParser, StrOutputParser
from langchain_core.runnables import Runnable, RunnableLambda

from promptkit.chains.parts import Parts
from promptkit.chains.postprocess import clean_answer
from promptkit.chains.runnables import BatchAssign, BatchLambda, finisher
from promptkit.errors import ValidationError
from promptkit.limits import check_text
from promptkit.text import fold_words


class LabelParser(BaseOutputParser[dict]):
    """Map free model text to one label of a closed set.

    Tries, in order: the cleaned first line equals a label; exactly one label occurs as a word (several give
    ``label=None``, ``verdict="ambiguous"``); a close spelling of a label (difflib ratio ≥ 0.75). Otherwise
    ``label=None`` and ``verdict="unparseable"``: a label is never guessed.

    >>> LabelParser(labels=["positivo", "negativo", "neutro"]).parse("Sentimento: Negativo.")["label"]
    'negativo'
    >>> LabelParser(labels=["positivo", "negativo"]).parse("não sei dizer")["verdict"]
    'unparseable'
    """

    labels: list[str]

    def parse(self, text: str) -> dict[str, Any]:
        folded = {fold_words(label): label for label in self.labels}
        cleaned = fold_words(clean_answer(text))
        if cleaned in folded:
            return {"label": folded[cleaned], "verdict": "ok"}
        everything = fold_words(text)
        positions = []
        for key, label in folded.items():
            m = re.search(rf"(?<!\w){re.escape(key)}(?!\w)", everything)
            if m:
                positions.append((m.start(), label))
        if len(positions) == 1:
            return {"label": positions[0][1], "verdict": "ok"}
        if positions:  # "positivo ou negativo": a hedge is no answer
            return {"label": None, "verdict": "ambiguous"}
        first_word = cleaned.split(" ")[0] if cleaned else ""
        close = difflib.get_close_matches(first_word, list(folded), n=1, cutoff=0.75)
        if close:
            return {"label": folded[close[0]], "verdict": "fuzzy"}
        return {"label": None, "verdict": "unparseable"}

    @property
    def _type(self) -> str:
        return "promptkit_labels"


def as_text_input(value: Any, chain: str) -> dict[str, Any]:
    if isinstance(value, str):
        value = {"text": value}
    if not isinstance(value, dict):
        raise ValidationError(
            f"chain {chain!r} takes {{'text': str}} or a string, got {type(value).__name__}"
        )
    return value


def build_classify(parts: Parts) -> Runnable:
    parser_spec = parts.spec.parser
    labels = list(parser_spec.get("labels") or []) if parser_spec is not None else []
    if not labels:
        raise ValidationError(
            f"chain {parts.definition.name!r} classifies, but prompt {parts.prompt_ref} has no 'labels' parser"
        )
    parser = LabelParser(labels=labels)
    fewshot = getattr(parts.spec, "fewshot", None) is not None
    from promptkit.probes import find_probe

    probe = find_probe(parts.prompt, parts.model_id)
    if probe is not None and sorted(probe.heads) != sorted(labels):
        raise ValidationError(f"probe for {parts.prompt_ref} has heads {probe.heads}, the prompt's labels are {labels}")

    def read_probe(states: list[Any]) -> list[Any]:
        from promptkit.probes import hidden_features, probe_specs, prompt_span

        todo = [i for i, s in enumerate(states) if not isinstance(s, Exception)]
        rendered = [parts.llm.render_prompt(parts.prompt.invoke(states[i]["vars"]).to_messages()) for i in todo]
        out = list(states)
        if not todo:
            return out
        spans = [prompt_span(r, states[i]["vars"].get("text", "")) for i, r in zip(todo, rendered, strict=True)]
        features = hidden_features(parts.llm, rendered, spans=spans, specs=probe_specs(probe))
        for i, row in zip(todo, probe.probabilities(features), strict=True):
            out[i] = {**states[i], "probabilities": dict(zip(probe.heads, map(float, row), strict=True))}
        return out

    def prepare(value: Any) -> dict[str, Any]:
        inp = as_text_input(value, parts.definition.name)
        values = {k: v for k, v in inp.items() if isinstance(v, str)}
        for key, text in values.items():
            check_text(text, f"input {key!r}")
        state: dict[str, Any] = {"vars": parts.variables(values), "examples": []}
        if fewshot:
            from promptkit.prompts import select_examples

            chosen = select_examples(parts.prompt_ref, values, embeddings=parts.embeddings)
            state["examples"] = [e.get("id") for e in chosen]
        return state

    def finish(state: dict[str, Any]) -> dict[str, Any]:
        raw = state.get("raw", "")
        if probe is not None:
            probs = state["probabilities"]
            parsed = {"label": max(labels, key=lambda label: probs[label]), "verdict": "probe"}
        else:
            parsed = parser.parse(raw)
        return {
            "probabilities": state.get("probabilities"),
            "answer": parsed["label"] or "",
            "label": parsed["label"],
            "verdict": parsed["verdict"],
            "labels": labels,
            "abstained": parsed["label"] is None,
            "raw": raw,
            **parts.provenance(),
            "sources": [],
            "contexts": [],
            "examples": state["examples"],
            "moderation": None,
        }

    if probe is not None:
        return RunnableLambda(prepare, name="prepare") | BatchLambda(read_probe, name="probe") | finisher(finish)
    core = parts.prompt | parts.model | StrOutputParser()
    return (
        RunnableLambda(prepare, name="prepare")
        | BatchAssign("raw", core, select=lambda s: s["vars"])
        | finisher(finish)
    )
