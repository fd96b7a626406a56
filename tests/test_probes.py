"""Linear probes: hidden states of a small random model, the JSON file with its hash, fitting and lookup."""

from __future__ import annotations

import json

import numpy as np
import pytest

from promptkit.errors import IntegrityError, ValidationError
from promptkit.probes import (
    LinearProbe,
    find_probe,
    fit_label_probe,
    fit_probe,
    hidden_features,
    layer_states,
    oof_probabilities,
    probe_file_name,
    prompt_span,
)


@pytest.fixture
def tiny_llm(tiny_model):
    from tiny_qwen_support import tiny_chat_model

    return tiny_chat_model(tiny_model)


def _prompt(text: str) -> str:
    return "w5 w6 w7 w8 w9 w10 w11 w12 w13 w14 w15 w16 " + text + " w3 w4"


def test_prefix_reuse_gives_the_states_of_one_full_pass(tiny_llm, tiny_model):
    import torch

    texts = ["w20 w21 w22", "w30 w31", "w40 w41 w42 w43 w44"]
    for text in texts:
        prompt = _prompt(text)
        states = layer_states(tiny_llm, prompt, [1, 2], prompt_span(prompt, text))
        ids = tiny_llm.backend.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            full = tiny_model.model(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states
        last, mean = states[1]
        assert np.allclose(last, full[1][0, -1].numpy(), atol=1e-5)
        span = [i for i, t in enumerate(prompt.split()) if t in text.split()]
        assert np.allclose(mean, full[1][0, span].mean(0).numpy(), atol=1e-5)


def test_hidden_features_are_cached_and_replayed(tiny_llm, tmp_path):
    from promptkit.cache import ReplayCache

    prompts = [_prompt("w20 w21"), _prompt("w22")]
    cache = ReplayCache(tmp_path / "replay.sqlite")
    llm = tiny_llm.model_copy(update={"cache": cache})
    llm.attach(tiny_llm.backend)
    first = hidden_features(llm, prompts, layer=2)
    assert first.shape == (2, 32) and cache.misses == 2
    again = hidden_features(llm, prompts, layer=2)
    assert np.array_equal(first, again) and cache.hits == 2
    strict = llm.model_copy(update={"cache": ReplayCache(tmp_path / "replay.sqlite", mode="strict")})
    strict.attach(tiny_llm.backend)
    assert np.array_equal(hidden_features(strict, prompts, layer=2), first)
    with pytest.raises(Exception, match="strict replay"):
        hidden_features(strict, [_prompt("w50")], layer=2)
    with pytest.raises(ValidationError, match="decoder layers"):
        hidden_features(tiny_llm, prompts, layer=9)


def _toy(n: int = 80, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = rng.normal(size=(n, 6))
    x[:, 0] += 3 * y
    return x, y


def test_fit_probe_separates_a_toy_problem_and_round_trips_through_json(tmp_path):
    x, y = _toy()
    probe = fit_probe(x, {"unsafe": y}, c=1.0, thresholds={"unsafe": 0.5}, meta={"layer": 1})
    probs = probe.probabilities(x)[:, 0]
    assert ((probs >= 0.5) == y.astype(bool)).mean() > 0.9
    path = probe.save(tmp_path / "p.json")
    loaded = LinearProbe.load(path)
    assert np.allclose(loaded.probabilities(x), probe.probabilities(x)) and loaded.thresholds == {
        "unsafe": 0.5
    }
    assert "pickle" not in path.read_text()  # plain JSON numbers


def test_a_tampered_probe_is_refused(tmp_path):
    x, y = _toy()
    path = fit_probe(x, {"unsafe": y}).save(tmp_path / "p.json")
    data = json.loads(path.read_text())
    data["coef"][0][0] += 1.0
    path.write_text(json.dumps(data))
    with pytest.raises(IntegrityError, match="sha256"):
        LinearProbe.load(path)
    path.write_text('{"format": "other"}')
    with pytest.raises(ValidationError, match="not a promptkit linear probe"):
        LinearProbe.load(path)


def test_probe_refuses_features_of_another_size():
    x, y = _toy()
    with pytest.raises(ValidationError, match="expects 6 features"):
        fit_probe(x, {"unsafe": y}).probabilities(np.zeros((1, 5)))


def test_out_of_fold_probabilities_skip_extra_rows():
    x, y = _toy(100)
    extra = [i >= 80 for i in range(100)]
    oof = oof_probabilities(x, {"unsafe": y}, strata=[str(v) for v in y], fit_only=extra)
    assert np.isnan(oof["unsafe"][80:]).all() and not np.isnan(oof["unsafe"][:80]).any()


def test_label_probe_reports_cross_validated_figures():
    rng = np.random.default_rng(1)
    gold = ["a", "b", "c"] * 30
    x = rng.normal(size=(90, 5))
    for i, g in enumerate(gold):
        x[i, "abc".index(g)] += 4
    probe, cv = fit_label_probe(x, gold, ["a", "b", "c"], extra=[False] * 90, c=1.0, meta={})
    assert probe.heads == ["a", "b", "c"] and cv["accuracy"] > 0.9 and cv["macro_f1"] > 0.9


def test_find_probe_checks_the_prompt_hash(tmp_path, monkeypatch):
    from promptkit import load_prompt, probes

    prompt = load_prompt("moderation@4")
    monkeypatch.setattr(probes, "probe_dirs", lambda: [tmp_path])
    assert find_probe(prompt, "fake-chat") is None
    x, y = _toy()
    name = probe_file_name("moderation@4", "fake-chat")
    fit_probe(x, {"unsafe": y}, meta={"prompt_hash": "0" * 64}).save(tmp_path / name)
    with pytest.raises(IntegrityError, match="another text"):
        find_probe(prompt, "fake-chat")
    fit_probe(x, {"unsafe": y}, meta={"prompt_hash": prompt.metadata["hash"]}).save(tmp_path / name)
    assert find_probe(prompt, "fake-chat") is not None
    assert probe_file_name("p@1", "org/model x") == "p@1--org_model_x.json"


def test_probe_passes_run_on_one_thread_and_restore_the_setting(tiny_llm):
    import torch

    from promptkit import probes

    seen = []
    original = probes.layer_states

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(*args, **kwargs)

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        probes.layer_states = spy
        hidden_features(tiny_llm, [_prompt("w33")], layer=1)
    finally:
        probes.layer_states = original
        after = torch.get_num_threads()
        torch.set_num_threads(before)
    assert seen == [1] and after == 2
