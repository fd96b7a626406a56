"""A few end-to-end checks with the real default model (marked ``model``; each call takes seconds on a CPU)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def llm():
    from promptkit.llm import load_llm

    return load_llm()


def test_rag_answers_from_the_course_and_cites_the_source(llm):
    from promptkit.chains import load_chain

    out = load_chain("rag_course", llm=llm).invoke(
        {"question": "Em que ano foi publicado o artigo que apresentou o Transformer?"}
    )
    assert "2017" in out["answer"]
    assert out["citations"], out
    assert any(s["source"].startswith("corpus/") for s in out["citations"])
    keys = [(s["source"], s["chunk"]) for s in out["sources"]]
    for cited in out["citations"]:  # every cited document really contains the answer
        assert "2017" in out["contexts"][keys.index((cited["source"], cited["chunk"]))]


def test_short_portuguese_summary(llm):
    from promptkit.chains import load_chain

    text = (
        "A geração aumentada por recuperação combina um buscador com um modelo de linguagem. Antes de "
        "responder, o sistema procura trechos relevantes em uma base de documentos e os coloca no prompt. "
        "Assim o modelo responde com informações atualizadas e pode citar as fontes, o que reduz as "
        "alucinações. O custo é manter o índice e escolher bem quantos trechos cabem no contexto."
    )
    out = load_chain("summarize", llm=llm).invoke({"text": text, "max_words": 40})
    assert out["mode"] == "single"
    assert 3 <= out["words"] <= 41
    lowered = f" {out['answer'].lower()} "
    assert any(w in lowered for w in (" de ", " o ", " a ", " e ", " do ", " da "))


def test_moderation_verdict(llm):
    from promptkit.chains import load_chain

    out = load_chain("moderation", llm=llm).invoke(
        {"text": "Sei onde você mora. Amanhã vou te pegar na saída."}
    )
    assert out["flagged"] is True and "violence" in out["categories"]
    assert out["verdicts"]["violence"]["rules"] == "high"
    assert out["llm_parsed"] in (True, False)  # the classifier ran; its opinion is recorded either way
    assert out["model"] == llm.model_id


def test_zero_shot_qa_reads_the_given_context(llm):
    from promptkit.chains import load_chain

    out = load_chain("qa_zero_shot", llm=llm).invoke(
        {
            "question": "Quantas tarefas compõem o MMLU?",
            "context": "O MMLU é um benchmark de múltipla escolha composto por 57 tarefas de áreas variadas.",
        }
    )
    assert "57" in out["answer"]
    assert out["prompt"].startswith("qa_zero_shot@")


def test_few_shot_classification_returns_a_valid_label_and_its_examples(llm, fake_embeddings):
    from promptkit.chains import load_chain

    chain = load_chain("classify_few_shot", llm=llm, embeddings=fake_embeddings)
    out = chain.invoke({"text": "Adorei a aula de hoje, os exemplos foram muito claros e úteis!"})
    assert out["label"] == "positivo", out
    assert out["examples"], out  # the selected demonstration ids are reported
