"""The real default models: Portuguese reading QA, batching, streaming, log-probabilities, embeddings.

Slow (loads weights; the first run also converts the default LLM, about a minute); run with ``-m model``.
"""

from __future__ import annotations

import math

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from promptkit.errors import MissingDependencyError

pytestmark = pytest.mark.model

SYSTEM = ("Responda à pergunta usando apenas o contexto. Responda só com o trecho exato do contexto, "
          "sem frases completas.")
CONTEXT = ("O MMLU (Massive Multitask Language Understanding) é um benchmark de múltipla escolha composto por "
           "57 tarefas. Ele foi publicado em 2020 por Dan Hendrycks e colegas. O GLUE, mais antigo, reúne nove "
           "tarefas de compreensão de linguagem em inglês.")
QUESTIONS = [
    ("Quantas tarefas compõem o MMLU?", "57"),
    ("Em que ano o MMLU foi publicado?", "2020"),
    ("Quantas tarefas reúne o GLUE?", "nove"),
]


def messages(question: str) -> list:
    return [SystemMessage(SYSTEM), HumanMessage(f"Contexto: {CONTEXT}\n\nPergunta: {question}")]


@pytest.fixture(scope="module")
def llm():
    from promptkit.llm import load_llm

    try:
        return load_llm(max_new_tokens=24)
    except MissingDependencyError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def embeddings():
    from promptkit.embeddings import load_embeddings

    try:
        return load_embeddings()
    except MissingDependencyError as exc:
        pytest.skip(str(exc))


def test_answers_a_portuguese_question_from_the_context(llm):
    answer = llm.invoke(messages("Quantas tarefas compõem o MMLU?")).content
    assert "57" in answer


def test_batch_gives_the_same_answers_as_one_by_one(llm):
    inputs = [messages(q) for q, _ in QUESTIONS]
    batched = [m.content for m in llm.batch(inputs)]
    single = [llm.invoke(i).content for i in inputs]
    assert batched == single
    for answer, (_, gold) in zip(batched, QUESTIONS, strict=True):
        assert gold in answer.lower()


def test_streaming_yields_the_same_text(llm):
    prompt = messages("Em que ano o MMLU foi publicado?")
    streamed = [chunk.content for chunk in llm.stream(prompt)]
    assert len([c for c in streamed if c]) >= 1
    assert "".join(streamed) == llm.invoke(prompt).content


def test_stop_strings_cut_the_answer(llm):
    text = llm.invoke(messages("Quantas tarefas compõem o MMLU?"), stop=["7"]).content
    assert "7" not in text


def test_logprob_prefers_the_likely_continuation(llm):
    prompt = llm.render_prompt(messages("Quantas tarefas compõem o MMLU?"))
    likely, unlikely = llm.logprob([prompt, prompt], ["57", "12"])
    assert likely > unlikely
    assert likely <= 0.0


def test_real_tokenizer_and_context_window(llm):
    assert llm.window >= 4096
    assert 1 <= llm.get_num_tokens("Engenharia de prompts") < 10
    assert llm.numerics() == {"dtype": "bf16"}


def test_weights_are_loaded_once_per_process(llm):
    from promptkit.llm import load_llm

    other = load_llm(batch_size=2, temperature=0.7)
    assert other.backend is llm.backend
    assert other.batch_size == 2


def test_embeddings_give_unit_384_dim_vectors(embeddings):
    assert embeddings.model_id == "all-minilm-l6-v2"
    query = embeddings.embed_query("How many tasks does MMLU have?")
    docs = embeddings.embed_documents(["MMLU has 57 tasks.", "Bread is baked in an oven."])
    assert len(query) == 384
    assert math.isclose(sum(v * v for v in query), 1.0, rel_tol=1e-4)
    scores = [sum(a * b for a, b in zip(query, d, strict=True)) for d in docs]
    assert scores[0] > scores[1]
