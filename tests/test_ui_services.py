"""What the playground pages do, without Streamlit: the default ask chain, answers of both chain shapes,
streaming, side-by-side prompt runs, result tables of every evaluation task, label checks and moderation
rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from corpus_support import fake_index
from ui_support import DOCS, TUTOR_DECLINED, TUTOR_OUT, TutorDouble, init_with_baseline, tutor_runs

from promptkit.testing import FakeChatModel, FakeEmbeddings
from promptkit.ui import services

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return fake_index(tmp_path_factory.mktemp("ui-index"), DOCS)


def test_default_ask_chain_is_the_clis(monkeypatch):
    from promptkit.chains.session import DEFAULT_CHAIN

    assert services.default_ask_chain() == DEFAULT_CHAIN == "tutor"
    monkeypatch.setattr("promptkit.chains.session.DEFAULT_CHAIN", "rag_course")
    assert services.default_ask_chain() == "rag_course"


def test_tutor_output_is_read_as_numbered_citations():
    view = services.answer_view(TUTOR_OUT)
    assert not view.declined and view.cited_numbers == [1, 2]
    assert [(s.n, s.cited) for s in view.sources] == [(1, True), (2, True)]
    assert view.sources[1].text.startswith("Com temperatura baixa")
    assert [s.supported for s in view.sentences] == [True, False] and view.sentences[0].cites == [1]
    assert view.chain == "tutor" and view.timings["total_s"] == 4.3


def test_a_declined_tutor_answer_says_why():
    view = services.answer_view(TUTOR_DECLINED)
    assert view.declined and view.answer == "Não encontrei isso no material do curso." and not view.sources
    assert services.reason_text(view.reason) == "a pergunta está fora do assunto do curso"


def test_rag_course_output_numbers_its_sources(index):
    from promptkit.chains import load_chain

    llm = FakeChatModel(rules=[("Attention Is All You Need", "2017")], default="sem resposta")
    out = load_chain(
        "rag_course", llm=llm, index=index, embeddings=FakeEmbeddings(), mode="hybrid", k=2
    ).invoke({"question": "Em que ano saiu o Transformer?"})
    view = services.answer_view(out)
    assert view.answer == "2017" and not view.declined
    assert [s.n for s in view.sources] == [1, 2] and view.cited_numbers
    cited = view.sources[view.cited_numbers[0] - 1]
    assert cited.source.endswith("transformers.md") and "Attention Is All You Need" in cited.text


def test_an_abstaining_rag_course_answer_is_a_decline(index):
    from promptkit.chains import load_chain

    out = load_chain(
        "rag_course", llm=FakeChatModel(default="sem resposta"), index=index, embeddings=FakeEmbeddings()
    ).invoke({"question": "Quem ganhou a copa de 1970?"})
    view = services.answer_view(out)
    assert view.declined and view.answer == services.NO_ANSWER and view.reason


def test_the_stream_reader_folds_both_chain_shapes(index):
    from promptkit.chains import load_chain

    reader = services.StreamReader()
    chain = load_chain(
        "rag_course",
        llm=FakeChatModel(rules=[("Attention", "2017")]),
        index=index,
        embeddings=FakeEmbeddings(),
    )
    for chunk in chain.stream({"question": "Em que ano saiu o Transformer?"}):  # one final dict: a span
        reader.feed(chunk)
    assert reader.output()["answer"] == "2017" and reader.output()["sources"]

    reader = services.StreamReader()
    pieces = [reader.feed(c) for c in TutorDouble(TUTOR_OUT).stream({"question": "q"})]
    assert "".join(pieces) == TUTOR_OUT["answer"]
    assert reader.output()["citations"] == TUTOR_OUT["citations"]


def test_run_prompt_renders_calls_and_measures():
    llm = FakeChatModel(default="cinquenta e sete")
    values = {"context": "O MMLU tem 57 tarefas.", "question": "Quantas tarefas?"}
    result = services.run_prompt("qa_zero_shot@1", values, llm)
    assert result.ref == "qa_zero_shot@1" and result.answer == "cinquenta e sete"
    assert "O MMLU tem 57 tarefas." in result.rendered and result.rendered.startswith("[system]")
    assert result.input_tokens and result.output_tokens == 3 and result.latency_s >= 0
    assert "O MMLU tem 57 tarefas." in llm.calls[0][0] and not result.cached


def test_run_prompt_says_when_the_answer_was_replayed(tmp_path):
    from promptkit.cache import ReplayCache

    with ReplayCache(tmp_path / "replay.sqlite") as cache:
        llm = FakeChatModel(default="ok", cache=cache)
        values = {"context": "c", "question": "q"}
        first = services.run_prompt("qa_zero_shot@1", values, llm)
        second = services.run_prompt("qa_zero_shot@1", values, llm)
    assert not first.cached and second.cached and len(llm.calls) == 1


def test_run_prompt_selects_few_shot_examples_with_the_given_embeddings():
    llm = FakeChatModel(default="x")
    result = services.run_prompt(
        "rag_qa@3", {"context": "c", "question": "Quem criou o pandas?"}, llm, embeddings=FakeEmbeddings()
    )
    assert result.rendered.count("[human]") > 1  # the demonstrations are rendered as turns


def test_prompt_variables_are_the_union_in_order():
    assert services.prompt_variables(["rag_qa@2", "rag_qa@4"]) == ["context", "question", "answer_hint"]


def test_squad_datasets_and_questions():
    sets = services.squad_datasets()
    assert sets["course_qa"] == REPO / "eval" / "datasets" / "course_qa.json"
    questions = services.dataset_questions("course_qa")
    assert questions[0]["question"] and questions[0]["context"]


def test_result_files_metric_rows_and_comparisons():
    from promptkit.evaluation import compare, load_result

    files = services.result_files(REPO)
    assert files and all(f.suffix == ".json" for f in files)
    a = REPO / "eval/results/versions/course_qa_dev_reading_rag_qa-1.json"
    b = REPO / "eval/results/versions/course_qa_dev_reading_rag_qa-2.json"
    assert a in files and b in files
    ra, rb = load_result(a), load_result(b)
    rows = services.metric_rows({"A": ra, "B": rb})
    em = next(r for r in rows if r["execução"] == "A" and r["métrica"] == "EM")
    assert (
        em["valor"] == pytest.approx(ra.metrics["exact"])
        and em["ic_inferior"] <= em["valor"] <= em["ic_superior"]
    )
    comparison = compare(a, b)
    table = services.comparison_rows(comparison)
    assert [r["métrica"] for r in table] == ["EM", "F1", "EM (pt)", "F1 (pt)"]
    assert table[0]["B − A"] == pytest.approx(round(comparison.deltas["exact"]["delta"], 1))
    flips = services.flip_rows(comparison.correct_to_wrong)
    assert len(flips) == len(comparison.correct_to_wrong)


@pytest.fixture(scope="module")
def tutor_project(tmp_path_factory):
    """A folder with two long-form results files (schema v2) and one SQuAD results file."""
    import shutil

    project = tmp_path_factory.mktemp("ui-results")
    good, worse = tutor_runs(project)
    squad = project / "eval" / "results" / "squad.json"
    shutil.copyfile(REPO / "eval/results/versions/course_qa_dev_reading_rag_qa-2.json", squad)
    return project, good, worse, squad


def test_results_of_every_task_are_listed_with_their_task_and_headline(tutor_project):
    from promptkit.evaluation import load_result

    project, good, worse, squad = tutor_project
    (project / "eval" / "results" / "notas.json").write_text('{"outra": "coisa"}')  # not a results file
    files = services.result_files(project)
    assert set(files) == {good, worse, squad} and files.index(worse) < files.index(good)  # newest first
    results = {p: load_result(p) for p in files}
    rows = {r["arquivo"]: r for r in services.files_table(results, project)}
    tutor = rows["eval/results/tutor_pior.json"]
    assert tutor["tarefa"] == "respostas do tutor" and tutor["prompt"] == "tutor_answer@2"
    assert tutor["itens"] == 6 and tutor["principais métricas"].startswith("key_fact_recall 0.500 · ")
    assert rows["eval/results/squad.json"]["tarefa"] == "perguntas e respostas (SQuAD)"
    assert rows["eval/results/squad.json"]["principais métricas"].startswith("EM ")
    groups = {services.run_group(r) for r in results.values()}
    assert groups == {
        "respostas do tutor · mini_tutor · split todas · modo rag",
        "perguntas e respostas (SQuAD) · course_qa · split dev · modo reading",
    }
    labels = services.short_labels([good, worse], results)
    assert labels == {good: "tutor_answer@1", worse: "tutor_answer@2"}


def test_a_tutor_chart_draws_shares_with_intervals_and_no_lengths(tutor_project):
    from promptkit.evaluation import load_result
    from promptkit.evaluation.tasks import get_task

    _, good, worse, _ = tutor_project
    longform, squad = get_task("longform"), get_task("squad")
    drawn = services.chart_metrics(longform)
    assert drawn[:4] == list(longform.headline) and "accuracy" in drawn
    assert not {"answer_words", "in_scope", "declined"} & set(drawn)
    assert services.chart_scale(longform) == 1.0 and services.chart_scale(squad) == 100.0
    assert services.chart_metrics(squad) == ["exact", "f1", "exact_pt", "f1_pt"]
    a, b = load_result(good), load_result(worse)
    rows = services.metric_rows({"bom": a, "pior": b})
    recall = next(r for r in rows if r["execução"] == "pior" and r["métrica"] == "key_fact_recall")
    assert recall["valor"] == pytest.approx(0.5) and recall["ic_inferior"] < 0.5 < recall["ic_superior"]
    assert {r["métrica"] for r in rows} <= set(drawn) and "judge_faithful" not in {r["métrica"] for r in rows}
    table = {r["execução"]: r for r in services.metrics_table({"bom": a, "pior": b})}
    assert table["pior"]["false_decline_rate"] == 0.25 and table["pior"]["declined"] == 2
    assert isinstance(table["pior"]["declined"], int) and table["bom"]["modelo"] == "fake-tutor"
    meanings = services.metric_meanings(longform, ["faithfulness"])
    assert meanings == [{"métrica": "faithfulness", "o que mede": longform.spec("faithfulness").description}]
    tables = services.run_tables(b)
    assert [t.title for t in tables] == ["by type", "by lang"]
    by_lang = {r["lang"]: r for r in services.table_rows(tables[1])}
    assert by_lang["en"]["n"] == "2" and by_lang["en"]["key_fact_recall"] == "0.000"
    squad = load_result(REPO / "eval/results/versions/course_qa_dev_reading_rag_qa-2.json")
    assert services.run_tables(squad) == []  # SQuAD runs have no breakdowns


def test_two_tutor_runs_compare_in_the_tasks_terms(tutor_project):
    from promptkit.evaluation import compare

    _, good, worse, _ = tutor_project
    comparison = compare(good, worse)
    rows = {r["métrica"]: r for r in services.comparison_rows(comparison)}
    assert rows["accuracy"]["B − A"] == pytest.approx(-0.5) and rows["accuracy"]["itens"] == 6
    assert rows["key_fact_recall"]["itens"] == 4
    assert rows["false_decline_rate"]["B − A"] == pytest.approx(0.25)
    sections = services.flip_sections(comparison)
    assert [title for title, _ in sections] == [
        "Certa → errada (key facts ≥ 0.5, or declined out of scope)",
        "Errada → certa (key facts ≥ 0.5, or declined out of scope)",
        "key_fact_recall caiu sem virar errada",
    ]
    flips = {f["id"]: f for f in services.flip_rows(sections[0][1])}
    assert set(flips) == {"q1", "q3", "q5"}
    assert flips["q5"]["mudança"] == "declined → answered"
    assert flips["q5"]["resposta B"].startswith("A mensalidade")
    assert flips["q1"]["gabarito"] == "57 tarefas" and flips["q1"]["mudança"] == "key_fact_recall 1.00 → 0.00"


def test_a_tutor_row_up_close_has_its_citations_and_its_decline(tutor_project):
    from promptkit.evaluation import load_result

    _, good, worse, _ = tutor_project
    detail = services.row_detail(load_result(good), "q2")
    assert detail.verdict == "certa" and not detail.declined
    assert detail.gold == ["aleatória", "próximo token"] and detail.prediction.endswith("provável [1].")
    assert [c["n"] for c in detail.citations] == [1]
    assert detail.citations[0]["source"] == "10-saida-do-llm-e-temperatura.md"
    assert detail.scores["key_fact_recall"] == "1,00" and detail.scores["answer_words"] == "23,0"
    assert [f["found"] for f in detail.details["facts"]] == [True, True]
    declined = services.row_detail(load_result(worse), "q3")
    assert declined.declined and declined.verdict == "errada" and declined.citations == []
    assert "faithfulness" not in declined.scores  # a declined answer has no sentences to check
    assert services.row_detail(load_result(worse), "q99") is None


def test_a_squad_row_up_close_is_exact_partial_or_wrong():
    from promptkit.evaluation import load_result

    result = load_result(REPO / "eval/results/versions/course_qa_dev_reading_rag_qa-2.json")
    verdicts = {r.id: services.row_detail(result, r.id) for r in result.rows}
    for row in result.rows:
        expected = "certa" if row.exact else "parcial" if row.f1 > 0 else "errada"
        assert verdicts[row.id].verdict == expected
        assert verdicts[row.id].declined == row.abstained and verdicts[row.id].gold == row.answers
    assert {d.verdict for d in verdicts.values()} >= {"certa", "errada"}
    assert all(set(d.scores) == {"EM", "F1", "EM (pt)", "F1 (pt)"} for d in verdicts.values())


def test_a_label_move_is_checked_against_the_baseline_before_it_is_applied(tmp_path, monkeypatch):
    project = tmp_path / "demo"
    monkeypatch.setenv("PROMPTKIT_PROJECT", str(project))
    llm = init_with_baseline(project, marker="Responda à pergunta com base no texto.")  # v1's wording
    labels = project / "prompts" / "resposta_curta" / "labels.yaml"
    before = labels.read_text()

    worse = services.check_label_move("resposta_curta", 1, "production", llm=llm)  # v1 holds the marker
    assert worse.checked and not worse.ok and worse.entries[0].status == "regression"
    assert labels.read_text() == before  # checking never moves the label

    same = services.check_label_move("resposta_curta", 2, "staging", llm=llm)
    assert same.ok and same.entries[0].result.prompt.ref == "resposta_curta@2"

    change = services.apply_label("resposta_curta", 1, "staging")
    assert change.version == 1 and "staging: 1" in labels.read_text()


def test_unguarded_prompts_have_nothing_to_check(monkeypatch):
    monkeypatch.setenv("PROMPTKIT_PROJECT", str(REPO))
    check = services.check_label_move("qa_en", 1, "production")
    assert not check.checked and check.ok and not check.missing


def test_label_names_are_validated():
    assert services.label_problem("producao") is None
    assert "implícito" in services.label_problem("latest")
    assert services.label_problem("Com Espaço")
    assert services.label_problem("")


def test_moderation_rows_name_each_category():
    from promptkit.chains import load_chain

    out = load_chain("moderation", llm=FakeChatModel(default="Sim")).invoke(
        {"text": "Vou te matar amanhã na saída da escola, seu idiota."}
    )
    rows = {r["categoria"]: r for r in services.moderation_rows(out)}
    assert set(rows) == {
        "Ódio",
        "Assédio",
        "Violência",
        "Autolesão",
        "Conteúdo sexual",
        "Atividades ilegais",
        "Privacidade",
    }
    assert rows["Violência"]["veredito"] == "inseguro" and rows["Violência"]["regras"] == "alta"
    assert "vou te matar" in rows["Violência"]["trechos encontrados"]
    assert rows["Privacidade"]["veredito"] == "seguro" and rows["Privacidade"]["trechos encontrados"] == "—"


def test_preferred_prompt_is_the_projects_own_in_a_user_project(tmp_path, monkeypatch):
    from promptkit.prompts import list_prompts
    from promptkit.scaffold import init_project

    monkeypatch.setenv("PROMPTKIT_PROJECT", str(REPO))
    assert services.preferred_prompt(list_prompts()) == "tutor"  # the prompt `promptkit ask` answers with
    # two versions to compare: the tutor has one, rag_qa is the prompt the most chains use
    assert services.preferred_prompt(list_prompts(), versions=2) == "rag_qa"
    init_project(tmp_path / "demo")
    monkeypatch.setenv("PROMPTKIT_PROJECT", str(tmp_path / "demo"))
    assert services.preferred_prompt(list_prompts()) == "resposta_curta"
