"""The moderation chain with the fake model: layers, batching and unreadable classifier output."""

from __future__ import annotations

from promptkit.chains import load_chain
from promptkit.testing import FakeChatModel


def test_combined_chain_reports_per_category_verdicts():
    llm = FakeChatModel(
        rules=[("odeio", '{"categories": ["hate", "harassment"]}')], default='{"categories": ["safe"]}'
    )
    chain = load_chain("moderation", llm=llm, prompt="moderation@1", policy="any")
    outs = chain.batch(["vou te pegar na saida", "odeio gente como você", "bom dia turma", "mata o processo"])
    assert len(llm.calls) == 1
    assert [o["categories"] for o in outs] == [["violence"], ["hate", "harassment"], [], []]
    assert (
        outs[0]["verdicts"]["violence"]["rules"] == "high" and outs[0]["verdicts"]["violence"]["llm"] is False
    )
    assert outs[1]["verdicts"]["hate"] | {} and outs[1]["verdicts"]["hate"]["llm"] is True
    assert outs[2]["answer"] == "safe" and outs[0]["answer"] == "violence"
    assert outs[0]["prompt"].startswith("moderation@") and outs[0]["model"] == "fake-chat"


def test_default_policy_needs_rules_to_confirm_the_llm():
    llm = FakeChatModel(default='{"categories": ["violence"]}')  # an over-eager classifier
    outs = load_chain("moderation", llm=llm, prompt="moderation@1", policy="confirm").batch(
        ["bom dia turma", "esse filme tem muito tiro", "vou te pegar"]
    )
    assert [o["categories"] for o in outs] == [[], ["violence"], ["violence"]]
    assert outs[0]["verdicts"]["violence"] | {} and outs[0]["verdicts"]["violence"]["llm"] is True
    assert outs[0]["policy"] == "confirm"


def test_rules_layer_needs_no_model():
    out = load_chain("moderation", layers="rules").invoke({"text": "manda nudes"})
    assert out["categories"] == ["sexual"] and out["model"] is None


def test_llm_layer_alone_and_unreadable_answers():
    llm = FakeChatModel(rules=[("texto um", "não sei"), ("texto dois", '{"categories": ["illegal"]}')])
    outs = load_chain("moderation", llm=llm, prompt="moderation@1", layers="llm").batch(["texto um", "texto dois"])
    assert outs[0]["llm_parsed"] is False and outs[0]["flagged"] is False
    assert outs[0]["verdicts"]["hate"]["llm"] is None  # no opinion, not "safe"
    assert outs[1]["categories"] == ["illegal"]
