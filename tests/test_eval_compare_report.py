"""compare() deltas and flips, and the self-contained HTML report."""

from __future__ import annotations

import json

import pytest
from langchain_core.runnables import RunnableLambda

from promptkit.errors import ValidationError
from promptkit.evaluation import compare, evaluate, report

CONTEXT = (
    "O Transformer foi apresentado em 2017 no artigo Attention is All You Need, com 8 cabeças de atenção."
)


def _dataset(tmp_path):
    qas = [
        ("t1", "Em que ano?", ["2017"]),
        ("t2", "Qual o artigo?", ["Attention is All You Need"]),
        ("t3", "Quantas cabeças?", ["8"]),
        ("t4", "Quem escreveu <b>?", []),
    ]
    obj = {
        "version": "v2.0",
        "data": [
            {
                "title": "t",
                "paragraphs": [
                    {
                        "context": CONTEXT,
                        "qas": [
                            {
                                "id": qid,
                                "question": q,
                                "is_impossible": not a,
                                "answers": [{"text": x, "answer_start": CONTEXT.find(x)} for x in a],
                            }
                            for qid, q, a in qas
                        ],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "t.json"
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    return path


def _run(dataset, answers: dict[str, str], label: str, out=None):
    by_question = {
        "Em que ano?": "t1",
        "Qual o artigo?": "t2",
        "Quantas cabeças?": "t3",
        "Quem escreveu <b>?": "t4",
    }

    def answer(inputs):
        text = answers[by_question[inputs["question"]]]
        return {
            "answer": text,
            "raw": f"raw: {text}",
            "abstained": False,
            "prompt": label,
            "prompt_hash": "h",
            "model": "fake",
            "sources": [],
            "contexts": [],
            "examples": [],
            "moderation": None,
        }

    return evaluate(chain=RunnableLambda(answer), dataset=dataset, cache="off", show_progress=False, out=out)


@pytest.fixture
def runs(tmp_path):
    ds = _dataset(tmp_path)
    a = _run(
        ds,
        {"t1": "2017", "t2": "Attention is All You Need", "t3": "oito", "t4": "Vaswani"},
        "qa@1",
        tmp_path / "a.json",
    )
    b = _run(
        ds,
        {"t1": "em 2017 <script>", "t2": "Attention", "t3": "8", "t4": "sem resposta"},
        "qa@2",
        tmp_path / "b.json",
    )
    return a, b, tmp_path


def test_compare_deltas_and_flips(runs):
    a, b, _ = runs
    c = compare(a, b)
    assert c.common == 4 and c.same_dataset
    assert {f.id for f in c.correct_to_wrong} == {"t1", "t2"}
    assert {f.id for f in c.wrong_to_correct} == {"t3", "t4"}
    assert c.drops == []  # F1 drops that are also EM flips are listed once, under correct → wrong
    assert c.deltas["exact"]["a"] == 50.0 and c.deltas["exact"]["b"] == 50.0
    assert c.deltas["exact"]["delta"] == 0.0
    assert c.deltas["f1"]["low"] <= c.deltas["f1"]["delta"] <= c.deltas["f1"]["high"]
    assert compare(a, b) == c  # seeded bootstrap
    assert "correct → wrong (EM): 2" in c.summary()


def test_compare_reads_files_and_lists_f1_drops(runs, tmp_path):
    a, _, folder = runs
    ds = _dataset(tmp_path)
    worse = _run(ds, {"t1": "2017", "t2": "Attention is All", "t3": "oito", "t4": "Vaswani"}, "qa@3")
    c = compare(folder / "a.json", worse)
    assert [f.id for f in c.correct_to_wrong] == ["t2"]
    assert c.drops == []
    shorter = _run(ds, {"t1": "2017", "t2": "Attention", "t3": "oito", "t4": "Vaswani"}, "qa@4")
    drop = compare(worse, shorter)
    assert drop.correct_to_wrong == [] and drop.wrong_to_correct == []
    assert [f.id for f in drop.drops] == ["t2"]
    assert drop.drops[0].scores_a["f1"] > drop.drops[0].scores_b["f1"] > 0 and drop.drop_metric == "f1"


def test_compare_needs_common_ids(runs, tmp_path):
    a, _, _ = runs
    other = a.model_copy(update={"rows": [r.model_copy(update={"id": r.id + "x"}) for r in a.rows]})
    with pytest.raises(ValidationError, match="share no question ids"):
        compare(a, other)


def test_report_is_self_contained_and_escaped(runs):
    a, b, folder = runs
    path = report([folder / "a.json", b], folder / "report.html", title="Relatório <teste>")
    html = path.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>")
    assert "<svg" in html and "<style>" in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in html and "<script" not in html and "<link" not in html
    assert "Relatório &lt;teste&gt;" in html
    assert "em 2017 &lt;script&gt;" in html  # model output is escaped
    assert "Quem escreveu &lt;b&gt;?" in html
    for qid in ("t1", "t2", "t3", "t4"):
        assert f"id='flip-{qid}'" in html
    assert "qa@1" in html and "qa@2" in html
    assert "Correct → wrong (EM): 2" in html and "Wrong → correct (EM): 2" in html


def test_report_needs_results(tmp_path):
    with pytest.raises(ValidationError, match="no results"):
        report([], tmp_path / "r.html")


def test_markdown_table_has_one_row_per_run_with_the_scores(runs, capsys):
    from promptkit.cli import main

    a, b, folder = runs
    out = folder / "table.md"
    assert report([a, folder / "b.json"], markdown_out=out) == out
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("| prompt | model | mode |") and set(lines[1]) <= {"|", "-"}
    assert len(lines) == 4 and lines[2].startswith("| qa@1 | fake | reading |")
    for run, line in zip((a, b), lines[2:], strict=True):
        assert f"{run.metrics['exact']:.1f} [" in line and f"{run.metrics['f1']:.1f} [" in line
        assert f"| {run.metrics_pt['f1']:.1f} |" in line
        assert f"{run.cache.hits}/{run.cache.misses}" in line
    assert main(["eval", "report", str(folder / "a.json"), "--markdown", "-"]) == 0
    printed = capsys.readouterr().out
    assert printed.splitlines()[2] == lines[2]
    assert main(["eval", "report", str(folder / "a.json")]) == 2
    assert "nothing to write" in capsys.readouterr().err
    with pytest.raises(ValidationError, match="nothing to write"):
        report([a])
