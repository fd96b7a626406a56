"""evaluate() on the long-form task with a fake tutor: scores, breakdowns, results schema v2, replay cache,
task inference, dataset errors, compare, report and the CLI."""

from __future__ import annotations

import json

import pytest
from tutor_support import GOOD, ITEMS, WORSE, FakeTutor, install_fake_chains, make_llm, write_dataset

from promptkit.cli import main
from promptkit.errors import CacheMissError, NotFoundError, ValidationError
from promptkit.evaluation import TaskResult, compare, evaluate, format_summary, load_result, report
from promptkit.evaluation.tasks import get_task, infer_task, task_names


@pytest.fixture
def dataset(tmp_path):
    return write_dataset(tmp_path)


def run(dataset, answers=GOOD, **kwargs):
    kwargs.setdefault("cache", "off")
    return evaluate(chain=FakeTutor(make_llm(answers)), dataset=dataset, show_progress=False, **kwargs)


def test_tasks_are_found_and_the_dataset_kind_is_inferred(dataset, repo):
    assert {"squad", "longform"} <= set(task_names())
    assert infer_task(dataset).name == "longform"
    assert infer_task("tutor_questions").name == "longform"
    assert infer_task("course_qa").name == "squad"
    tutor = get_task("longform").load("tutor_questions")
    assert len(tutor) == 177 and tutor.splits() == ["dev", "test"] and len(tutor.items("dev")) == 88
    assert sum(not i.in_scope for i in tutor) == 37


def test_a_good_tutor_scores_full_marks(dataset, tmp_path):
    out = tmp_path / "runs" / "good.json"
    result = run(dataset, out=out)
    assert isinstance(result, TaskResult) and result.task == "longform" and result.mode == "rag"
    m = result.metrics
    assert m["n"] == 6 and m["in_scope"] == 4 and m["out_of_scope"] == 2 and m["declined"] == 2
    for name in ("accuracy", "key_fact_recall", "faithfulness", "citation_precision", "citation_recall",
                 "context_recall", "decline_accuracy"):
        assert m[name] == 1.0, name
    assert m["false_decline_rate"] == 0.0
    assert m["judge_faithful"] is None  # no judge was asked
    assert m["answer_words"] == pytest.approx((8 + 22 + 9 + 11) / 4)
    assert result.ci["key_fact_recall"]["n"] == 4 and result.ci["decline_accuracy"]["n"] == 2
    assert set(result.groups) == {"type", "lang"}
    assert result.groups["type"]["fact"]["n"] == 3 and result.groups["lang"]["en"]["n"] == 2
    assert result.prompt.ref == "tutor_answer@1" and result.model.id == "fake-tutor"
    row = result.row_map()["q2"]
    assert row.groups == {"type": "explanation", "lang": "pt"} and row.correct is True
    assert row.gold["key_facts"] == ["aleatória", "próximo token"] and row.split == "dev"
    assert [f["found"] for f in row.details["facts"]] == [True, True]
    assert row.output["citations"][0]["source"] == "10-saida-do-llm-e-temperatura.md"
    saved = json.loads(out.read_text("utf-8"))
    assert saved["schema"] == "promptkit.eval/v2" and saved["task"] == "longform"
    assert load_result(out) == result and TaskResult.load(out) == result


def test_a_worse_tutor_loses_where_it_should(dataset):
    result = run(dataset, WORSE)
    rows = result.row_map()
    # a wrong number: the fact is missing and the sentence is unsupported
    assert rows["q1"].scores["key_fact_recall"] == 0.0 and rows["q1"].scores["faithfulness"] == 0.0
    assert rows["q1"].details["sentences"][0]["supported"] is False
    # one supported and one uncited sentence
    assert rows["q2"].scores["faithfulness"] == 0.5 and rows["q2"].scores["key_fact_recall"] == 1.0
    # a false decline: in scope, declined
    assert rows["q3"].scores["false_decline_rate"] == 1.0 and rows["q3"].scores["key_fact_recall"] == 0.0
    assert rows["q3"].scores["faithfulness"] is None and rows["q3"].correct is False
    # out of scope and answered anyway, citing a chunk that does not say it
    assert rows["q5"].scores["decline_accuracy"] == 0.0 and rows["q5"].scores["citation_precision"] == 0.0
    assert rows["q5"].scores["key_fact_recall"] is None and rows["q5"].correct is False
    assert result.metrics["accuracy"] == 0.5 and result.metrics["false_decline_rate"] == 0.25
    assert result.metrics["decline_accuracy"] == 0.5
    assert result.groups["lang"]["en"]["key_fact_recall"] == 0.0


def test_split_limit_and_strict_replay(dataset):
    first = run(dataset, split="dev", limit=3, cache="use")
    assert [r.id for r in first.rows] == ["q1", "q2", "q3"] and first.dataset.split == "dev"
    llm = make_llm(GOOD)
    again = evaluate(chain=FakeTutor(llm), dataset=dataset, split="dev", limit=3, cache="strict",
                     show_progress=False)
    assert llm.calls == [] and again.cache.hits == 3 and again.cache.misses == 0
    assert again.metrics == first.metrics
    with pytest.raises(CacheMissError, match="strict replay"):
        evaluate(chain=FakeTutor(make_llm(GOOD)), dataset=dataset, split="test", cache="strict",
                 show_progress=False)


def test_bad_arguments_and_datasets_are_one_line_errors(dataset, tmp_path):
    with pytest.raises(ValidationError, match="mode 'reading' for task longform; expected one of: rag"):
        run(dataset, mode="reading")
    with pytest.raises(ValidationError, match="na_prob_thresh: not an option of task 'longform'"):
        run(dataset, na_prob_thresh=0.5)
    with pytest.raises(NotFoundError, match="no item in split 'train'; available splits: dev, test"):
        run(dataset, split="train")
    with pytest.raises(NotFoundError, match="unknown evaluation task 'tutor'"):
        run(dataset, task="tutor")
    bad = [dict(ITEMS[0]), {**ITEMS[1], "key_facts": "aleatória"}]
    with pytest.raises(ValidationError) as info:
        run(write_dataset(tmp_path, bad, "bad.jsonl"), task="longform")
    assert "bad.jsonl, line 2 (id 'q2'): key_facts: Input should be a valid list" in str(info.value)
    half = [{**ITEMS[0], "gold_sources": []}]
    with pytest.raises(ValidationError, match="line 1 .*needs both key_facts and gold_sources"):
        run(write_dataset(tmp_path, half, "half.jsonl"), task="longform")
    typo = [{**ITEMS[0], "refrence": "x"}]
    with pytest.raises(ValidationError, match="cannot tell which evaluation task reads .*typo.jsonl"):
        run(write_dataset(tmp_path, [{k: v for k, v in typo[0].items() if k != "reference"}], "typo.jsonl"))
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(ITEMS[0]) + "\n{\"id\": \"q2\", \n", encoding="utf-8")
    with pytest.raises(ValidationError, match="broken.jsonl, line 2: not valid JSON"):
        run(broken, task="longform")
    dup = write_dataset(tmp_path, [ITEMS[0], ITEMS[0]], "dup.jsonl")
    with pytest.raises(ValidationError, match="line 2: duplicate id 'q1' \\(first on line 1\\)"):
        run(dup)
    declared = write_dataset(tmp_path, [{**i, "task": "squad"} for i in ITEMS], "declared.jsonl")
    with pytest.raises(ValidationError, match="declares task 'squad', not 'longform'"):
        run(declared, task="longform")


def test_a_huge_question_is_named_before_any_model_call(tmp_path):
    from promptkit.limits import MAX_QUESTION_CHARS

    items = [ITEMS[0], {**ITEMS[1], "question": "por que " * (MAX_QUESTION_CHARS // 4)}]
    llm = make_llm(GOOD)
    with pytest.raises(ValidationError, match="question 'q2' in .*long.jsonl: the question has"):
        evaluate(chain=FakeTutor(llm), dataset=write_dataset(tmp_path, items, "long.jsonl"),
                 show_progress=False, cache="off")
    assert llm.calls == []


def test_rows_declaring_their_task_and_in_memory_datasets(tmp_path):
    declared = write_dataset(tmp_path, [{**i, "task": "longform"} for i in ITEMS], "declared.jsonl")
    assert infer_task(declared).name == "longform"
    memory = get_task("longform").from_rows(ITEMS[:2], name="two")
    result = run(memory)
    assert result.dataset.path == "<memory>" and result.dataset.name == "two" and result.metrics["n"] == 2
    assert memory.sha256 == get_task("longform").from_rows(ITEMS[:2]).sha256


def test_compare_lists_deltas_and_flips(dataset):
    good, worse = run(dataset, GOOD), run(dataset, WORSE, prompt=None)
    c = compare(good, worse)
    assert c.task == "longform" and c.common == 6 and c.drop_metric == "key_fact_recall"
    assert [f.id for f in c.correct_to_wrong] == ["q1", "q3", "q5"] and c.wrong_to_correct == []
    assert c.deltas["accuracy"]["delta"] == pytest.approx(-0.5) and "n" not in c.deltas["accuracy"]
    assert c.deltas["key_fact_recall"]["n"] == 4 and c.deltas["decline_accuracy"]["n"] == 2
    assert c.deltas["faithfulness"]["n"] == 3  # answered in both runs
    assert c.deltas["false_decline_rate"]["delta"] == pytest.approx(0.25)
    flip = c.correct_to_wrong[2]
    assert flip.gold == ["(out of scope: decline)"] and flip.note == "declined → answered"
    assert c.correct_to_wrong[0].note == "key_fact_recall 1.00 → 0.00"
    text = c.summary()
    assert "correct → wrong (key facts ≥ 0.5, or declined out of scope): 3" in text
    assert "q5: 'Não encontrei isso no materia…' → 'A mensalidade custa 300 reais…'" in text
    # a partial drop that does not flip is listed apart
    partial = run(dataset, {**GOOD, "Quando surgiu o Transformer": "O Transformer apareceu em 2017 [1]."})
    drop = compare(good, partial)
    assert [f.id for f in drop.drops] == ["q4"] and drop.correct_to_wrong == []
    squad_like = good.model_copy(update={"task": "squad"})
    with pytest.raises(ValidationError, match="cannot compare a longform run with a squad run"):
        compare(good, squad_like)


def test_summary_report_and_markdown(dataset, tmp_path, capsys):
    good, worse = run(dataset, GOOD, out=tmp_path / "a.json"), run(dataset, WORSE, out=tmp_path / "b.json")
    text = format_summary(worse)
    assert text.splitlines()[0].startswith("task longform · chain tutor")
    assert "key_fact_recall     0.500  [0.000, 1.000]  4" in text
    assert "by type:" in text and "by lang:" in text and "out_of_scope  2" in text
    path = report([tmp_path / "a.json", worse], tmp_path / "r.html", markdown_out=tmp_path / "t.md")
    html = path.read_text("utf-8")
    assert "<svg" in html and "Long-form answers with citations" in html and "By type" in html
    assert "id='flip-q5'" in html and "declined → answered" in html
    assert "A mensalidade custa 300 reais [2]." in html and "<script" not in html
    md = (tmp_path / "t.md").read_text("utf-8").splitlines()
    assert md[0].startswith("| prompt | model | split | n | key_fact_recall | faithfulness |")
    assert len(md) == 4 and "| 1.000 [1.000, 1.000] |" in md[2] and "| 0.500 [0.000, 1.000] |" in md[3]


def test_mixed_report_keeps_squad_and_longform_apart(dataset, tmp_path, repo):
    squad = load_result(repo / "eval/results/english_qa_test_reading_qa_en.json")
    good = run(dataset)
    html = report([squad, good], tmp_path / "mixed.html").read_text("utf-8")
    assert "EM and F1 per prompt version" in html and "headline metrics per run" in html
    assert "not comparable" not in html  # runs of different tasks are not compared at all
    from promptkit.evaluation.report import markdown_table

    tables = markdown_table([squad, good]).split("\n\n")
    assert len(tables) == 2 and tables[0].startswith("| prompt | model | mode |")


def test_cli_run_compare_report_for_the_tutor(dataset, tmp_path, monkeypatch, capsys):
    made = install_fake_chains(monkeypatch)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    base = ["eval", "run", "--chain", "tutor", "--dataset", str(dataset), "--split", "dev", "--quiet"]
    assert main([*base, "--out", str(a)]) == 0
    out = capsys.readouterr().out
    assert "task longform · chain tutor" in out and "key_fact_recall" in out and "by lang:" in out
    assert len(made) == 1 and made[0].cache is not None  # the chain got the run's replay cache
    assert main([*base, "--cache", "strict", "--json"]) == 0  # replayed
    data = json.loads(capsys.readouterr().out)
    assert data["task"] == "longform" and data["metrics"]["n"] == 5 and "type" in data["groups"]
    install_fake_chains(monkeypatch, WORSE)
    assert main([*base, "--prompt", "tutor_answer@2", "--out", str(b)]) == 0
    capsys.readouterr()
    assert main(["eval", "compare", str(a), str(b)]) == 0
    assert "correct → wrong (key facts ≥ 0.5, or declined out of scope): 3" in capsys.readouterr().out
    assert main(["eval", "compare", str(a), str(b), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["drop_metric"] == "key_fact_recall"
    html = tmp_path / "r.html"
    assert main(["eval", "report", str(a), str(b), "--markdown", "-", "--html", str(html)]) == 0
    printed = capsys.readouterr().out
    assert "| tutor_answer@2 |" in printed and html.is_file()
    assert main([*base, "--mode", "reading"]) == 2
    assert "unknown mode 'reading' for task longform" in capsys.readouterr().err


def test_progress_bar_counts_items(dataset, capsys):
    evaluate(chain=FakeTutor(make_llm(GOOD)), dataset=dataset, cache="off", show_progress=True)
    err = capsys.readouterr().err
    assert "eval tutor" in err and "6/6" in err
