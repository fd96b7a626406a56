"""The regression gate and suite schema: tolerance edge cases, flips, dataset changes, one-line schema errors."""

from __future__ import annotations

import pytest

from promptkit.errors import NotFoundError, ValidationError
from promptkit.evaluation.results import CacheStats, DatasetRef, EvalResult, EvalRow, ModelRef, PromptRef
from promptkit.evaluation.runner import score_rows
from promptkit.regression import assert_no_regression, gate, parse_suite
from promptkit.regression.suite import load_suite


def _result(correct: list[int], *, sha: str = "a" * 64, f1: list[float] | None = None) -> EvalResult:
    rows = []
    for i, ok in enumerate(correct):
        score = f1[i] if f1 else float(ok)
        rows.append(EvalRow(id=f"q{i:02d}", question=f"pergunta {i}?", answers=[f"resposta {i}"],
                            is_impossible=False, prediction=f"resposta {i}" if ok else "outra coisa",
                            raw="", exact=ok, f1=score, exact_pt=ok, f1_pt=score, abstained=False))
    official, pt, ci = score_rows(rows)
    return EvalResult(chain="qa", mode="reading",
                      dataset=DatasetRef(path="x.json", name="x", sha256=sha, split="dev", total=len(rows)),
                      prompt=PromptRef(ref="qa@1", hash="h"), model=ModelRef(id="fake-chat"), metrics=official,
                      metrics_pt=pt, normalizers={}, ci=ci, cache=CacheStats(mode="off"), versions={},
                      timestamp="t", duration_s=0.0, rows=rows)


BASE = _result([1] * 40 + [0] * 10)  # 50 items, EM 80


def test_identical_runs_pass_with_zero_tolerance():
    verdict = gate(BASE, BASE, tolerances={"max_flips": 0, "ci_lower_bound": 0.0})
    assert verdict.ok and verdict.flips == []
    assert all(m.delta == 0 for m in verdict.metrics)


def test_a_drop_of_exactly_max_drop_passes_and_more_fails():
    one_worse = _result([0] + [1] * 39 + [0] * 10)  # -2.0 points
    assert gate(BASE, one_worse, tolerances={"exact": {"max_drop": 2.0}, "f1": {"max_drop": 2.0}}).ok
    verdict = gate(BASE, one_worse, tolerances={"exact": {"max_drop": 1.9}, "f1": {"max_drop": 2.0}})
    assert not verdict.ok
    assert verdict.failures == ["exact fell 2.0 points (80.0 → 78.0), more than the allowed 1.9"]


def test_unlisted_metrics_default_to_no_drop():
    one_worse = _result([0] + [1] * 39 + [0] * 10)
    verdict = gate(BASE, one_worse, metrics=["f1"])
    assert [m.name for m in verdict.metrics] == ["f1"] and not verdict.ok


def test_ci_lower_bound_equal_passes_below_fails():
    worse = _result([0] * 5 + [1] * 35 + [0] * 10)
    verdict = gate(BASE, worse, tolerances={"exact": {"max_drop": 50}, "f1": {"max_drop": 50}})
    low = verdict.metrics[0].ci[0]
    assert low < 0
    assert gate(BASE, worse, tolerances={"exact": {"max_drop": 50}, "f1": {"max_drop": 50},
                                         "ci_lower_bound": low}).ok
    failing = gate(BASE, worse, tolerances={"exact": {"max_drop": 50}, "f1": {"max_drop": 50},
                                            "ci_lower_bound": low + 0.01})
    assert any("lower end of the 95% CI" in f for f in failing.failures)
    # a per-metric bound overrides the suite-wide one
    assert gate(BASE, worse, tolerances={"exact": {"max_drop": 50, "ci_lower_bound": -100},
                                         "f1": {"max_drop": 50, "ci_lower_bound": -100},
                                         "ci_lower_bound": 0}).ok


def test_flips_count_unless_allowed():
    flipped = _result([0, 0] + [1] * 38 + [1] * 2 + [0] * 8)  # two lost, two gained: same EM
    loose = {"exact": {"max_drop": 5}, "f1": {"max_drop": 5}}
    verdict = gate(BASE, flipped, tolerances={**loose, "max_flips": 0})
    assert not verdict.ok and [f.id for f in verdict.flips] == ["q00", "q01"]
    assert "2 item(s) flipped from correct to wrong (allowed 0): q00, q01" in verdict.failures
    assert gate(BASE, flipped, tolerances={**loose, "max_flips": 2}).ok
    allowed = gate(BASE, flipped, tolerances={**loose, "max_flips": 0}, allow_flips=["q00", "q01"])
    assert allowed.ok and [f.id for f in allowed.allowed_flips] == ["q00", "q01"]
    assert gate(BASE, flipped, tolerances=loose).ok  # no flip budget set: flips are only reported


def test_assert_no_regression_lists_flipped_items():
    worse = _result([0, 0, 0] + [1] * 37 + [0] * 10)
    with pytest.raises(AssertionError) as info:
        assert_no_regression(worse, BASE, exact=2.0, f1={"max_drop": 2.0}, max_flips=0)
    message = str(info.value)
    assert "exact fell 6.0 points" in message and "3 item(s) flipped" in message
    for qid in ("q00", "q01", "q02"):
        assert f"{qid}: pergunta" in message
    assert "'resposta 0' → now 'outra coisa'" in message
    assert assert_no_regression(BASE, BASE, max_flips=0).ok


def test_changed_dataset_is_not_reported_as_a_regression():
    moved = _result([1] * 50, sha="b" * 64)
    verdict = gate(BASE, moved)
    assert verdict.dataset_changed and not verdict.ok
    assert verdict.failures[0].startswith("dataset changed:") and "re-record the baseline" in verdict.failures[0]
    with pytest.raises(AssertionError, match="dataset changed"):
        assert_no_regression(moved, BASE)


SUITE = {"entries": [{"id": "a", "chain": "qa_zero_shot", "dataset": "course_qa", "split": "dev",
                      "tolerances": {"f1": {"max_drop": 2.0}, "max_flips": 0}}]}


def test_suite_schema_defaults_and_guarded_metrics():
    suite = parse_suite(SUITE, name="demo")
    entry = suite.entry("a")
    assert suite.name == "demo" and entry.mode is None and entry.effective_mode() == "reading"
    assert entry.metrics is None and entry.resolved_task().name == "squad"
    assert entry.guarded() == ["exact", "f1"] and entry.tolerances.max_flips == 0


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"colour": "red"}, "entries.0.colour: Extra inputs are not permitted"),
        ({"mode": "closed"}, "entries.0.mode: Input should be 'reading' or 'rag'"),
        ({"limit": 0}, "entries.0.limit: Input should be greater than or equal to 1"),
        ({"metrics": ["bleu"]}, "entries.0.metrics: unknown metric 'bleu'"),
        ({"tolerances": {"f1": {"max_drop": -1}}}, "entries.0.tolerances.f1.max_drop"),
        ({"tolerances": {"f1": 2.0}}, "entries.0.tolerances.f1"),
        ({"tolerances": {"max_flip": 0}}, "entries.0.tolerances.max_flip: a metric tolerance is a mapping"),
        ({"tolerances": {"bleu": {"max_drop": 1}}}, "tolerances.bleu: unknown metric 'bleu' of task squad"),
        ({"tolerances": {"f1": {"max_dorp": 1}}}, "tolerances.f1.max_dorp: Extra inputs are not permitted"),
        ({"task": "longform"}, "entries.0.tolerances.f1: unknown metric 'f1' of task longform"),
        ({"task": "longform", "tolerances": {}, "metrics": ["f1"]}, "entries.0.metrics: unknown metric 'f1'"),
        ({"task": "poetry"}, "entries.0.task: unknown evaluation task 'poetry'; available: classification, "
                             "longform, moderation, squad, summaries"),
        ({"task": "longform", "tolerances": {}, "mode": "reading"}, "entries.0.mode: task longform runs in"),
    ],
)
def test_suite_schema_errors_are_one_line(change, expected):
    data = {"entries": [{**SUITE["entries"][0], **change}]}
    with pytest.raises(ValidationError) as info:
        parse_suite(data)
    message = str(info.value)
    assert expected in message and "\n" not in message


def test_duplicate_entry_ids_and_empty_suites_are_refused():
    with pytest.raises(ValidationError, match="entry id 'a' appears twice"):
        parse_suite({"entries": [SUITE["entries"][0], SUITE["entries"][0]]})
    with pytest.raises(ValidationError, match="entries"):
        parse_suite({"entries": []})


def test_unknown_suite_and_entry_names():
    with pytest.raises(NotFoundError, match="unknown suite 'cours'; did you mean 'course'"):
        load_suite("cours")
    with pytest.raises(NotFoundError, match="unknown entry of suite 'course' 'rag'"):
        load_suite("course").entry("rag")
