"""The LLM judge (log-probability and generated-word verdicts, cached like any model call), Cohen's kappa, the
hand labels file and the judge's agreement with them."""

from __future__ import annotations

import doctest
import json
import random

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from tutor_support import GOOD, FakeTutor, make_llm, write_dataset

from promptkit.cache import ReplayCache, global_cache
from promptkit.cli import main
from promptkit.errors import CacheMissError, UnsupportedError, ValidationError
from promptkit.evaluation import agreement as A
from promptkit.evaluation import evaluate
from promptkit.evaluation import judge as J
from promptkit.testing import FakeChatModel

REQUEST = {"question": "Quantas tarefas tem o MMLU?", "answer": "O MMLU reúne 57 tarefas [1].",
           "sources": ["O benchmark MMLU reúne 57 tarefas de múltipla escolha."]}


def test_doctests_pass():
    for module in (J, A):
        result = doctest.testmod(module)
        assert result.attempted >= 3 and result.failed == 0, module.__name__


def judge_model(**rules: str) -> FakeChatModel:
    """A fake judge: answers by a word of the rendered prompt (criterion questions differ in wording)."""
    return FakeChatModel(model="fake-judge", rules=list(rules.items()), default="No")


def test_logprob_verdicts_read_yes_against_no():
    model = judge_model(**{"faithful to the sources": "Yes"})
    verdicts = J.LLMJudge(model).judge(REQUEST)
    assert verdicts["faithful"].answer is True and verdicts["faithful"].via == "logprob"
    assert verdicts["faithful"].p_yes > 0.99
    assert verdicts["answers"].answer is False and verdicts["answers"].p_yes < 0.01
    assert model.calls == []  # nothing generated: read from log-probabilities
    rendered = model.render_prompt(J.messages_for(REQUEST, "faithful"))
    assert "[1] O benchmark MMLU reúne 57 tarefas" in rendered and "Reply Yes or No." in rendered
    strict = J.LLMJudge(model, threshold=1.0).judge(REQUEST)
    assert strict["faithful"].answer is False  # p_yes just under 1


def test_generated_word_when_the_model_has_no_logprobs():
    served = FakeListChatModel(responses=["Yes, it is.", "Não.", "Maybe"])
    judge = J.LLMJudge(served)
    assert not judge.offers_logprobs()
    out = judge.judge_many([REQUEST, REQUEST, REQUEST], criteria=["faithful"])
    assert [v["faithful"].answer for v in out] == [True, False, None]
    assert out[0]["faithful"].via == "text" and out[0]["faithful"].text == "Yes, it is."
    with pytest.raises(UnsupportedError, match="does not expose log-probabilities"):
        J.LLMJudge(served, use_logprobs=True).judge(REQUEST)
    model = judge_model(**{"answer the student": "sim"})
    forced = J.LLMJudge(model, use_logprobs=False).judge(REQUEST)
    assert forced["answers"].answer is True and forced["answers"].via == "text" and len(model.calls) == 2
    with pytest.raises(ValidationError, match="unknown judge criterion 'polite'"):
        J.LLMJudge(model).judge(REQUEST, criteria=["polite"])


def test_verdicts_go_through_the_replay_cache(tmp_path):
    path = tmp_path / "replay.sqlite"
    with ReplayCache(path, mode="use") as cache, global_cache(cache):
        first = J.LLMJudge(judge_model(**{"faithful to the sources": "Yes"})).judge(REQUEST)
        assert len(cache) == 2 * 4  # two criteria, four spellings each
    model = judge_model()  # would say No to everything
    with ReplayCache(path, mode="strict") as cache, global_cache(cache):
        assert J.LLMJudge(model).judge(REQUEST) == first
    with ReplayCache(path, mode="strict") as cache, global_cache(cache):
        with pytest.raises(CacheMissError):
            J.LLMJudge(model).judge({**REQUEST, "answer": "Outra resposta."})
    text = FakeChatModel(model="fake-judge", default="Yes")
    with ReplayCache(tmp_path / "t.sqlite", mode="use") as cache, global_cache(cache):
        J.LLMJudge(text, use_logprobs=False).judge(REQUEST)
    with ReplayCache(tmp_path / "t.sqlite", mode="strict") as cache, global_cache(cache):
        again = FakeChatModel(model="fake-judge", default="No")
        assert J.LLMJudge(again, use_logprobs=False).judge(REQUEST)["answers"].answer is True
        assert again.calls == []


def test_evaluate_with_a_judge_adds_its_scores(tmp_path):
    dataset = write_dataset(tmp_path)
    judge = judge_model(**{"faithful to the sources": "Yes"})
    result = evaluate(chain=FakeTutor(make_llm(GOOD)), dataset=dataset, judge=judge, cache="use",
                      show_progress=False)
    assert result.metrics["judge_faithful"] == 1.0 and result.metrics["judge_answers"] == 0.0
    assert result.ci["judge_faithful"]["n"] == 4  # the four answered rows; declines are not judged
    assert result.judge.id == "fake-judge" and result.judge.settings["via"] == "logprob"
    row = result.row_map()["q1"]
    assert row.details["judge"]["faithful"]["answer"] is True and row.scores["judge_answers"] == 0.0
    assert result.row_map()["q5"].scores["judge_faithful"] is None
    again = evaluate(chain=FakeTutor(make_llm(GOOD)), dataset=dataset, judge=judge_model(), cache="strict",
                     show_progress=False)
    assert again.metrics == result.metrics  # judge verdicts replayed, not recomputed
    with pytest.raises(ValidationError, match="task squad asks no judge questions"):
        evaluate(chain=FakeTutor(make_llm(GOOD)), dataset="english_qa", judge=judge, show_progress=False)


def test_kappa_matches_scikit_learn():
    sklearn = pytest.importorskip("sklearn.metrics")
    rng = random.Random(3)
    for _ in range(50):
        n = rng.randint(2, 40)
        a = [rng.random() < 0.6 for _ in range(n)]
        b = [x if rng.random() < 0.7 else not x for x in a]
        if len(set(a)) == 1 and len(set(b)) == 1:
            continue
        assert A.cohen_kappa(a, b) == pytest.approx(sklearn.cohen_kappa_score(a, b))
    assert A.cohen_kappa([True] * 5, [True] * 5) == 1.0
    with pytest.raises(ValidationError, match="one length"):
        A.cohen_kappa([True], [True, False])
    with pytest.raises(ValidationError, match="at least one"):
        A.cohen_kappa([], [])


LABELS = [
    {"id": "a1", "question_id": "q1", "question": "Quantas tarefas tem o MMLU?",
     "answer": "O MMLU reúne 57 tarefas [1].", "sources": ["O MMLU reúne 57 tarefas de múltipla escolha."],
     "labels": {"faithful": True, "answers": True}},
    {"id": "a2", "question": "Quantas tarefas tem o MMLU?", "answer": "O MMLU reúne 75 tarefas [1].",
     "sources": ["O MMLU reúne 57 tarefas de múltipla escolha."],
     "labels": {"faithful": False, "answers": True}},
    {"id": "a3", "question": "O que a temperatura controla?", "answer": "Ela muda os pesos da rede [1].",
     "sources": ["A temperatura controla o sorteio do próximo token."], "labels": {"faithful": False,
                                                                                    "answers": False}},
    {"id": "a4", "question": "O que a temperatura controla?", "answer": "O sorteio do próximo token [1].",
     "sources": ["A temperatura controla o sorteio do próximo token."], "labels": {"faithful": True},
     "annotator": "xy", "note": "curta, mas certa"},
]


def write_labels(folder, rows=LABELS, name="labels.jsonl"):
    path = folder / name
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_hand_labels_load_strictly(tmp_path, repo):
    labels = A.load_judgments(write_labels(tmp_path))
    assert [j.id for j in labels] == ["a1", "a2", "a3", "a4"] and labels[3].labels == {"faithful": True}
    assert labels[0].request()["sources"] == ["O MMLU reúne 57 tarefas de múltipla escolha."]
    bad = write_labels(tmp_path, [LABELS[0], {**LABELS[1], "labels": {"polite": True}}], "bad.jsonl")
    with pytest.raises(ValidationError, match=r"line 2 \(id 'a2'\): labels: unknown criterion polite"):
        A.load_judgments(bad)
    extra = write_labels(tmp_path, [{**LABELS[0], "verdict": "yes"}], "extra.jsonl")
    with pytest.raises(ValidationError, match="line 1 .*verdict: Extra inputs are not permitted"):
        A.load_judgments(extra)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(ValidationError, match="holds no hand labels yet"):
        A.load_judgments(empty)
    shipped = A.load_judgments(repo / "eval" / "datasets" / "tutor_judgments.jsonl")
    assert len(shipped) >= 40 and all(j.annotator and None not in j.labels.values() for j in shipped)
    assert len({j.id for j in shipped}) == len(shipped)


def test_agreement_of_a_judge_with_the_labels(tmp_path):
    labels = A.load_judgments(write_labels(tmp_path))
    # says faithful only for answers holding "57" or "sorteio"; says it answers everything
    liked = ("57 tarefas [1]", "sorteio do próximo token [1]", "answer the student")
    model = FakeChatModel(model="fake-judge", respond=lambda p: "Yes" if any(s in p for s in liked) else "No")
    report = A.judge_agreement(labels, model, cache="off")
    faithful, answers = report.criteria
    assert faithful.criterion == "faithful" and faithful.n == 4
    assert faithful.agreement == 1.0 and faithful.kappa == 1.0
    assert answers.n == 3 and answers.agreement == pytest.approx(2 / 3) and answers.disagreements == ["a3"]
    assert answers.kappa == 0.0 and answers.confusion["human no, judge yes"] == 1
    text = A.format_agreement(report)
    assert "judge fake-judge (yes from p_yes 0.5) against 4 hand-labelled answers" in text
    assert "answers: the judge disagrees on a3" in text
    assert report.as_dict()["criteria"][0]["kappa"] == 1.0
    # the fake model's p_yes is all but 0 or 1: it ranks the faithful answers perfectly
    assert faithful.auc == 1.0 and faithful.best_kappa == 1.0 and 0 < faithful.best_threshold < 1
    assert answers.auc == 0.5 and answers.best_kappa == 0.0  # says yes to everything: no cut separates


def test_a_threshold_that_ranks_well_turns_a_yes_sayer_into_a_judge():
    human = [True, True, True, False, False]
    scores = [0.95, 0.9, 0.88, 0.86, 0.7]  # always above 0.5, yet ordered like the people
    assert A.rank_auc(human, scores) == 1.0
    cut, kappa = A.best_threshold(human, scores)
    assert 0.86 < cut <= 0.88 and kappa == 1.0
    at_half = A.agreement_of("answers", list("abcde"), human, [s >= 0.5 for s in scores], scores=scores)
    assert at_half.kappa == 0.0 and at_half.auc == 1.0 and at_half.best_threshold == cut
    assert A.rank_auc([True, True], [0.4, 0.9]) is None and A.best_threshold([True], [0.3]) is None


def test_cli_agreement_and_label_template(tmp_path, monkeypatch, capsys):
    import promptkit.llm

    monkeypatch.setattr(promptkit.llm, "load_llm",
                        lambda name=None, **s: FakeChatModel(model=name, default="Yes"))
    path = write_labels(tmp_path)
    assert main(["eval", "agreement", "--labels", str(path), "--judge", "fake-judge", "--cache", "off"]) == 0
    out = capsys.readouterr().out
    assert "faithful" in out and "kappa" in out and "a2, a3" in out
    assert main(["eval", "agreement", "--labels", str(path), "--judge", "fake-judge", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["criteria"][1]["criterion"] == "answers"
    assert main(["eval", "agreement", "--labels", str(path)]) == 2
    assert "no judge given" in capsys.readouterr().err
    assert main(["eval", "agreement", "--labels", str(path), "--judge", "fake-judge", "--cache", "off",
                 "--judge-threshold", "0.999999"]) == 0
    assert "(yes from p_yes 0.999999)" in capsys.readouterr().out
    with pytest.raises(SystemExit) as bad:
        main(["eval", "agreement", "--labels", str(path), "--judge", "fake-judge", "--judge-threshold", "1.5"])
    assert bad.value.code == 2 and "not a probability between 0 and 1" in capsys.readouterr().err
    results = tmp_path / "run.json"
    evaluate(chain=FakeTutor(make_llm(GOOD)), dataset=write_dataset(tmp_path), cache="off",
             show_progress=False, out=results)
    assert main(["eval", "agreement", "--template", str(results)]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["question_id"] for x in lines] == ["q1", "q2", "q3", "q4"]  # declines are left out
    assert lines[0]["labels"] == {"faithful": None, "answers": None} and lines[0]["sources"]
    filled = [{**x, "labels": {"faithful": True, "answers": True}} for x in lines]
    assert len(A.load_judgments(write_labels(tmp_path, filled, "filled.jsonl"))) == 4


@pytest.mark.model
def test_the_local_model_judges_from_its_logprobs(tmp_path):
    from promptkit.llm import load_llm

    llm = load_llm(progress=False)
    judge = J.LLMJudge(llm)
    assert judge.offers_logprobs()
    wrong = {**REQUEST, "answer": "O MMLU é um modelo de imagens treinado em 2012 [1]."}
    with ReplayCache(tmp_path / "judge.sqlite", mode="use") as cache, global_cache(cache):
        verdicts = judge.judge_many([REQUEST, wrong], criteria=["faithful"])
        assert len(cache) == 2 * 4
    right, bad = verdicts[0]["faithful"], verdicts[1]["faithful"]
    assert right.via == "logprob" and 0.0 < right.p_yes < 1.0 and 0.0 < bad.p_yes < 1.0
    assert right.p_yes > bad.p_yes  # the faithful answer is more likely a yes
    with ReplayCache(tmp_path / "judge.sqlite", mode="strict") as cache, global_cache(cache):
        assert judge.judge_many([REQUEST, wrong], criteria=["faithful"]) == verdicts
