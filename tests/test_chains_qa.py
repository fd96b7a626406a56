"""Reading-mode QA chains with the fake model: composition, provenance, batching, cleanup, abstention, grounding."""

from __future__ import annotations

import pytest
from langchain_core.runnables import Runnable

from promptkit.chains import load_chain
from promptkit.errors import ValidationError
from promptkit.testing import FakeChatModel, FakeEmbeddings

CONTEXT = "O artigo Attention Is All You Need saiu em 2017 e apresentou o Transformer."


def test_invoke_returns_the_contract_fields():
    llm = FakeChatModel(default='Resposta: "2017".')
    chain = load_chain("qa_zero_shot", llm=llm)
    assert isinstance(chain, Runnable)
    out = chain.invoke({"question": "Em que ano saiu o artigo?", "context": CONTEXT})
    for key in (
        "answer",
        "raw",
        "abstained",
        "prompt",
        "prompt_hash",
        "model",
        "sources",
        "contexts",
        "examples",
        "moderation",
    ):
        assert key in out
    assert out["answer"] == "2017"
    assert out["raw"] == 'Resposta: "2017".'
    assert out["abstained"] is False
    assert out["prompt"].startswith("qa_zero_shot@")
    assert len(out["prompt_hash"]) == 64
    assert out["model"] == "fake-chat"
    assert out["contexts"] == [CONTEXT]
    assert out["mode"] == "reading"


def test_batch_is_one_model_batch_call():
    llm = FakeChatModel(rules=[("Quem", "Vaswani"), ("Quando", "2017")], default="sem resposta")
    chain = load_chain("qa_zero_shot", llm=llm, ground=None)
    inputs = [
        {"question": q, "context": CONTEXT + " Autor: Vaswani."} for q in ("Quem?", "Quando?", "Onde?")
    ] * 3
    outs = chain.batch(inputs)
    assert len(llm.calls) == 1 and len(llm.calls[0]) == 3  # 9 inputs, 3 distinct prompts, one batch
    assert [o["answer"] for o in outs[:3]] == ["Vaswani", "2017", ""]
    assert outs[2]["abstained"] is True


def test_generation_settings_reach_the_model():
    seen = []

    class Spy(FakeChatModel):
        def _complete(self, prompts, params):
            seen.append(params)
            return super()._complete(prompts, params)

    chain = load_chain("qa_zero_shot", llm=Spy(default="2017"), max_new_tokens=7)
    chain.invoke({"question": "Quando?", "context": CONTEXT})
    assert seen[0]["max_new_tokens"] == 7  # from the override
    assert seen[0]["stop"] == ["\n"]  # from the prompt's generation block


def test_stream_gives_the_settled_answer_once():
    # a span answer is final only once complete (snapping, grounding): it is never shown half-settled
    chain = load_chain("qa_zero_shot", llm=FakeChatModel(default="Em 2017."))
    value = {"question": "Quando?", "context": CONTEXT}
    chunks = list(chain.stream(value))
    assert len(chunks) == 1
    assert dict(chunks[0]) == chain.invoke(value)
    assert chunks[0]["answer"] == "2017" and chunks[0]["raw"] == "Em 2017."


@pytest.mark.parametrize(
    "raw", ["sem resposta", "Sem resposta.", "Resposta: sem resposta", "SEM RESPOSTA\nporque…"]
)
def test_abstention_phrase_maps_to_empty_answer(raw):
    out = load_chain("qa_zero_shot", llm=FakeChatModel(default=raw)).invoke(
        {"question": "Quem?", "context": CONTEXT}
    )
    assert out["answer"] == "" and out["abstained"] is True and out["abstain_reason"] == "abstained"


def test_answer_cleanup_keeps_the_first_line():
    out = load_chain(
        "qa_zero_shot",
        llm=FakeChatModel(default="  «o Transformer».\nExplicação longa"),
        trim_question=False,  # the cleanup alone, without the shipped edge trimming
    ).invoke({"question": "O que foi apresentado?", "context": CONTEXT})
    assert out["answer"] == "o Transformer"


def test_grounding_check_abstains_on_invented_answers():
    chain = load_chain("qa_zero_shot", llm=FakeChatModel(default="1999"))
    out = chain.invoke({"question": "Em que ano?", "context": CONTEXT})
    assert out["abstained"] is True and out["abstain_reason"] == "ungrounded" and out["answer"] == ""
    assert out["grounding"] < 0.6
    # a near-verbatim span passes
    near = load_chain("qa_zero_shot", llm=FakeChatModel(default="apresentaram o Transformer")).invoke(
        {"question": "O quê?", "context": CONTEXT}
    )
    assert near["abstained"] is False and near["grounding"] >= 0.6
    # the threshold is a definition setting
    off = load_chain("qa_zero_shot", llm=FakeChatModel(default="1999"), ground=None).invoke(
        {"question": "Em que ano?", "context": CONTEXT}
    )
    assert off["answer"] == "1999"


def test_few_shot_records_example_ids():
    llm = FakeChatModel(default="2017")
    chain = load_chain("qa_few_shot", llm=llm, embeddings=FakeEmbeddings())
    out = chain.invoke({"question": "Em que ano saiu o artigo?", "context": CONTEXT})
    assert len(out["examples"]) == 4 and all(isinstance(i, str) for i in out["examples"])
    rendered = llm.calls[0][0]
    assert rendered.count("Pergunta:") == 5  # 4 demonstrations + the question


def test_english_chain_abstains_with_its_phrase():
    out = load_chain("qa_en", llm=FakeChatModel(default="Unanswerable.")).invoke(
        {"question": "Who?", "context": "A passage."}
    )
    assert out["abstained"] is True and out["answer"] == ""


def test_input_errors_are_clear():
    chain = load_chain("qa_zero_shot", llm=FakeChatModel())
    with pytest.raises(ValidationError, match="non-empty 'question'"):
        chain.invoke({"question": ""})
    with pytest.raises(ValidationError, match="answers from a given text"):
        chain.invoke({"question": "Quem?"})


def test_prompt_override_changes_the_recorded_ref():
    out = load_chain("rag_course", llm=FakeChatModel(default="2017"), prompt="rag_qa@1").invoke(
        {"question": "Quando?", "context": CONTEXT}
    )
    assert out["prompt"] == "rag_qa@1"


def test_cache_is_set_on_the_model(tmp_path):
    from promptkit.cache import ReplayCache

    cache = ReplayCache(tmp_path / "c.sqlite")
    llm = FakeChatModel(default="2017")
    chain = load_chain("qa_zero_shot", llm=llm, cache=cache)
    value = {"question": "Quando?", "context": CONTEXT}
    chain.invoke(value)
    chain.invoke(value)
    assert len(llm.calls) == 1 and cache.hits == 1
