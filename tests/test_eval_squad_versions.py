"""`promptkit squad-eval` and the scoring behind it: SQuAD v1.1 and v2.0 on small datasets with values worked
out by hand, missing predictions, and bad no-answer probability files."""

from __future__ import annotations

import json

import pytest

from promptkit import metrics as M
from promptkit.cli import main
from promptkit.errors import PromptkitError, ValidationError

# Five questions. The expected scores below are computed by hand from the rules of the official scripts.
#   a: two gold answers; "Pitts" shares 1 token with both: F1 = max(2·1·0.2/1.2, 2·1·0.5/1.5) = 2/3
#   b: "em 1943" against "1943": P = 1/2, R = 1 → F1 = 2/3
#   c: unanswerable, predicted "" (an abstention)
#   d: no prediction at all
#   e: the only gold answer "The" normalises to "": v2.0 turns it into the no-answer gold [""] (still a HasAns
#      question, since it has an answer), v1.1 keeps it, and "" then matches exactly but shares no token
GOLDS = {
    "a": ["Warren McCulloch e Walter Pitts", "Walter Pitts"],
    "b": ["1943"],
    "c": [],
    "d": ["The Transformer", "Transformer"],
    "e": ["The"],
}
PREDS = {"a": "Pitts", "b": "em 1943", "c": "", "e": ""}
TWO_THIRDS = 2 / 3


def test_v2_by_hand():
    out = M.squad_v2_eval(GOLDS, PREDS)
    # EM: a 0, b 0, c 1, d 0, e 1; F1: a 2/3, b 2/3, c 1, d 0, e 1
    assert out["total"] == 5 and out["HasAns_total"] == 4 and out["NoAns_total"] == 1
    assert out["exact"] == pytest.approx(100 * 2 / 5)
    assert out["f1"] == pytest.approx(100 * (2 * TWO_THIRDS + 2) / 5)
    assert out["HasAns_exact"] == pytest.approx(100 * 1 / 4)
    assert out["HasAns_f1"] == pytest.approx(100 * (2 * TWO_THIRDS + 1) / 4)
    assert out["NoAns_exact"] == out["NoAns_f1"] == 100.0


def test_v1_by_hand():
    out = M.squad_v1_eval(GOLDS, PREDS)
    # EM: a 0, b 0, c 0 (no gold answer), d 0 (missing), e 1; F1: a 2/3, b 2/3, c 0, d 0, e 0
    assert list(out) == ["exact_match", "f1"]
    assert out["exact_match"] == pytest.approx(100 * 1 / 5)
    assert out["f1"] == pytest.approx(100 * 2 * TWO_THIRDS / 5)
    assert M.squad_eval(GOLDS, PREDS, version="1.1") == out


def test_v1_takes_the_maximum_over_gold_answers_and_no_empty_special_case():
    assert M.score_answer_v1(["Warren McCulloch e Walter Pitts", "Walter Pitts"], "Walter Pitts") == (1, 1.0)
    assert M.score_answer_v1(["1943"], "") == (0, 0)
    assert M.score_answer_v1(["the"], "a") == (1, 0)  # both normalise to "": equal, but no shared token
    assert M.score_answer(["the"], "a") == (1, 1)  # v2.0: both sides empty score 1
    assert M.score_answer_v1([], "") == (0, 0)


def test_v1_exact_match_counts_every_question():
    golds = {"q1": ["x"], "q2": ["y"], "q3": ["z"]}
    assert M.squad_v1_eval(golds, {"q1": "x"}) == {"exact_match": 100 / 3, "f1": 100 / 3}
    assert M.squad_v1_eval(golds, {"q1": "x", "q2": "w", "q3": "w"}) == M.squad_v1_eval(golds, {"q1": "x"})


def test_a_missing_prediction_is_as_wrong_as_a_wrong_one():
    skipping = M.squad_v2_eval(GOLDS, PREDS)
    wrong = M.squad_v2_eval(GOLDS, {**PREDS, "d": "GPT"})
    assert skipping == wrong
    # leaving out the unanswerable question is not an abstention either
    without_c = M.squad_v2_eval(GOLDS, {k: v for k, v in PREDS.items() if k != "c"})
    assert without_c["NoAns_exact"] == 0.0 and without_c["total"] == 5


def test_missing_predictions_with_no_answer_probabilities():
    preds = {k: v for k, v in PREDS.items() if k != "c"}
    na = {"a": 0.1, "b": 0.2, "e": 0.3}  # c and d have no prediction, so they need no probability
    out = M.squad_v2_eval(GOLDS, preds, na_probs=na, na_prob_thresh=0.05)
    # above 0.05 every predicted question abstains; a, b and e have answers (e's only one normalises to "",
    # but the official has-answer test looks at the raw list), so all three are wrong; c and d have none
    assert out["exact"] == 0.0 and out["NoAns_exact"] == 0.0
    # the walk starts with no correct abstention (c has no prediction) and adds a 0, b 0, e 1 (at 0.3)
    assert out["best_exact"] == pytest.approx(100 * 1 / 5) and out["best_exact_thresh"] == 0.3
    # F1: a +2/3 at 0.1, b +2/3 at 0.2, e +1 at 0.3
    assert out["best_f1"] == pytest.approx(100 * (2 * TWO_THIRDS + 1) / 5) and out["best_f1_thresh"] == 0.3


@pytest.mark.parametrize(
    ("na_probs", "message"),
    [
        ({"a": 0.1, "b": 0.2, "c": 0.9}, "no value for question 'e'"),
        ({"a": 0.1, "b": float("nan"), "c": 0.9, "e": 0.2}, "question 'b' has NaN"),
        ({"a": 0.1, "b": float("inf"), "c": 0.9, "e": 0.2}, "question 'b' has Infinity"),
        ({"a": 0.1, "b": 10**400, "c": 0.9, "e": 0.2}, "question 'b' has an integer of 401 digits"),
        ({"a": "0.1", "b": 0.2, "c": 0.9, "e": 0.2}, "question 'a' has the string '0.1'"),
        ({"a": True, "b": 0.2, "c": 0.9, "e": 0.2}, "question 'a' has true"),
    ],
)
def test_bad_no_answer_probabilities_are_refused(na_probs, message):
    with pytest.raises(ValidationError, match=message):
        M.squad_v2_eval(GOLDS, PREDS, na_probs=na_probs)


def test_squad_eval_rejects_unknown_versions_and_v1_probabilities():
    with pytest.raises(PromptkitError, match="unknown SQuAD version '3.0'"):
        M.squad_eval(GOLDS, PREDS, version="3.0")
    with pytest.raises(ValidationError, match="v1.1 has no no-answer"):
        M.squad_eval(GOLDS, PREDS, version="1.1", na_probs={k: 0.0 for k in PREDS})


# -- the command --------------------------------------------------------------------------------------------


def _dataset(tmp_path):
    """GOLDS as a SQuAD file: one paragraph per question whose context holds its answers."""
    paragraphs = []
    for qid, answers in GOLDS.items():
        context = " | ".join(answers) or "Um parágrafo sem a resposta."
        qa = {"id": qid, "question": f"Pergunta {qid}?", "answers": []}
        for text in answers:
            qa["answers"].append({"text": text, "answer_start": context.index(text)})
        if not answers:
            qa["is_impossible"] = True
        paragraphs.append({"context": context, "qas": [qa]})
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"version": "v2.0", "data": [{"title": "t", "paragraphs": paragraphs}]}))
    return path


def _run(tmp_path, capsys, preds, *extra, na: str | None = None):
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps(preds), encoding="utf-8")
    args = ["squad-eval", str(_dataset(tmp_path)), str(pred), *extra]
    if na is not None:
        (tmp_path / "na.json").write_text(na, encoding="utf-8")
        args += ["--na-prob-file", str(tmp_path / "na.json")]
    try:
        code = main(args)
    except SystemExit as exc:  # argparse refuses an option value before the command runs
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_v2_counts_a_missing_prediction_with_one_warning(tmp_path, capsys):
    code, out, err = _run(tmp_path, capsys, PREDS)
    assert code == 0
    assert err.count("\n") == 1 and err.startswith("warning: ")
    assert "no prediction for 1 of 5 questions (each scores 0): d" in err
    assert json.loads(out) == M.squad_v2_eval(GOLDS, PREDS)
    assert json.loads(out)["exact"] == pytest.approx(40.0)


def test_cli_warning_names_only_the_first_ids(tmp_path, capsys):
    code, _, err = _run(tmp_path, capsys, {})
    assert code == 0 and err.count("\n") == 1
    assert "no prediction for 5 of 5 questions (each scores 0): a, b, c, d, e" in err


def test_cli_strict_refuses_missing_predictions(tmp_path, capsys):
    code, out, err = _run(tmp_path, capsys, PREDS, "--strict")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert "no prediction for 1 of 5 questions: d" in err
    code, out, _ = _run(tmp_path, capsys, {**PREDS, "d": ""}, "--strict")
    assert code == 0 and json.loads(out)["total"] == 5


def test_cli_v1(tmp_path, capsys):
    code, out, err = _run(tmp_path, capsys, PREDS, "--version", "1.1")
    assert code == 0
    assert json.loads(out) == {"exact_match": pytest.approx(20.0), "f1": pytest.approx(200 * TWO_THIRDS / 5)}
    lines = err.strip().splitlines()
    assert len(lines) == 2 and "no prediction for 1 of 5" in lines[0]
    assert "v1.1 scores 0 on the 1 of 5 questions without a gold answer" in lines[1]
    assert lines[1].endswith(": c")


def test_cli_v1_refuses_no_answer_options(tmp_path, capsys):
    code, out, err = _run(tmp_path, capsys, PREDS, "--version", "1.1", "--na-prob-thresh", "0.5")
    assert code == 2 and out == "" and "apply to SQuAD 2.0 only" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("na", "message"),
    [
        ('{"a": 0.1, "b": 1' + "0" * 400 + ', "c": 0.9, "e": 0.2}', "'b' has an integer of 401 digits"),
        ('{"a": 0.1, "b": 1' + "0" * 5000 + ', "c": 0.9, "e": 0.2}', "holds an integer of more than"),
        ('{"a": NaN, "b": 0.2, "c": 0.9, "e": 0.2}', "question 'a' has NaN, not a finite number"),
        ('{"a": 0.1, "b": -Infinity, "c": 0.9, "e": 0.2}', "question 'b' has -Infinity"),
        ('{"a": 0.1, "b": "alta", "c": 0.9, "e": 0.2}', "question 'b' has the string 'alta'"),
        ('{"a": 0.1, "b": null, "c": 0.9, "e": 0.2}', "question 'b' has null"),
        ('{"a": 0.1, "b": 0.2, "c": 0.9, "d": 0.5}', "no value for question 'e'"),
        ("[0.1, 0.2]", "is not a no-answer probability file (it holds an array)"),
    ],
)
def test_cli_bad_na_prob_file_is_one_error_line(tmp_path, capsys, na, message):
    code, out, err = _run(tmp_path, capsys, {**PREDS, "d": "x"}, na=na)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err
    assert message in err


def test_cli_na_prob_for_every_predicted_question_only(tmp_path, capsys):
    # d has no prediction: it needs no probability, and scores 0 whatever the threshold
    code, out, _ = _run(tmp_path, capsys, PREDS, "-t", "0.05", na='{"a": 0.1, "b": 0.2, "c": 0.9, "e": 0.3}')
    assert code == 0
    result = json.loads(out)
    assert list(result)[-4:] == ["best_exact", "best_exact_thresh", "best_f1", "best_f1_thresh"]
    # above 0.05 every predicted question abstains: c is right, a, b and e (has answers) wrong, d 0
    assert result["exact"] == pytest.approx(20.0) and result["HasAns_exact"] == 0.0
    assert result["NoAns_exact"] == 100.0


@pytest.mark.parametrize("value", ["nan", "inf", "alto"])
def test_cli_threshold_must_be_a_finite_number(tmp_path, capsys, value):
    code, out, err = _run(tmp_path, capsys, PREDS, "--na-prob-thresh", value)
    assert code == 2 and out == "" and err.count("\n") == 1 and "--na-prob-thresh" in err


def test_cli_non_string_answer_names_the_question(tmp_path, capsys):
    code, _, err = _run(tmp_path, capsys, {**PREDS, "b": 1943})
    assert code == 2 and "the answer to question 'b' is a number" in err and err.count("\n") == 1
