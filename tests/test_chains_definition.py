"""Chain definitions: the shipped files validate, the schema is strict, errors are one readable line."""

from __future__ import annotations

import pytest

from promptkit.chains import get_definition, list_chains, load_chain, parse_definition
from promptkit.chains.loader import apply_overrides
from promptkit.errors import NotFoundError, ValidationError

SHIPPED = [
    "classify_few_shot",
    "classify_zero_shot",
    "moderation",
    "qa_en",
    "qa_few_shot",
    "qa_zero_shot",
    "rag_course",
    "summarize",
]


def test_every_shipped_definition_validates():
    assert set(SHIPPED) <= set(list_chains())
    for name in list_chains():
        d = get_definition(name)
        assert d.name == name


def test_rag_course_settings():
    d = get_definition("rag_course")
    assert d.kind == "rag"
    assert d.prompt == "rag_qa@production"
    assert (d.retriever.mode, d.retriever.k) == ("bm25", 1)  # chosen on course_qa dev, RAG mode
    # tuned on course_qa dev (eval/experiments.md), applied in this order
    assert d.postprocess == ["first_line", "strip", "abstention", "trim_question", {"snap": 0.75}, {"ground": 0.7}]


@pytest.mark.parametrize(
    "data, needle",
    [
        (
            {"name": "x", "kind": "rag", "description": "d", "prompt": "p", "colour": 1},
            "colour: unknown field",
        ),
        ({"name": "x", "kind": "zero_shot", "description": "d", "prompt": "p"}, "task: qa"),
        ({"name": "x", "kind": "nope", "description": "d", "prompt": "p"}, "kind"),
        (
            {"name": "x", "kind": "rag", "description": "d", "prompt": "p", "retriever": {"k": 0}},
            "retriever.k",
        ),
        (
            {"name": "x", "kind": "summarize", "description": "d", "prompt": "p", "retriever": {}},
            "only applies",
        ),
        ({"kind": "rag", "description": "d", "prompt": "p"}, "name: required field is missing"),
    ],
)
def test_schema_errors_are_one_line(data, needle):
    with pytest.raises(ValidationError) as info:
        parse_definition(data, source="chains/x.yaml")
    message = str(info.value)
    assert "\n" not in message
    assert needle in message
    assert "chains/x.yaml" in message


def test_unknown_chain_suggests_a_close_name():
    with pytest.raises(NotFoundError, match="did you mean 'rag_course'"):
        load_chain("rag_cours")


def test_file_name_must_match(tmp_path):
    from promptkit.chains.definition import read_definition

    path = tmp_path / "other.yaml"
    path.write_text("name: mine\nkind: rag\ndescription: d\nprompt: rag_qa\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="must be named mine.yaml"):
        read_definition(path)


def test_overrides_route_to_their_section():
    d = apply_overrides(get_definition("rag_course"), {"k": 8, "max_new_tokens": 12, "ground": None})
    assert d.retriever.k == 8 and d.model.max_new_tokens == 12
    assert d.postprocess == ["first_line", "strip", "abstention", "trim_question", {"snap": 0.75}]


def test_post_processing_steps_are_set_removed_and_added_in_their_place():
    base = get_definition("qa_few_shot")
    assert base.postprocess == ["first_line", "strip", "abstention", {"ground": 0.6}]
    d = apply_overrides(base, {"snap": 0.8, "trim_question": True, "ground": 0.9, "no_answer_prob": 1.0})
    assert d.postprocess == ["first_line", "strip", "abstention", {"no_answer_prob": 1.0}, "trim_question",
                             {"snap": 0.8}, {"ground": 0.9}]
    assert apply_overrides(d, {"trim_question": False}).postprocess == [
        "first_line", "strip", "abstention", {"no_answer_prob": 1.0}, {"snap": 0.8}, {"ground": 0.9}]
    with pytest.raises(ValidationError, match="postprocess step 'ground' takes a score"):
        apply_overrides(base, {"ground": 3})
    with pytest.raises(ValidationError, match="unknown postprocess step 'grnd'"):
        apply_overrides(base, {"postprocess": ["grnd"]})
    with pytest.raises(ValidationError, match="unknown setting 'colour'"):
        apply_overrides(get_definition("rag_course"), {"colour": 1})
    with pytest.raises(ValidationError, match="retriever.k"):
        apply_overrides(get_definition("rag_course"), {"k": 0})
