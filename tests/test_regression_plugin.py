"""The pytest plugin: options, eval/baseline/check fixtures and snapshots, run in a nested pytest session."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

FAKE = '''
import json, shutil
from pathlib import Path
import pytest
from promptkit.testing import FakeChatModel, assert_no_regression

REPO = Path({repo!r})

@pytest.fixture
def project(tmp_path, monkeypatch):
    root = tmp_path / "project"
    shutil.copytree(REPO / "prompts", root / "prompts")
    shutil.copytree(REPO / "chains", root / "chains")
    (root / "eval" / "datasets").mkdir(parents=True)
    (root / "eval" / "suites").mkdir(parents=True)
    qas = [{{"id": "p1", "question": "Quantas tarefas tem o MMLU?", "split": "dev", "is_impossible": False,
            "answers": [{{"text": "57", "answer_start": 11}}]}}]
    data = {{"version": "v2.0", "data": [{{"title": "t", "paragraphs": [
        {{"context": "O MMLU tem 57 tarefas.", "qas": qas}}]}}]}}
    (root / "eval" / "datasets" / "tiny.json").write_text(json.dumps(data), "utf-8")
    (root / "eval" / "suites" / "demo.yaml").write_text(
        "entries:\\n  - id: zero\\n    chain: qa_zero_shot\\n    dataset: tiny\\n    split: dev\\n", "utf-8")
    monkeypatch.setenv("PROMPTKIT_PROJECT", str(root))
    monkeypatch.setenv("PROMPTKIT_HOME", str(tmp_path / "home"))
    return root
'''


@pytest.fixture
def nested(pytester: pytest.Pytester, repo):
    pytester.makeconftest(FAKE.format(repo=str(repo)))
    return pytester


def test_options_are_registered(pytester: pytest.Pytester):
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--promptkit-cache*", "*--promptkit-update-snapshots*"])


def test_eval_baseline_and_assert_no_regression_in_strict_mode(nested: pytest.Pytester):
    nested.makepyfile(
        test_guard='''
        import pytest
        from promptkit.errors import CacheMissError
        from promptkit.regression import record_baseline
        from promptkit.testing import FakeChatModel, assert_no_regression

        def test_guard(project, promptkit_eval, promptkit_baseline, promptkit_check, promptkit_cache_mode):
            assert promptkit_cache_mode == "strict"
            record_baseline("demo", llm=FakeChatModel(default="57"), show_progress=False)
            baseline = promptkit_baseline("demo", "zero")
            assert baseline.result.metrics["exact"] == 100.0
            result = promptkit_eval(baseline=baseline, llm=FakeChatModel(default="wrong"))
            assert result.cache.mode == "strict" and result.cache.misses == 0
            assert_no_regression(result, baseline, max_flips=0)
            report = promptkit_check("demo", llm=FakeChatModel())
            assert report.ok, report.summary()
            with pytest.raises(CacheMissError, match="re-record"):
                promptkit_eval(chain="qa_zero_shot", dataset="tiny", split="dev",
                               llm=FakeChatModel(model="another-model"), replay=baseline.replay_path)

        def test_regression_message(project, promptkit_eval):
            from promptkit.regression import record_baseline
            [baseline] = record_baseline("demo", llm=FakeChatModel(default="57"), show_progress=False)
            result = promptkit_eval(chain="qa_zero_shot", dataset="tiny", split="dev",
                                    llm=FakeChatModel(default="12"), cache="off")
            assert_no_regression(result, baseline)
        '''
    )
    result = nested.runpytest("--promptkit-cache", "strict", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*prompt regression in demo/zero:*", "*exact fell 100.0 points*",
                                 "*p1: Quantas tarefas tem o MMLU?*"])


def test_prompt_and_output_snapshots(nested: pytest.Pytester):
    nested.makepyfile(
        test_snap='''
        def test_prompt(project, prompt_snapshot):
            text = prompt_snapshot("qa_zero_shot@1", {"context": "O MMLU tem 57 tarefas.",
                                                      "question": "Quantas?"})
            assert "O MMLU tem 57 tarefas." in text

        def test_outputs(promptkit_snapshot):
            promptkit_snapshot("answers", {"p1": "57"})
        '''
    )
    missing = nested.runpytest("-p", "no:cacheprovider")
    missing.assert_outcomes(failed=2)
    missing.stdout.fnmatch_lines(["*does not exist; record it with `pytest --promptkit-update-snapshots`*"])
    nested.runpytest("--promptkit-update-snapshots", "-p", "no:cacheprovider").assert_outcomes(passed=2)
    snap = nested.path / "tests" / "snapshots" / "test_snap" / "test_prompt--qa_zero_shot@1.txt"
    assert "Quantas?" in snap.read_text("utf-8")
    out = nested.path / "tests" / "snapshots" / "test_snap" / "test_outputs--answers.txt"
    assert out.read_text("utf-8") == '{\n  "p1": "57"\n}\n'
    nested.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)
    snap.write_text(snap.read_text("utf-8").replace("Quantas?", "Quantos?"), "utf-8")
    changed = nested.runpytest("-p", "no:cacheprovider")
    changed.assert_outcomes(passed=1, failed=1)
    changed.stdout.fnmatch_lines(["*differs:*", "*-*Quantos?*", "*+*Quantas?*", "*--promptkit-update-snapshots*"])
