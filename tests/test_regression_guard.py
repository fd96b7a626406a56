"""The project's own prompts, guarded by the regression plugin.

``eval/suites/course.yaml`` was recorded with the real default model (``promptkit eval baseline
eval/suites/course.yaml``). Here every model call is replayed strictly from ``eval/baselines/course/replay.sqlite``:
no weights are loaded, and any edit to a guarded prompt, chain, setting or the dataset fails this test with a
message saying what changed and how to re-record. Rendering the chat template needs the default model's
tokenizer, so the converted model folder must exist (``promptkit models pull``).
"""

from __future__ import annotations

import pytest

from promptkit.regression import assert_no_regression, load_suite

SUITE = "course"
ENTRIES = [e.id for e in load_suite(SUITE).entries]


def test_course_suite_passes_in_strict_replay(tokenizer_home, weights_loaded, promptkit_check):
    loaded_before = weights_loaded()
    report = promptkit_check(SUITE, cache="strict")
    assert report.ok, report.summary()
    assert all(e.result.cache.misses == 0 for e in report.entries)
    assert weights_loaded() == loaded_before  # replay never loads the model's weights


@pytest.mark.parametrize("entry", ENTRIES)
def test_course_prompt_has_not_regressed(entry, tokenizer_home, promptkit_baseline, promptkit_eval):
    baseline = promptkit_baseline(SUITE, entry)
    result = promptkit_eval(baseline=baseline, cache="strict")
    assert result.prompt.hash == baseline.fingerprint.prompt_hash
    assert_no_regression(result, baseline)


@pytest.mark.parametrize("ref", ["rag_qa@production", "qa_zero_shot"])
def test_guarded_prompt_text_matches_its_snapshot(ref, prompt_snapshot):
    """The exact text of each guarded prompt (re-record with `pytest --promptkit-update-snapshots`)."""
    text = prompt_snapshot(ref, {"context": "{trecho do curso}", "question": "{pergunta do aluno}"})
    assert "{pergunta do aluno}" in text
