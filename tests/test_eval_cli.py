"""`promptkit squad-eval` and `promptkit eval run|compare|report`."""

from __future__ import annotations

import json
import sys
import types

import pytest

from promptkit.cli import main

OFFICIAL_KEYS = [
    "exact",
    "f1",
    "total",
    "HasAns_exact",
    "HasAns_f1",
    "HasAns_total",
    "NoAns_exact",
    "NoAns_f1",
    "NoAns_total",
]
BEST_KEYS = ["best_exact", "best_exact_thresh", "best_f1", "best_f1_thresh"]


def _predictions(repo, tmp_path, abstain="unanswerable"):
    data = json.loads((repo / "eval" / "datasets" / "english_qa.json").read_text(encoding="utf-8"))
    preds = {
        qa["id"]: (qa["answers"][0]["text"] if qa["answers"] else abstain)
        for article in data["data"]
        for p in article["paragraphs"]
        for qa in p["qas"]
    }
    path = tmp_path / "pred.json"
    path.write_text(json.dumps(preds), encoding="utf-8")
    return path, preds


def test_squad_eval_prints_the_official_keys(repo, tmp_path, capsys):
    pred, _ = _predictions(repo, tmp_path)
    assert main(["squad-eval", str(repo / "eval/datasets/english_qa.json"), str(pred)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == OFFICIAL_KEYS
    assert out["HasAns_exact"] == 100.0 and out["NoAns_exact"] == 0.0  # words are not abstentions here


def test_squad_eval_with_na_probs_and_abstention_mapping(repo, tmp_path, capsys):
    pred, preds = _predictions(repo, tmp_path)
    na = tmp_path / "na.json"
    na.write_text(json.dumps({k: 0.25 for k in preds}), encoding="utf-8")
    out_file = tmp_path / "eval.json"
    code = main(
        [
            "squad-eval",
            str(repo / "eval/datasets/english_qa.json"),
            str(pred),
            "--na-prob-file",
            str(na),
            "--na-prob-thresh",
            "0.5",
            "--out-file",
            str(out_file),
            "--map-abstentions",
        ]
    )
    assert code == 0 and capsys.readouterr().out == ""
    out = json.loads(out_file.read_text(encoding="utf-8"))
    assert list(out) == OFFICIAL_KEYS + BEST_KEYS
    assert out["exact"] == 100.0 and out["best_f1"] == 100.0


def test_squad_eval_counts_missing_predictions_as_wrong(repo, tmp_path, capsys):
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps({"en-q01": "2017"}), encoding="utf-8")
    assert main(["squad-eval", str(repo / "eval/datasets/english_qa.json"), str(pred)]) == 0
    captured = capsys.readouterr()
    warning = captured.err.strip().splitlines()
    assert len(warning) == 1 and warning[0].startswith("warning: ")
    assert "no prediction for 27 of 28 questions" in warning[0] and "en-q02" in warning[0]
    out = json.loads(captured.out)
    assert out["total"] == 28 and out["exact"] == pytest.approx(100.0 / 28)  # en-q01 is right


def test_squad_eval_bad_input_is_one_line_error(repo, tmp_path, capsys):
    pred = tmp_path / "pred.json"
    pred.write_text("[1, 2]", encoding="utf-8")
    assert main(["squad-eval", str(repo / "eval/datasets/english_qa.json"), str(pred)]) == 2
    assert "is not a predictions file" in capsys.readouterr().err


@pytest.fixture
def fake_chains(monkeypatch):
    """A stand-in `promptkit.chains` whose chain answers every question with the context's first word."""
    from langchain_core.runnables import RunnableLambda

    def load_chain(name, *, llm=None, prompt=None, index=None, cache=None, **kwargs):
        def answer(x):
            text = (x["context"] or "sem resposta").split()[0]
            return {
                "answer": text,
                "raw": text,
                "abstained": False,
                "prompt": prompt or f"{name}@1",
                "prompt_hash": "0" * 64,
                "model": "fake",
                "sources": [],
                "contexts": [],
                "examples": [],
                "moderation": None,
            }

        return RunnableLambda(answer)

    module = types.ModuleType("promptkit.chains")
    module.load_chain = load_chain
    monkeypatch.setitem(sys.modules, "promptkit.chains", module)


def test_eval_run_compare_report(fake_chains, tmp_path, capsys):
    a, b, html = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "r.html"
    common = ["eval", "run", "--chain", "qa", "--dataset", "english_qa", "--split", "dev", "--quiet"]
    assert main([*common, "--out", str(a)]) == 0
    out = capsys.readouterr().out
    assert "EM" in out and "squad-v2.0" in out and "pt-v1" in out
    assert main([*common, "--prompt", "other@2", "--limit", "3", "--json", "--out", str(b)]) == 0
    assert list(json.loads(capsys.readouterr().out)) == ["metrics", "metrics_pt"]
    saved = json.loads(b.read_text(encoding="utf-8"))
    assert saved["prompt"]["ref"] == "other@2" and saved["dataset"]["total"] == 3
    assert main(["eval", "compare", str(a), str(b)]) == 0
    assert "3 common questions" in capsys.readouterr().out
    assert main(["eval", "compare", str(a), str(b), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["common"] == 3
    assert main(["eval", "report", str(a), str(b), "--html", str(html)]) == 0
    assert "other@2" in html.read_text(encoding="utf-8")


def test_eval_run_errors_are_one_line(fake_chains, capsys):
    assert main(["eval", "run", "--chain", "qa", "--dataset", "no_such_set", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown dataset 'no_such_set'") and err.count("\n") == 1
    assert (
        main(["eval", "run", "--chain", "qa", "--dataset", "english_qa", "--split", "train", "--quiet"]) == 2
    )
    assert "available splits: dev, test" in capsys.readouterr().err
    assert (
        main(["eval", "run", "--chain", "qa", "--dataset", "english_qa", "--cache", "strict", "--quiet"]) == 0
    )


def test_eval_report_rejects_a_non_results_file(tmp_path, capsys):
    bad = tmp_path / "x.json"
    bad.write_text("{}", encoding="utf-8")
    assert main(["eval", "report", str(bad), "--html", str(tmp_path / "r.html")]) == 2
    assert "not a promptkit results file" in capsys.readouterr().err
