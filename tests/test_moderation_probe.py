"""The moderation chain read by a linear probe (fake model, features from a stand-in) beside the rules, the
explanation of every verdict, the threshold fitting and the `--explain` flag."""

from __future__ import annotations

import numpy as np
import pytest

from promptkit.chains import load_chain
from promptkit.errors import ValidationError
from promptkit.moderation import CATEGORIES
from promptkit.moderation.fit import best_f1_threshold, fit_moderation_probe, unsafe_threshold
from promptkit.moderation.verdict import combine, explain, probe_categories
from promptkit.probes import LinearProbe, probe_file_name
from promptkit.testing import FakeChatModel

HEADS = ["unsafe", *CATEGORIES]
WORDS = {"faca": "violence", "burro": "harassment", "endereço": "privacy"}


def _features(llm, prompts, **_options):
    """One feature per head: 1 when the text after 'Texto:' holds the head's word."""
    rows = []
    for p in prompts:
        text = p.rsplit("Texto:", 1)[-1].split("\n")[0]
        hits = {c for w, c in WORDS.items() if w in text}
        rows.append([1.0 if hits else 0.0] + [1.0 if c in hits else 0.0 for c in CATEGORIES])
    return np.asarray(rows)


@pytest.fixture
def probed(tmp_path, monkeypatch):
    from promptkit import load_prompt, probes

    prompt = load_prompt("moderation@4")
    probe = LinearProbe(
        heads=HEADS,
        mean=np.zeros(8),
        scale=np.ones(8),
        coef=8 * np.eye(8),
        intercept=-4 * np.ones(8),
        thresholds={h: 0.5 for h in HEADS},
        meta={"prompt_hash": prompt.metadata["hash"], "layer": 3, "pool": "last", "name": "test"},
    )
    probe.save(tmp_path / probe_file_name("moderation@4", "fake-chat"))
    monkeypatch.setattr(probes, "probe_dirs", lambda: [tmp_path])
    monkeypatch.setattr(probes, "hidden_features", _features)
    return probe


def test_probe_decides_flags_and_categories_without_generating(probed):
    llm = FakeChatModel()
    chain = load_chain("moderation", llm=llm, prompt="moderation@4", threshold=None)
    outs = chain.batch(
        ["traz uma faca amanhã", "qual o endereço da Ana?", "bom dia turma", "vou te pegar na saida"]
    )
    assert llm.calls == [] and [o["flagged"] for o in outs] == [True, True, False, True]
    assert outs[0]["categories"] == ["violence"] and outs[0]["decided_by"] == "model"
    assert outs[0]["probabilities"]["unsafe"] > 0.9 and outs[0]["threshold"] == 0.5
    assert outs[1]["categories"] == ["privacy"]
    assert outs[2]["decided_by"] is None and outs[2]["probabilities"]["unsafe"] < 0.5
    # the rules flag the last one with high confidence; the model still runs and its categories are kept
    assert outs[3]["decided_by"] == "rules" and outs[3]["probabilities"] is not None
    assert "violence" in outs[3]["categories"]
    assert outs[0]["explanation"][0].startswith("flagged: violence (decided by model")
    assert any("probe p=" in line for line in outs[0]["explanation"])


def test_chain_threshold_overrides_the_probe_threshold(probed):
    chain = load_chain("moderation", llm=FakeChatModel(), prompt="moderation@4", threshold=0.999)
    assert not chain.invoke("traz uma faca amanhã")["flagged"]
    with pytest.raises(ValidationError, match="not a probability"):
        load_chain("moderation", llm=FakeChatModel(), prompt="moderation@4", threshold=-0.43)


def test_confirm_policy_runs_the_model_on_every_text(probed):
    chain = load_chain(
        "moderation", llm=FakeChatModel(), prompt="moderation@4", policy="confirm", threshold=None
    )
    outs = chain.batch(["traz uma faca amanhã", "vou te pegar na saida"])
    assert outs[1]["probabilities"] is not None
    assert not outs[0]["flagged"]  # the model alone cannot flag under confirm


def test_probe_categories_always_name_one_for_an_unsafe_text():
    unsafe, found = probe_categories(
        {
            "probabilities": {"unsafe": 0.8, "hate": 0.1, "sexual": 0.3},
            "thresholds": {"unsafe": 0.5, "hate": 0.5, "sexual": 0.5},
        }
    )
    assert unsafe and found == ["sexual"]
    result = combine(
        {},
        None,
        policy="any",
        probe={"probabilities": {"unsafe": 0.1, "hate": 0.9}, "thresholds": {"unsafe": 0.5, "hate": 0.5}},
    )
    assert not result["flagged"]  # a category head alone does not flag
    assert explain(result)[0].startswith("safe: no layer flagged")


def test_thresholds_are_chosen_per_language_within_the_target_fpr():
    probs = np.array([0.9, 0.8, 0.3, 0.2, 0.95, 0.7, 0.6, 0.1])
    unsafe = [True, True, False, False, True, False, False, False]
    langs = ["pt"] * 4 + ["en"] * 4
    t = unsafe_threshold(probs, unsafe, langs, 0.0)
    assert 0.7 < t <= 0.71  # no safe English text may pass
    assert best_f1_threshold(np.array([0.9, 0.6, 0.4, 0.2]), [True, True, False, False]) == pytest.approx(0.6)


def test_fit_moderation_probe_reports_cross_validated_figures():
    rng = np.random.default_rng(0)
    rows, feats = [], []
    for i in range(120):
        label = [CATEGORIES[i % 7]] if i % 3 else []
        rows.append({"labels": label, "lang": "pt" if i % 2 else "en"})
        x = rng.normal(size=10)
        if label:
            x[0] += 3
            x[1 + CATEGORIES.index(label[0])] += 3
        feats.append(x)
    probe, figures = fit_moderation_probe(
        np.asarray(feats), rows, extra=[False] * 120, c=1.0, meta={"layer": 1}
    )
    assert probe.heads == HEADS and set(figures["cv"]) == {"pt", "en"}
    assert all(v["fpr"] <= 0.1 for v in figures["cv"].values())
    assert probe.meta["cv"] == figures["cv"]


def test_run_explain_prints_the_deciding_layer(capsys):
    from promptkit.cli import main

    code = main(
        ["run", "moderation", "--set", "layers=rules", "-i", "text=vou te pegar na saida", "--explain"]
    )
    out = capsys.readouterr().out
    assert code == 1 and out.startswith("flagged: violence (decided by rules")
    assert "matches=" in out
