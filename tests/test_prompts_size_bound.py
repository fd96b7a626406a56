"""The byte-size bound a QA chain uses to skip token counts: never below the real rendering, None where unsure."""

from __future__ import annotations

import pytest

from promptkit.prompts import get_prompt_spec, load_prompt, select_examples
from promptkit.prompts.build import size_bound
from promptkit.prompts.schema import PromptVersion


def _rendered_bytes(ref: str, values: dict[str, str]) -> int:
    return len(load_prompt(ref).invoke(values).to_string().encode("utf-8"))


@pytest.mark.parametrize("ref", ["rag_qa@1", "rag_qa@2", "rag_qa@3", "qa_zero_shot@1"])
@pytest.mark.parametrize("question", ["Quem propôs o perceptron?", "Ação, função e coração — " * 20])
def test_the_bound_covers_the_rendered_prompt(ref, question):
    spec = get_prompt_spec(ref)
    values = {v: "" for v in spec.input_variables} | {"question": question, "context": "Documento ç " * 30}
    examples = select_examples(ref, values) if spec.fewshot is not None else None
    bound = size_bound(spec, values, examples)
    assert bound is not None
    real = _rendered_bytes(ref, values)
    assert real <= bound <= real + 64 * (len(spec.messages or []) + len(examples or []) * 2) + 200


def _spec(content: str, **extra) -> PromptVersion:
    return PromptVersion(name="probe", version=1, description="d", language="pt-BR", kind="chat",
                         input_variables=["question"], messages=[{"role": "human", "content": content}],
                         changelog="c", **extra)


def test_the_bound_gives_up_where_it_cannot_be_sure():
    assert size_bound(_spec("P: {question}"), {"question": "x"}) is not None
    assert size_bound(_spec("P: {question:>40}"), {"question": "x"}) is None  # a format spec pads the value
    assert size_bound(_spec("P: {question!r}"), {"question": "x"}) is None
    assert size_bound(_spec("P: {question}"), {}) is None  # a value it was not given
    few = get_prompt_spec("rag_qa@3")
    assert size_bound(few, {"question": "q", "context": ""}, None) is None  # demonstrations unknown
