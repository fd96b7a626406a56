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


def test_probe_chooses_the_label_without_generating(tmp_path, monkeypatch):
    import numpy as np

    from promptkit import load_prompt, probes
    from promptkit.probes import LinearProbe, probe_file_name

    prompt = load_prompt("classify_zero_shot@2")
    words = {"ótima": 0, "horrível": 1, "quinta": 2}

    def features(llm, prompts, **_options):
        rows = []
        for p in prompts:
            text = p.rsplit("Texto:", 1)[-1]
            rows.append([1.0 if w in text else 0.0 for w in words])
        return np.asarray(rows)

    probe = LinearProbe(heads=["positivo", "negativo", "neutro"], mean=np.zeros(3), scale=np.ones(3),
                        coef=6 * np.eye(3), intercept=-3 * np.ones(3),
                        meta={"prompt_hash": prompt.metadata["hash"], "layer": 2, "pool": "last"})
    probe.save(tmp_path / probe_file_name("classify_zero_shot@2", "fake-chat"))
    monkeypatch.setattr(probes, "probe_dirs", lambda: [tmp_path])
    monkeypatch.setattr(probes, "hidden_features", features)
    llm = FakeChatModel(default="positivo")
    outs = load_chain("classify_zero_shot", llm=llm, prompt="classify_zero_shot@2").batch(
        ["aula ótima", "áudio horrível", "a aula de quinta é às 19h"]
    )
    assert llm.calls == [] and [o["label"] for o in outs] == ["positivo", "negativo", "neutro"]
    assert outs[2]["verdict"] == "probe" and outs[2]["probabilities"]["neutro"] > 0.5
