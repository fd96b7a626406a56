"""Moderation, summaries and sentiment, guarded by the regression plugin on their dev splits.

``eval/suites/kinds.yaml`` was recorded with the real default model (``promptkit eval baseline
eval/suites/kinds.yaml``). Here every model call (the probes' hidden states, the summaries' generations) is
replayed strictly from ``eval/baselines/kinds/replay.sqlite``: no weights are loaded, and any edit to a
guarded prompt, chain, probe input, setting, scorer or dataset fails this test with a message saying what
changed and how to re-record. Rendering the chat template needs the default model's tokenizer, so the
converted model folder must exist (``promptkit models pull``).
"""

from __future__ import annotations

import pytest

from promptkit.regression import assert_no_regression, load_suite

SUITE = "kinds"
ENTRIES = [e.id for e in load_suite(SUITE).entries]


def test_kinds_suite_passes_in_strict_replay(tokenizer_home, weights_loaded, promptkit_check):
    loaded_before = weights_loaded()
    report = promptkit_check(SUITE, cache="strict")
    assert report.ok, report.summary()
    assert all(e.result.cache.misses == 0 and e.result.cache.hits > 0 for e in report.entries)
    assert weights_loaded() == loaded_before  # replay never loads the model's weights


@pytest.mark.parametrize("entry", ENTRIES)
def test_kind_has_not_regressed(entry, tokenizer_home, promptkit_baseline, promptkit_eval):
    baseline = promptkit_baseline(SUITE, entry)
    result = promptkit_eval(baseline=baseline, cache="strict")
    assert result.task == baseline.fingerprint.task and result.prompt.hash == baseline.fingerprint.prompt_hash
    assert result.dataset.split == "dev" and result.dataset.total == baseline.result.dataset.total
    assert_no_regression(result, baseline)
