"""Cross-checked QA chains (``cross_check: <prompt ref>``) with the fake model: a second prompt answers from the
same context, and the chain abstains unless both prompts answer."""

from __future__ import annotations

import json

import pytest

from promptkit.chains import load_chain
from promptkit.chains.definition import parse_definition
from promptkit.errors import PromptkitError, ValidationError
from promptkit.testing import FakeChatModel

CONTEXT = "O Transformer foi introduzido em 2017 por Vaswani e colegas, no artigo «Attention Is All You Need»."

# rag_qa prompts wrap the context in <documentos>; qa_zero_shot does not, so the fake model tells them apart
CHECK_MARK = "<documentos>"


def two_prompt_model(main: dict[str, str], check: dict[str, str]) -> FakeChatModel:
    """Answers by question keyword, differently for the main prompt and the cross-check prompt."""

    def respond(prompt: str) -> str:
        table = check if CHECK_MARK in prompt else main
        return next((a for k, a in table.items() if k in prompt), "sem resposta")

    return FakeChatModel(respond=respond)


def ask(question: str) -> dict[str, str]:
    return {"question": question, "context": CONTEXT}


def test_both_answer_keeps_the_main_answer_in_one_extra_batched_call():
    llm = two_prompt_model(main={"Quando": "2017", "Quem": "Vaswani"}, check={"Quando": "em 2017", "Quem": "Vaswani"})
    chain = load_chain("qa_zero_shot", llm=llm, cross_check="rag_qa@2")
    out = chain.batch([ask("Quando saiu?"), ask("Quem escreveu?")])
    assert [o["answer"] for o in out] == ["2017", "Vaswani"]
    assert [o["abstained"] for o in out] == [False, False]
    # the cross-check answer goes through the chain's post-processing too ("em" is trimmed)
    assert out[0]["cross_check"] == {
        "prompt": "rag_qa@2", "raw": "em 2017", "answer": "2017", "abstain_reason": None
    }
    assert out[0]["cross_check_prompt"] == "rag_qa@2"
    # the cross-check batch first, then the main batch: two model calls for the whole list
    assert len(llm.calls) == 2
    assert all(CHECK_MARK in p for p in llm.calls[0]) and len(llm.calls[0]) == 2
    assert not any(CHECK_MARK in p for p in llm.calls[1]) and len(llm.calls[1]) == 2


def test_the_chain_abstains_when_the_cross_check_abstains():
    llm = two_prompt_model(main={"Quando": "2017", "Quem": "Vaswani"}, check={"Quando": "2017"})
    out = load_chain("qa_zero_shot", llm=llm, cross_check="rag_qa@2").batch([ask("Quando saiu?"), ask("Quem pagou?")])
    assert out[0]["answer"] == "2017" and out[0]["abstain_reason"] is None
    assert out[1]["answer"] == "" and out[1]["abstained"] is True
    assert out[1]["abstain_reason"] == "cross_check"
    assert out[1]["cross_check"]["abstain_reason"] == "abstained"
    assert out[1]["citations"] == []
    # the main prompt runs only for the question the cross-check answered
    assert [len(c) for c in llm.calls] == [2, 1]
    assert "Quando saiu?" in llm.calls[1][0]
    assert out[1]["raw"] == ""


def test_an_ungrounded_cross_check_answer_counts_as_an_abstention():
    # the check invents an answer that does not occur in the context: grounding (0.7 in the chain) rejects it
    llm = two_prompt_model(main={"Quando": "2017"}, check={"Quando": "em março de 1999 na Suíça"})
    out = load_chain("qa_zero_shot", llm=llm, cross_check="rag_qa@2").invoke(ask("Quando saiu?"))
    assert out["abstained"] is True and out["abstain_reason"] == "cross_check"
    assert out["cross_check"]["abstain_reason"] == "ungrounded"
    # without the cross-check the same main answer stands
    alone = load_chain("qa_zero_shot", llm=llm).invoke(ask("Quando saiu?"))
    assert alone["answer"] == "2017" and alone["cross_check"] is None


def test_the_main_prompt_abstaining_keeps_its_own_reason():
    llm = two_prompt_model(main={}, check={"Quando": "2017"})
    out = load_chain("qa_zero_shot", llm=llm, cross_check="rag_qa@2").invoke(ask("Quando saiu?"))
    assert out["abstained"] is True and out["abstain_reason"] == "abstained"
    assert out["cross_check"]["answer"] == "2017"


def test_a_cross_check_with_the_main_prompt_itself_adds_no_call():
    llm = FakeChatModel(default="2017")
    out = load_chain("rag_course", llm=llm, prompt="rag_qa@2", cross_check="rag_qa@2").invoke(ask("Quando saiu?"))
    assert out["answer"] == "2017" and out["cross_check"] is None
    assert len(llm.calls) == 1


def test_stream_gives_the_same_output_as_invoke():
    llm = two_prompt_model(main={"Quando": "2017"}, check={"Quando": "2017"})
    chain = load_chain("qa_zero_shot", llm=llm, cross_check="rag_qa@2")
    chunks = list(chain.stream(ask("Quando saiu?")))
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    assert dict(total) == chain.invoke(ask("Quando saiu?"))
    assert total["answer"] == "2017" and total["cross_check"]["answer"] == "2017"


def test_cross_check_only_on_question_answering_chains():
    base = {"name": "s", "kind": "summarize", "description": "d", "prompt": "summarize", "cross_check": "rag_qa@2"}
    with pytest.raises(ValidationError, match="cross_check.*question-answering"):
        parse_definition(base)
    ok = parse_definition({**base, "kind": "rag"})
    assert ok.cross_check == "rag_qa@2"


def test_an_unknown_cross_check_prompt_is_one_clear_error():
    with pytest.raises(PromptkitError, match="nope"):
        load_chain("qa_zero_shot", llm=FakeChatModel(), cross_check="nope@1")


def test_eval_records_the_cross_check_prompt_and_its_raw_answers(tmp_path):
    from promptkit.evaluation import evaluate

    llm = two_prompt_model(main={"Quando": "2017", "Quem": "Vaswani"}, check={"Quando": "2017"})
    qas = [
        {"id": "a", "question": "Quando saiu?", "answers": [{"text": "2017", "answer_start": 33}],
         "is_impossible": False},
        {"id": "b", "question": "Quem pagou?", "answers": [], "is_impossible": True},
    ]
    data = {"version": "v2.0", "data": [{"title": "t", "paragraphs": [{"context": CONTEXT, "qas": qas}]}]}
    path = tmp_path / "mini.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    chain = load_chain("qa_zero_shot", llm=llm, cross_check="rag_qa@2")
    result = evaluate(chain=chain, dataset=path, cache="off", show_progress=False)
    assert result.prompt.cross_check == "rag_qa@2"
    rows = result.row_map()
    assert rows["a"].prediction == "2017" and rows["a"].check_raw == "2017"
    assert rows["b"].prediction == "" and rows["b"].check_raw == "sem resposta"
    assert result.metrics["NoAns_exact"] == 100.0 and result.metrics["HasAns_exact"] == 100.0


def test_the_shipped_rag_chain_cross_checks_and_the_override_turns_it_off():
    from promptkit.chains.definition import get_definition

    assert get_definition("rag_course").cross_check == "rag_qa@2"
    llm = FakeChatModel(default="2017")
    out = load_chain("rag_course", llm=llm, prompt="rag_qa@1", cross_check=None).invoke(ask("Quando saiu?"))
    assert out["answer"] == "2017" and out["cross_check"] is None and len(llm.calls) == 1
    checked = load_chain("rag_course", llm=llm, prompt="rag_qa@1").invoke(ask("Quando saiu?"))
    assert checked["cross_check"]["prompt"] == "rag_qa@2" and len(llm.calls) == 3
