"""Regression suites for the long-form task: `eval baseline` / `eval check` with tolerances named by the
task's metrics, strict replay, flips, a lower-is-better metric, a neutral one, and an LLM judge recorded with
the baseline."""

from __future__ import annotations

import json

import pytest
from tutor_support import GOOD, WORSE, install_fake_chains, write_dataset

from promptkit.cli import main
from promptkit.errors import NotFoundError, ValidationError
from promptkit.regression import assert_no_regression, gate, load_baseline, load_suite
from promptkit.testing import FakeChatModel

SUITE = """\
entries:
  - id: tutor
    chain: tutor
    dataset: mini_tutor
    split: dev
    metrics: [key_fact_recall, faithfulness, decline_accuracy]
    tolerances:
      key_fact_recall: {max_drop: 0.05}
      false_decline_rate: {max_rise: 0.05}
      answer_words: {max_rise: 20}
      max_flips: 0
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = tmp_path / "project"
    (root / "eval" / "datasets").mkdir(parents=True)
    (root / "eval" / "suites").mkdir(parents=True)
    write_dataset(root / "eval" / "datasets")
    (root / "eval" / "suites" / "tutor.yaml").write_text(SUITE, "utf-8")
    monkeypatch.setenv("PROMPTKIT_PROJECT", str(root))
    monkeypatch.chdir(root)
    return root


def test_suite_entry_validates_metric_names_against_the_task(project):
    entry = load_suite("tutor").entry("tutor")
    assert entry.resolved_task().name == "longform" and entry.effective_mode() == "rag"
    assert entry.guarded() == ["key_fact_recall", "faithfulness", "decline_accuracy", "false_decline_rate",
                               "answer_words"]
    bad = SUITE.replace("false_decline_rate: {max_rise: 0.05}", "exact: {max_drop: 1}")
    (project / "eval" / "suites" / "bad.yaml").write_text(bad, "utf-8")
    with pytest.raises(ValidationError, match="tolerances.exact: unknown metric 'exact' of task longform"):
        load_suite("bad")


def test_baseline_then_strict_check_passes_without_the_model(project, monkeypatch, capsys):
    made = install_fake_chains(monkeypatch)
    assert main(["eval", "baseline", "tutor", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "tutor/tutor: tutor_answer@1 · fake-tutor · mini_tutor dev (5 questions)" in out
    assert "key_fact_recall 1.000 faithfulness 1.000 citation_precision 1.000 decline_accuracy 1.000" in out
    baseline = load_baseline("tutor", "tutor")
    assert baseline.result.task == "longform" and baseline.fingerprint.task == "longform"
    assert baseline.fingerprint.mode == "rag" and len(baseline.replay.keys) == 5
    made.clear()
    assert main(["eval", "check", "tutor", "--cache", "strict", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "cache strict: 5 replayed, 0 generated" in out
    assert "key_fact_recall        1.000  1.000  +0.000" in out
    assert "false_decline_rate     0.000  0.000  +0.000" in out and "rise ≤ 0.05" in out
    assert "answer_words" in out and "rise ≤ 20" in out
    assert all(not m.calls for m in made)


def test_worse_tutor_is_a_regression_with_its_flips(project, monkeypatch, capsys):
    install_fake_chains(monkeypatch)
    assert main(["eval", "baseline", "tutor", "--quiet"]) == 0
    install_fake_chains(monkeypatch, WORSE)
    capsys.readouterr()
    # the same prompt and model: `use` replays the baseline's answers and nothing regresses
    assert main(["eval", "check", "tutor", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["eval", "check", "tutor", "--cache", "refresh", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "REGRESSION" in out
    # the dev split has three questions in scope
    assert "key_fact_recall fell 0.667 (1.000 → 0.333), more than the allowed 0.05" in out
    assert "false_decline_rate rose 0.333 (0.000 → 0.333), more than the allowed 0.05" in out
    assert "decline_accuracy fell 0.500 (1.000 → 0.500), more than the allowed 0" in out
    assert "3 item(s) flipped from correct to wrong (allowed 0): q1, q3, q5" in out
    assert "q5: Qual é o preço da mensalidade do curso?" in out


def test_strict_check_of_a_changed_prompt_is_a_cache_miss(project, monkeypatch, capsys):
    install_fake_chains(monkeypatch)
    assert main(["eval", "baseline", "tutor", "--quiet"]) == 0
    suite = project / "eval" / "suites" / "tutor.yaml"
    suite.write_text(SUITE.replace("chain: tutor", "chain: tutor\n    prompt: tutor_answer@2"), "utf-8")
    capsys.readouterr()
    assert main(["eval", "check", "tutor", "--cache", "strict", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: strict replay of tutor/tutor: model calls are missing")


def test_gate_directions_and_the_assertion(project, monkeypatch, tmp_path):
    from tutor_support import FakeTutor, make_llm

    from promptkit.evaluation import evaluate

    dataset = project / "eval" / "datasets" / "mini_tutor.jsonl"
    good = evaluate(chain=FakeTutor(make_llm(GOOD)), dataset=dataset, cache="off", show_progress=False)
    longer = {**GOOD, "Quantas tarefas": GOOD["Quantas tarefas"] + " Isso é o que o trecho diz [1]." * 6}
    wordy = evaluate(chain=FakeTutor(make_llm(longer)), dataset=dataset, cache="off", show_progress=False)
    # a neutral metric is bounded only when a tolerance names it
    assert gate(good, wordy, metrics=["answer_words"]).ok
    verdict = gate(good, wordy, metrics=["answer_words"], tolerances={"answer_words": {"max_rise": 5}})
    assert verdict.failures == ["answer_words rose 10.5 (12.5 → 23.0), more than the allowed 5"]
    # a lower-is-better metric may not rise by default, and may fall freely
    worse = evaluate(chain=FakeTutor(make_llm(WORSE)), dataset=dataset, cache="off", show_progress=False)
    assert not gate(good, worse, metrics=["false_decline_rate"]).ok
    assert gate(worse, good, metrics=["false_decline_rate"]).ok
    # the CI bound reads the improvement for it
    failing = gate(good, worse, metrics=["false_decline_rate"],
                   tolerances={"false_decline_rate": {"max_rise": 1.0}, "ci_lower_bound": -0.1})
    assert any("CI of the improvement (baseline - now)" in f for f in failing.failures)
    with pytest.raises(AssertionError, match="key_fact_recall fell 0.500"):
        assert_no_regression(worse, good, key_fact_recall=0.1)
    assert assert_no_regression(good, good, max_flips=0).ok
    with pytest.raises(NotFoundError, match="unknown longform metric 'exact'"):
        gate(good, worse, metrics=["exact"])


def test_judge_verdicts_are_recorded_and_replayed(project, monkeypatch, capsys):
    install_fake_chains(monkeypatch)
    judges: list[FakeChatModel] = []

    def fake_load_llm(name=None, **settings):
        model = FakeChatModel(model=name, default="Yes")
        model.cache = settings.get("cache")
        judges.append(model)
        return model

    import promptkit.llm

    monkeypatch.setattr(promptkit.llm, "load_llm", fake_load_llm)
    suite = project / "eval" / "suites" / "tutor.yaml"
    suite.write_text(SUITE.replace("split: dev", "split: dev\n    judge: fake-judge"), "utf-8")
    assert main(["eval", "baseline", "tutor", "--quiet"]) == 0
    baseline = load_baseline("tutor", "tutor")
    assert baseline.fingerprint.judge == "fake-judge" and baseline.result.judge.id == "fake-judge"
    metrics = baseline.result.metrics
    assert metrics["judge_faithful"] == 1.0 and metrics["judge_answers"] == 1.0
    assert len(baseline.replay.keys) == 5 + 3 * 2 * 4  # 5 answers; 3 answered rows x 2 criteria x 4 spellings
    judges.clear()
    capsys.readouterr()
    assert main(["eval", "check", "tutor", "--cache", "strict", "--quiet"]) == 0
    assert "PASS" in capsys.readouterr().out
    data = json.loads((project / "eval/baselines/tutor/tutor.json").read_text("utf-8"))
    assert data["result"]["rows"][0]["details"]["judge"]["faithful"]["via"] == "logprob"


def test_pytest_fixtures_run_the_long_form_task(project, monkeypatch, promptkit_eval, promptkit_baseline):
    install_fake_chains(monkeypatch)
    assert main(["eval", "baseline", "tutor", "--quiet"]) == 0
    baseline = promptkit_baseline("tutor", "tutor")
    result = promptkit_eval(baseline=baseline, cache="strict")
    assert result.task == "longform" and result.cache.misses == 0
    assert_no_regression(result, baseline)
    fresh = promptkit_eval(chain="tutor", dataset="mini_tutor", split="test", cache="off")
    assert fresh.mode == "rag" and [r.id for r in fresh.rows] == ["q4"]
