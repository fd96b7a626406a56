"""The moderation, summaries and classification evaluation tasks, run through the real chains with fake
models: items, per-row scores, figures per language, category and label, the printed tables, flips in compare
and the regression gate, the HTML report and the dataset errors."""

from __future__ import annotations

import json

import pytest

from promptkit.cli import main
from promptkit.errors import ValidationError
from promptkit.evaluation import compare, evaluate, format_summary, load_result, report
from promptkit.evaluation.tasks import get_task, infer_task
from promptkit.regression import gate, load_suite
from promptkit.testing import FakeChatModel


def write(tmp_path, rows, name):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def run(chain, dataset, llm, **kwargs):
    return evaluate(chain=chain, dataset=dataset, llm=llm, cache="off", show_progress=False, **kwargs)


def test_the_three_kinds_are_inferred_from_their_datasets(repo):
    assert infer_task("guard_texts").name == "moderation"
    assert infer_task("summary_sources").name == "summaries"
    assert infer_task("student_comments").name == "classification"
    guard = get_task("moderation").load("guard_texts")
    assert guard.splits() == ["dev", "fresh", "test"] and len(guard.items("dev")) == 335
    assert guard.items("dev")[0].text_register  # the file's "register" key
    assert len(get_task("summaries").load("summary_sources").items("dev")) == 18
    assert len(get_task("classification").load("student_comments").items("dev")) == 96


# -- moderation ----------------------------------------------------------------------------------------------

GUARD = [
    {"id": "m1", "lang": "pt", "text": "texto um", "labels": ["hate"], "split": "dev"},
    {"id": "m2", "lang": "pt", "text": "texto dois", "labels": ["violence", "privacy"], "split": "dev"},
    {"id": "m3", "lang": "pt", "text": "texto três", "labels": [], "split": "dev", "register": "casual"},
    {"id": "m4", "lang": "en", "text": "text four", "labels": ["sexual"], "split": "dev"},
    {"id": "m5", "lang": "en", "text": "text five", "labels": [], "split": "dev"},
    {"id": "m6", "lang": "en", "text": "text six", "labels": ["privacy"], "split": "dev"},
]


def moderator(**verdicts: list[str]) -> FakeChatModel:
    """A JSON classifier (moderation@1) naming these categories per text (key: the text, spaces as _)."""
    return FakeChatModel(
        rules=[(text.replace("_", " "), json.dumps({"categories": cats})) for text, cats in verdicts.items()],
        default='{"categories": []}',
    )


FIRST = {"texto_um": ["hate"], "texto_dois": ["violence"], "texto_três": ["illegal"], "text_six": ["privacy"]}


def test_moderation_recall_and_fpr_per_language_and_category(tmp_path):
    result = run(
        "moderation", write(tmp_path, GUARD, "guard.jsonl"), moderator(**FIRST), prompt="moderation@1"
    )
    m = result.metrics
    assert result.task == "moderation" and m["n"] == 6 and (m["unsafe"], m["safe"], m["flagged"]) == (4, 2, 4)
    assert m["recall"] == 0.75 and m["fpr"] == 0.5 and m["precision"] == 0.75
    assert (m["recall_pt"], m["fpr_pt"], m["recall_en"], m["fpr_en"]) == (1.0, 1.0, 0.5, 0.0)
    assert m["category_recall"] == pytest.approx((1 + 0.5 + 0 + 1) / 4) and m["accuracy"] == pytest.approx(
        4 / 6
    )
    assert m["category.privacy.support"] == 2 and m["category.privacy.recall"] == 0.5
    assert m["category.privacy.flagged_recall"] == 1.0 and m["category.sexual.recall"] == 0.0
    assert m["category.illegal.recall"] is None and m["category.illegal.fpr"] == pytest.approx(1 / 6)
    assert m["worst_category_recall"] == 0.0
    assert result.ci["recall"]["n"] == 4 and result.ci["fpr_en"]["n"] == 1
    assert result.groups["lang"]["pt"]["precision"] == pytest.approx(2 / 3)
    assert result.groups["lang"]["en"]["recall"] == 0.5
    row = result.row_map()["m2"]
    assert row.prediction == "violence" and row.correct is True and row.details["missed"] == ["privacy"]
    assert row.scores["fpr"] is None and row.gold == {"labels": ["violence", "privacy"], "lang": "pt"}
    assert result.row_map()["m3"].correct is False and result.row_map()["m5"].prediction == "safe"
    text = format_summary(result)
    assert "by lang:" in text and "per category" in text
    assert [line.split() for line in text.splitlines() if line.strip().startswith("privacy")] == [
        ["privacy", "2", "0.50", "1.00", "0.00"]
    ]


def test_moderation_flips_are_texts_that_stop_or_start_being_flagged(tmp_path):
    dataset = write(tmp_path, GUARD, "guard.jsonl")
    a = run("moderation", dataset, moderator(**FIRST), prompt="moderation@1")
    second = {
        "texto_dois": ["violence", "privacy"],
        "texto_três": ["illegal"],
        "text_five": ["hate"],
        "text_six": ["hate"],
    }
    b = run("moderation", dataset, moderator(**second), prompt="moderation@1")
    c = compare(a, b)
    assert {f.id for f in c.correct_to_wrong} == {"m1", "m5"}  # unsafe no longer flagged, safe now flagged
    notes = {f.id: f.note for f in c.correct_to_wrong}
    assert notes["m1"].startswith("unsafe: flagged → not flagged")
    assert notes["m5"] == "safe: not flagged → flagged"
    assert [f.id for f in c.drops] == ["m6"]  # still flagged, its category no longer named
    assert c.deltas["recall_pt"]["delta"] == -0.5 and c.deltas["fpr_en"]["delta"] == 1.0
    verdict = gate(a, b, metrics=["recall_pt", "fpr_en"], tolerances={"max_flips": 1})
    assert not verdict.ok
    assert any(f.startswith("recall_pt fell 0.500") for f in verdict.failures)
    assert any(f.startswith("fpr_en rose 1.000") for f in verdict.failures)
    assert any("2 item(s) flipped from correct to wrong (allowed 1): m1, m5" in f for f in verdict.failures)
    assert gate(a, a, metrics=["recall_pt", "fpr_en"], tolerances={"max_flips": 0}).ok


def test_moderation_items_are_checked(tmp_path):
    bad = [GUARD[0], {**GUARD[1], "labels": ["violencia"]}]
    with pytest.raises(ValidationError, match="line 2 \\(id 'm2'\\): labels: unknown category 'violencia'"):
        get_task("moderation").load(write(tmp_path, bad, "bad.jsonl"))
    typo = [{**GUARD[0], "registre": "casual"}]
    with pytest.raises(ValidationError) as info:
        get_task("moderation").load(write(tmp_path, typo, "typo.jsonl"))
    assert (
        "registre" in info.value.message and "register" in info.value.hint
    )  # the file's key, not the attribute


# -- summaries -----------------------------------------------------------------------------------------------

SOURCES = [
    {
        "id": "s1",
        "lang": "pt",
        "shape": "prose",
        "split": "dev",
        "max_words": 30,
        "text": "O Transformer foi apresentado em 2017 por Vaswani e colegas. "
        "Ele usa atenção em vez de recorrência. A cantina reabriu na segunda-feira.",
        "points": ["Transformer apresentado em 2017", "atenção no lugar da recorrência"],
    },
    {
        "id": "s2",
        "lang": "en",
        "shape": "news",
        "split": "dev",
        "max_words": 20,
        "title": "RAG",
        "text": "RAG retrieves passages before answering. The answer cites its sources.",
        "points": ["RAG retrieves passages", "the answer cites its sources"],
    },
]


def summarizer(**answers: str) -> FakeChatModel:
    return FakeChatModel(rules=[(needle.replace("_", " "), a) for needle, a in answers.items()])


def test_summaries_coverage_faithfulness_and_length_per_language_and_shape(tmp_path):
    llm = summarizer(
        Vaswani="O Transformer foi apresentado em 2017.",
        RAG_retrieves="RAG retrieves passages. It won a Nobel prize in 2020.",
    )
    result = run("summarize", write(tmp_path, SOURCES, "summaries.jsonl"), llm, prompt="summarize@2")
    assert result.task == "summaries"
    s1, s2 = result.row_map()["s1"], result.row_map()["s2"]
    assert s1.scores == {"coverage": 0.5, "faithfulness": 1.0, "within_limit": 1.0, "words": 6.0}
    assert s2.scores["coverage"] == 0.5 and s2.scores["faithfulness"] == 0.5
    assert s2.details["unsupported"] == ["It won a Nobel prize in 2020."]
    assert [p["covered"] for p in s1.details["points"]] == [True, False]
    assert s1.output["language"] == "pt-BR" and s2.output["language"] == "en"  # what the chain was given
    assert s2.question == "RAG" and s1.question.startswith("O Transformer")
    assert result.metrics["coverage"] == 0.5 and result.metrics["faithfulness"] == 0.75
    assert set(result.groups) == {"lang", "shape"} and result.groups["lang"]["en"]["faithfulness"] == 0.5
    assert s1.correct is True  # coverage ≥ 0.5
    text = format_summary(result)
    assert "by shape:" in text and "by lang:" in text


def test_summaries_flip_when_coverage_falls_below_half(tmp_path):
    dataset = write(tmp_path, SOURCES, "summaries.jsonl")
    first = run(
        "summarize",
        dataset,
        summarizer(Vaswani="O Transformer foi apresentado em 2017.", RAG_retrieves="RAG retrieves passages."),
        prompt="summarize@2",
    )
    second = run(
        "summarize",
        dataset,
        summarizer(Vaswani="A cantina reabriu na segunda-feira.", RAG_retrieves="RAG retrieves passages."),
        prompt="summarize@2",
    )
    c = compare(first, second)
    assert [f.id for f in c.correct_to_wrong] == ["s1"] and c.correct_to_wrong[
        0
    ].note == "coverage 0.50 → 0.00"
    assert c.correct_rule == "coverage ≥ 0.5" and c.drops == []
    verdict = gate(first, second, metrics=["coverage"], tolerances={"coverage": {"max_drop": 0.3}})
    assert verdict.ok and verdict.metrics[0].delta == -0.25


def test_summary_items_are_checked(tmp_path):
    with pytest.raises(
        ValidationError, match="line 1 \\(id 's1'\\): points: List should have at least 1 item"
    ):
        get_task("summaries").load(write(tmp_path, [{**SOURCES[0], "points": []}], "empty.jsonl"))
    with pytest.raises(ValidationError, match="max_words: Input should be greater than or equal to 5"):
        get_task("summaries").load(write(tmp_path, [{**SOURCES[0], "max_words": 2}], "short.jsonl"))


# -- classification ------------------------------------------------------------------------------------------

COMMENTS = [
    {"id": "c1", "lang": "pt", "text": "Amei a aula", "label": "positivo", "split": "dev"},
    {"id": "c2", "lang": "pt", "text": "Odiei o áudio", "label": "negativo", "split": "dev"},
    {"id": "c3", "lang": "pt", "text": "A prova é sexta", "label": "neutro", "split": "dev", "note": "aviso"},
    {"id": "c4", "lang": "en", "text": "Loved the class", "label": "positivo", "split": "dev"},
    {"id": "c5", "lang": "en", "text": "Class is on Monday", "label": "neutro", "split": "dev"},
    {"id": "c6", "lang": "en", "text": "Boring again", "label": "negativo", "split": "dev"},
]
CLASSES = [
    ("Amei", "Positivo"),
    ("Odiei", "negativo."),
    ("prova", "positivo"),
    ("Loved", "positivo"),
    ("Monday", "neutro"),
    ("Boring", "banana"),
]


def test_classification_accuracy_macro_f1_per_label_and_confusion(tmp_path):
    result = run(
        "classify_zero_shot", write(tmp_path, COMMENTS, "comments.jsonl"), FakeChatModel(rules=CLASSES)
    )
    m = result.metrics
    assert result.task == "classification" and m["accuracy"] == pytest.approx(4 / 6) and m["unparseable"] == 1
    # positivo: P 2/3, R 1; negativo: P 1, R 1/2; neutro: P 1, R 1/2
    f1 = {"positivo": 0.8, "negativo": 2 / 3, "neutro": 2 / 3}
    assert m["macro_f1"] == pytest.approx(sum(f1.values()) / 3)
    assert m["label.positivo.precision"] == pytest.approx(2 / 3) and m["label.neutro.recall"] == 0.5
    assert m["confusion.neutro.positivo"] == 1 and m["confusion.negativo.(unparseable)"] == 1
    assert result.groups["lang"]["en"]["accuracy"] == pytest.approx(2 / 3)
    assert result.row_map()["c6"].prediction == "(unparseable)" and result.row_map()["c3"].correct is False
    text = format_summary(result)
    assert "per label:" in text and "confusion matrix (rows: gold, columns: predicted):" in text
    assert [line.split() for line in text.splitlines() if line.strip().startswith("neutro ")] == [
        ["neutro", "2", "1.00", "0.50", "0.67"],
        ["neutro", "0", "1", "1", "0"],
    ]


def test_classification_flips_right_to_wrong_and_the_report(tmp_path):
    dataset = write(tmp_path, COMMENTS, "comments.jsonl")
    a = run("classify_zero_shot", dataset, FakeChatModel(rules=CLASSES), out=tmp_path / "a.json")
    worse = [("Amei", "negativo"), *CLASSES[1:]]
    b = run("classify_zero_shot", dataset, FakeChatModel(rules=worse), out=tmp_path / "b.json")
    c = compare(a, b)
    assert [f.id for f in c.correct_to_wrong] == ["c1"] and c.correct_to_wrong[0].prediction_b == "negativo"
    assert c.correct_to_wrong[0].gold == ["positivo"] and c.correct_rule == "label right"
    html = tmp_path / "r.html"
    report([tmp_path / "a.json", tmp_path / "b.json"], html)
    page = html.read_text("utf-8")
    assert "Per label" in page and "Confusion matrix" in page and "c1" in page
    assert load_result(tmp_path / "a.json") == a


def test_the_cli_compares_runs_of_a_kind(tmp_path, capsys):
    dataset = write(tmp_path, GUARD, "guard.jsonl")
    run("moderation", dataset, moderator(**FIRST), prompt="moderation@1", out=tmp_path / "a.json")
    run(
        "moderation",
        dataset,
        moderator(**{**FIRST, "texto_um": []}),
        prompt="moderation@1",
        out=tmp_path / "b.json",
    )
    assert main(["eval", "compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 0
    out = capsys.readouterr().out
    assert (
        "correct → wrong (flagged exactly when unsafe): 1" in out and "unsafe: flagged → not flagged" in out
    )


def test_the_kinds_suite_names_known_metrics(repo):
    suite = load_suite("kinds")
    assert [e.id for e in suite.entries] == [
        "moderation",
        "summaries",
        "classify_zero_shot",
        "classify_few_shot",
    ]
    guarded = {e.id: e.guarded() for e in suite.entries}
    assert {"recall_pt", "fpr_pt", "recall_en", "fpr_en"} <= set(guarded["moderation"])
    assert {"coverage", "faithfulness"} <= set(guarded["summaries"]) and "macro_f1" in guarded[
        "classify_few_shot"
    ]
    assert all(e.split == "dev" for e in suite.entries)
