"""Answer-quality post-processing of the QA chains with the fake model: trimming words repeated from the question,
snapping to the context's own span, the no-answer probability and the best-document-last retrieval order."""

from __future__ import annotations

import pytest
from corpus_support import fake_index

from promptkit.chains import load_chain
from promptkit.chains.postprocess import no_answer_probability, snap_to_span, trim_question_words
from promptkit.testing import FakeChatModel

CONTEXT = "O Transformer foi introduzido em 2017 por Vaswani e colegas, no artigo «Attention Is All You Need»."


def test_trim_question_words_keeps_the_new_part():
    assert trim_question_words("O Transformer foi introduzido em 2017", "Quando o Transformer foi introduzido?") == (
        "2017"
    )
    assert trim_question_words("2017.", "Quando?") == "2017"
    # nothing left: the answer is kept as it was
    assert trim_question_words("o Transformer", "O que é o Transformer?") == "o Transformer"


def test_snap_copies_the_context_span():
    assert snap_to_span("introduzida em 2017", CONTEXT) == "introduzido em 2017"
    assert snap_to_span("Attention is all you need", CONTEXT) == "Attention Is All You Need"
    assert snap_to_span("1999", CONTEXT) == "1999"  # no close span: unchanged
    assert snap_to_span("", CONTEXT) == ""


def test_no_answer_probability_is_a_two_way_softmax():
    assert no_answer_probability(-2.0, -2.0) == pytest.approx(0.5)
    assert no_answer_probability(-0.1, -8.0) > 0.99
    assert no_answer_probability(-800.0, -0.1) == pytest.approx(0.0)


def test_chain_trims_and_snaps_when_configured():
    llm = FakeChatModel(rules=[("Quando", "O Transformer foi introduzido em 2017."), ("Quem", "Vaswani e colega")])
    when = {"question": "Quando o Transformer foi introduzido?", "context": CONTEXT}
    who = {"question": "Quem criou o Transformer?", "context": CONTEXT}
    plain = load_chain("qa_zero_shot", llm=llm, ground=None, trim_question=False, snap=None).batch([when, who])
    assert [o["answer"] for o in plain] == ["O Transformer foi introduzido em 2017", "Vaswani e colega"]
    tuned = load_chain("qa_zero_shot", llm=llm, ground=None, trim_question=True, snap=0.75).batch([when, who])
    assert [o["answer"] for o in tuned] == ["2017", "Vaswani e colegas"]


def test_na_prob_is_reported_and_thresholded_in_one_batched_call():
    llm = FakeChatModel(rules=[("Quando", "2017"), ("Onde", "em Paris")])
    inputs = [{"question": q, "context": CONTEXT} for q in ("Quando saiu?", "Onde saiu?", "Quem pagou?")]
    seen = []
    original = llm._logprob

    def spy(prompts, continuations):
        seen.append(list(continuations))
        return original(prompts, continuations)

    object.__setattr__(llm, "_logprob", spy)
    report = load_chain("qa_zero_shot", llm=llm, ground=None, trim_question=False, no_answer_prob=1.0).batch(inputs)
    assert len(seen) == 1  # one batched log-probability call for the two non-abstaining answers
    assert seen[0] == ["sem resposta", "2017", "sem resposta", "em Paris"]
    assert [o["answer"] for o in report] == ["2017", "em Paris", ""]
    assert report[0]["na_prob"] < 0.5 and report[2]["na_prob"] == 1.0
    # a threshold below the answer's na_prob turns it into an abstention
    strict = load_chain("qa_zero_shot", llm=llm, ground=None, no_answer_prob=0.0).invoke(inputs[0])
    assert strict["abstained"] is True and strict["abstain_reason"] == "no_answer_prob"
    assert strict["na_prob"] > 0.0


def test_na_prob_absent_without_threshold():
    out = load_chain("qa_zero_shot", llm=FakeChatModel(default="2017"), ground=None).invoke(
        {"question": "Quando?", "context": CONTEXT}
    )
    assert out["na_prob"] is None


def test_eval_reports_best_f1_from_na_prob(tmp_path):
    from promptkit.evaluation import evaluate

    llm = FakeChatModel(rules=[("Quando", "2017")], default="Vaswani")
    data = {
        "version": "v2.0",
        "data": [
            {
                "title": "t",
                "paragraphs": [
                    {
                        "context": CONTEXT,
                        "qas": [
                            {"id": "a", "question": "Quando saiu?", "answers": [{"text": "2017", "answer_start": 33}],
                             "is_impossible": False},
                            {"id": "b", "question": "Quem pagou?", "answers": [], "is_impossible": True},
                        ],
                    }
                ],
            }
        ],
    }
    import json

    path = tmp_path / "mini.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    chain = load_chain("qa_zero_shot", llm=llm, ground=None, trim_question=False, no_answer_prob=1.0)
    result = evaluate(chain=chain, dataset=path, cache="off", show_progress=False)
    assert all(r.na_prob is not None for r in result.rows)
    assert "best_f1" in result.metrics


DOCS = {
    "a.md": "---\ntitle: A\n---\n\n## A\n\nO Transformer apareceu em 2017 no artigo de Vaswani.\n",
    "b.md": "---\ntitle: B\n---\n\n## B\n\nO termo RAG foi popularizado por Patrick Lewis em 2020.\n",
}


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return fake_index(tmp_path_factory.mktemp("order"), DOCS)


def test_best_last_puts_the_top_document_nearest_the_question(index):
    llm = FakeChatModel(default="Patrick Lewis")
    question = "Quem popularizou o termo RAG?"
    ranked = load_chain("rag_course", llm=llm, index=index, k=2, mode="hybrid").invoke({"question": question})
    flipped = load_chain("rag_course", llm=llm, index=index, k=2, mode="hybrid", order="best_last").invoke({"question": question})
    assert len(ranked["contexts"]) == 2
    assert flipped["contexts"] == ranked["contexts"][::-1]
    prompt = llm.calls[-1][0]
    assert prompt.index('id="2"') > prompt.index('id="1"')
    assert "Patrick Lewis" in prompt.split('id="2"')[1]


def test_complete_number_follows_the_context():
    from promptkit.chains.postprocess import complete_number

    assert complete_number("8", "o modelo base tinha oito cabeças") == "oito"
    assert complete_number("175", "o GPT-3 tem 175 bilhões de parâmetros") == "175 bilhões"
    assert complete_number("13", "caiu 13% no teste") == "13%"
    assert complete_number("2", "os dois modelos") == "2"  # small numbers are not spelled out
    assert complete_number("Vaswani", "Vaswani e colegas") == "Vaswani"


def test_shipped_qa_chains_trim_snap_and_ground():
    llm = FakeChatModel(rules=[("Quantas cabeças", "8"), ("Quando", "Foi introduzido em 2017."), ("Quem", "1999")])
    context = CONTEXT + " O modelo base tinha oito cabeças de atenção."
    chain = load_chain("rag_course", llm=llm)
    outs = chain.batch(
        [
            {"question": "Quantas cabeças tinha o modelo base?", "context": context},
            {"question": "Quando o Transformer foi introduzido?", "context": context},
            {"question": "Quem pagou o artigo?", "context": context},
        ]
    )
    assert [o["answer"] for o in outs] == ["oito", "2017", ""]
    # the shipped chain's cross-check prompt gets the same invented answer: its grounding check rejects it
    assert outs[2]["abstain_reason"] == "cross_check" and outs[2]["cross_check"]["abstain_reason"] == "ungrounded"
