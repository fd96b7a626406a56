"""Moderation, summaries and sentiment, guarded by the regression plugin on their dev splits.

``eval/suites/kinds.yaml`` was recorded with the real default model (``promptkit eval baseline
eval/suites/kinds.yaml``). Here every model call (the probes' hidden states, the summaries' generations) is
replayed strictly from ``eval/baselines/kinds/replay.sqlite``: no weights are loaded, and any edit to a
guarded prompt, chain, probe input, setting, scorer or dataset fails this test with a message saying what
changed and how to re-record. Rendering the chat template needs the default model's tokenizer, so the
converted model folder must exist (``promptkit models pull``).
"""

from __future__ import annotations

import os

import pytest

from promptkit.regression import assert_no_regression, load_suite

# Captured at import, before the autouse fixture gives each test a private PROMPTKIT_HOME.
REAL_HOME = os.environ.get("PROMPTKIT_HOME")
SUITE = "kinds"
ENTRIES = [e.id for e in load_suite(SUITE).entries]


@pytest.fixture
def tokenizer_home(monkeypatch):
    """The real cache folder (for the converted model's tokenizer), pulling the model once if needed."""
    if REAL_HOME:
        monkeypatch.setenv("PROMPTKIT_HOME", REAL_HOME)
    else:
        monkeypatch.delenv("PROMPTKIT_HOME", raising=False)
    from promptkit.weights import DEFAULT_LLM, pull

    pull(DEFAULT_LLM, progress=False)  # a no-op once converted; weights are not loaded here


def _weights_loaded() -> bool:
    from promptkit.llm.runtime import _BACKENDS

    return bool(_BACKENDS)


def test_kinds_suite_passes_in_strict_replay(tokenizer_home, promptkit_check):
    loaded_before = _weights_loaded()
    report = promptkit_check(SUITE, cache="strict")
    assert report.ok, report.summary()
    assert all(e.result.cache.misses == 0 and e.result.cache.hits > 0 for e in report.entries)
    assert _weights_loaded() == loaded_before  # replay never loads the model's weights


@pytest.mark.parametrize("entry", ENTRIES)
def test_kind_has_not_regressed(entry, tokenizer_home, promptkit_baseline, promptkit_eval):
    baseline = promptkit_baseline(SUITE, entry)
    result = promptkit_eval(baseline=baseline, cache="strict")
    assert result.task == baseline.fingerprint.task and result.prompt.hash == baseline.fingerprint.prompt_hash
    assert result.dataset.split == "dev" and result.dataset.total == baseline.result.dataset.total
    assert_no_regression(result, baseline)
