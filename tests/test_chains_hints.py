"""Question-type hints: the rules, and QA chains filling ``answer_hint`` for prompts that declare it."""

from __future__ import annotations

import pytest

from promptkit.chains import load_chain
from promptkit.chains.hints import answer_hint
from promptkit.testing import FakeChatModel

CONTEXT = "O perceptron foi proposto por Frank Rosenblatt em 1958 e tinha 400 fotocélulas."


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Quantas fotocélulas tinha o perceptron?", "um número, com a unidade como o texto escreve"),
        ("Em que ano o perceptron foi proposto?", "uma data, um ano ou um período"),
        ("Qual o ano do artigo?", "uma data, um ano ou um período"),
        ("Quando surgiu o Transformer?", "uma data, um ano ou um período"),
        ("Quem propôs o perceptron?", "nome de pessoa, grupo ou organização"),
        ("Onde fica o laboratório?", "um lugar"),
        ("Por que o modelo alucina?", "o motivo, em poucas palavras copiadas do texto"),
        ("Por quê isso acontece?", "o motivo, em poucas palavras copiadas do texto"),
        ("Como a IA generativa cria conteúdo?", "o modo ou meio, em poucas palavras copiadas do texto"),
        ("Como se chama esse período?", "um termo ou expressão curta copiada do texto"),
        ("Qual técnica reduz alucinações?", "um termo ou expressão curta copiada do texto"),
        ("How many layers does it have?", "a number, with its unit as the text writes it"),
        ("Who wrote the paper?", "the name of a person, group or organisation"),
        ("When was it released?", "a date, a year or a period"),
        ("What is the model called?", "a short term or phrase copied from the text"),
    ],
)
def test_hint_follows_the_interrogative_word(question, expected):
    assert answer_hint(question) == expected


def test_rag_qa_4_gets_the_hint_from_the_chain():
    llm = FakeChatModel(default="Frank Rosenblatt")
    chain = load_chain("rag_course", llm=llm, prompt="rag_qa@4")
    out = chain.invoke({"question": "Quem propôs o perceptron?", "context": CONTEXT})
    assert out["answer"] == "Frank Rosenblatt"
    # the chain's cross-check prompt (rag_qa@2, no hint) runs first; the main prompt is the last call
    assert "Tipo de resposta esperado: nome de pessoa, grupo ou organização" in llm.calls[-1][0]


def test_a_hint_passed_by_the_caller_wins():
    llm = FakeChatModel(default="1958")
    chain = load_chain("rag_course", llm=llm, prompt="rag_qa@4")
    chain.invoke({"question": "Quem propôs o perceptron?", "context": CONTEXT, "answer_hint": "um ano"})
    assert "Tipo de resposta esperado: um ano\n" in llm.calls[-1][0]


def test_prompts_without_the_variable_get_no_hint():
    llm = FakeChatModel(default="Frank Rosenblatt")
    load_chain("rag_course", llm=llm, prompt="rag_qa@2").invoke({"question": "Quem propôs?", "context": CONTEXT})
    assert "Tipo de resposta" not in llm.calls[0][0]
