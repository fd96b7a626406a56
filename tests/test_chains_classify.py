"""Classification chains: the label parser and the few-shot example ids."""

from __future__ import annotations

import pytest

from promptkit.chains import load_chain
from promptkit.chains.classify import LabelParser
from promptkit.testing import FakeChatModel, FakeEmbeddings

LABELS = ["positivo", "negativo", "neutro"]


@pytest.mark.parametrize(
    "text, label, verdict",
    [
        ("positivo", "positivo", "ok"),
        ("Negativo.", "negativo", "ok"),
        ("Sentimento: NEUTRO", "neutro", "ok"),
        ("O sentimento é positivo porque elogia", "positivo", "ok"),
        ("positivo ou negativo", None, "ambiguous"),  # a hedge names no label
        ("positvo", "positivo", "fuzzy"),
        ("não sei", None, "unparseable"),
        ("", None, "unparseable"),
    ],
)
def test_label_parser(text, label, verdict):
    assert LabelParser(labels=LABELS).parse(text) == {"label": label, "verdict": verdict}


def test_zero_shot_classification_batch():
    llm = FakeChatModel(rules=[("Amei", "Positivo"), ("Odiei", "negativo."), ("Hoje", "banana")])
    chain = load_chain("classify_zero_shot", llm=llm)
    outs = chain.batch(["Amei a aula", {"text": "Odiei o áudio"}, "Hoje tem aula?"])
    assert len(llm.calls) == 1
    assert [o["label"] for o in outs] == ["positivo", "negativo", None]
    assert outs[2]["verdict"] == "unparseable" and outs[2]["abstained"] is True and outs[2]["answer"] == ""
    assert outs[0]["labels"] == LABELS and outs[0]["prompt"].startswith("classify_zero_shot@")


def test_few_shot_classification_records_examples_covering_labels():
    from promptkit.prompts import select_examples

    llm = FakeChatModel(default="neutro")
    out = load_chain("classify_few_shot", llm=llm, embeddings=FakeEmbeddings()).invoke("A prova é sexta?")
    assert out["label"] == "neutro" and len(out["examples"]) == 6
    chosen = select_examples(out["prompt"], {"text": "A prova é sexta?"}, embeddings=FakeEmbeddings())
    assert [e["id"] for e in chosen] == out["examples"]
    assert {e["label"] for e in chosen} == set(LABELS)
