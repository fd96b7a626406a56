"""Every page of the playground, run by Streamlit's AppTest with the fake model: what a user does on each page
and what they see, including the one-line error when something fails."""

from __future__ import annotations

from pathlib import Path

import pytest
from corpus_support import fake_index
from ui_support import DOCS, TUTOR_DECLINED, TUTOR_OUT, TutorDouble, init_with_baseline, tutor_runs

from promptkit.errors import NotFoundError
from promptkit.testing import FakeChatModel, FakeEmbeddings
from promptkit.ui import common

REPO = Path(__file__).resolve().parent.parent
APP = str(REPO / "promptkit" / "ui" / "app.py")

pytest.importorskip("streamlit", reason="the playground needs streamlit (pip install -e '.[ui]')")
from streamlit.testing.v1 import AppTest  # noqa: E402


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return fake_index(tmp_path_factory.mktemp("ui-app-index"), DOCS)


def app(page: str | None = None, *, llm=None, index=None) -> AppTest:
    """The app with the fake model (and a tiny index), switched to ``page`` (a file under views/)."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state[common.LLM_KEY] = llm or FakeChatModel(default="sem resposta")
    at.session_state[common.EMBEDDINGS_KEY] = FakeEmbeddings()
    if index is not None:
        at.session_state[common.INDEX_KEY] = index
    at.run()
    if page:
        at.switch_page(f"views/{page}.py").run()
    assert not at.exception, at.exception
    return at


def markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def texts(at: AppTest, kind: str) -> list[str]:
    return [e.value for e in getattr(at, kind)]


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


# -- Perguntar ao curso --------------------------------------------------------------------------------------


def test_the_app_opens_on_perguntar_with_every_page_in_the_navigation(index):
    at = app(index=index)
    assert texts(at, "title") == ["Perguntar ao curso"]
    assert "`tutor`" in " ".join(texts(at, "caption"))  # the chain `promptkit ask` uses
    assert any("Projeto:" in c for c in texts(at.sidebar, "caption"))


def test_asking_streams_the_answer_and_numbers_the_sources(index, monkeypatch):
    monkeypatch.setattr("promptkit.chains.session.DEFAULT_CHAIN", "rag_course")
    llm = FakeChatModel(rules=[("Attention Is All You Need", "2017")], default="sem resposta")
    at = app(llm=llm, index=index)
    at.text_area(key="ask_question").input("Em que ano saiu o Transformer?")
    button(at, "Perguntar").click().run()
    assert not at.exception and not at.error
    assert "2017 :blue-badge[1]" in markdown(at)
    labels = [e.label for e in at.expander]
    assert any(label.startswith("**[1]** Transformers") and "citada" in label for label in labels)
    assert any("`rag_course`" in c and "`fake-chat`" in c for c in texts(at, "caption"))
    assert "Em que ano saiu o Transformer?" in llm.calls[-1][0]


def test_a_tutor_answer_shows_inline_citations_sentences_and_sources(index, monkeypatch):
    import promptkit.chains

    double = TutorDouble(TUTOR_OUT)
    monkeypatch.setattr("promptkit.chains.session.DEFAULT_CHAIN", "tutor")
    monkeypatch.setattr(
        promptkit.chains, "load_chain", lambda name, **kw: double if name == "tutor" else None
    )
    at = app(index=index)
    assert "`tutor`" in " ".join(texts(at, "caption"))
    at.text_area(key="ask_question").input("O que é temperatura em um LLM?")
    button(at, "Perguntar").click().run()
    assert (
        not at.exception
        and not at.error
        and double.inputs == [{"question": "O que é temperatura em um LLM?"}]
    )
    text = markdown(at)
    assert "próximo token :blue-badge[1]\\." in text and "previsível :blue-badge[2]\\." in text
    labels = [e.label for e in at.expander]
    assert sum(label.startswith(("**[1]**", "**[2]**")) for label in labels) == 2
    assert any(label.startswith("Frases da resposta") for label in labels)
    sentences = at.dataframe[0].value
    assert list(sentences["sustentada"]) == ["sim", "não"]


def test_a_declined_answer_is_one_sentence_with_its_reason(index, monkeypatch):
    import promptkit.chains

    monkeypatch.setattr("promptkit.chains.session.DEFAULT_CHAIN", "tutor")
    monkeypatch.setattr(promptkit.chains, "load_chain", lambda name, **kw: TutorDouble(TUTOR_DECLINED))
    at = app(index=index)
    at.text_area(key="ask_question").input("Quem ganhou a copa de 1970?")
    button(at, "Perguntar").click().run()
    (info,) = texts(at, "info")
    assert info.startswith("Não encontrei isso no material do curso.") and "fora do assunto" in info
    assert not [e for e in at.expander if e.label.startswith("**[")]


def test_an_empty_question_asks_for_one(index):
    at = app(index=index)
    button(at, "Perguntar").click().run()
    assert texts(at, "warning") == ["Escreva uma pergunta antes de enviar."]


def test_a_failure_is_one_line_not_a_traceback(index, monkeypatch):
    import promptkit.chains

    def broken(name, **kw):
        raise NotFoundError("unknown chain 'tutor'", hint="see `promptkit chains list`")

    monkeypatch.setattr(promptkit.chains, "load_chain", broken)
    at = app(index=index)
    at.text_area(key="ask_question").input("Qualquer coisa?")
    button(at, "Perguntar").click().run()
    (error,) = texts(at, "error")
    assert error == "Não foi possível responder: unknown chain 'tutor' — see `promptkit chains list`"
    assert "\n" not in error and not at.exception


# -- Laboratório de prompts ----------------------------------------------------------------------------------


def test_two_versions_run_side_by_side_with_tokens_and_latency():
    llm = FakeChatModel(respond=lambda prompt: "v4" if "Tipo de resposta esperado" in prompt else "v3")
    at = app("laboratorio", llm=llm)
    assert at.selectbox(key="lab_prompt").value == "rag_qa"
    assert at.multiselect(key="lab_versions_rag_qa").value == ["rag_qa@3", "rag_qa@4"]
    at.radio(key="lab_source").set_value("Pergunta de um conjunto de dados").run()
    assert at.selectbox(key="lab_dataset").value == "course_qa"
    at.text_area(key="lab_var_answer_hint").input("um número")
    button(at, "Rodar lado a lado").click().run()
    assert not at.exception and not at.error
    assert [s.value for s in at.subheader] == ["rag_qa@3", "rag_qa@4"]
    assert [c.value for c in at.code][:1] == ["v3"] and "v4" in [c.value for c in at.code]
    metrics = {m.label: m.value for m in at.metric}
    assert "Latência" in metrics and metrics["Tokens (entrada → saída)"].endswith("→ 1")
    rendered = [c.value for c in at.code if c.value.startswith("[system]")]
    assert len(rendered) == 2 and "Tipo de resposta esperado: um número" in rendered[1]
    assert len(llm.calls) == 2


def test_the_run_button_waits_for_two_versions():
    at = app("laboratorio")
    at.multiselect(key="lab_versions_rag_qa").set_value(["rag_qa@2"]).run()
    assert button(at, "Rodar lado a lado").disabled


def test_two_models_run_the_same_version(monkeypatch):
    from promptkit.ui import services

    monkeypatch.setattr(services, "llm_names", lambda: ["modelo-a", "modelo-b"])
    at = app("laboratorio", llm=FakeChatModel(default="ok"))
    at.radio(key="lab_mode").set_value("Modelos").run()
    at.selectbox(key="lab_prompt").set_value("qa_zero_shot").run()
    at.text_area(key="lab_var_context").input("O MMLU tem 57 tarefas.")
    at.text_area(key="lab_var_question").input("Quantas tarefas?")
    button(at, "Rodar lado a lado").click().run()
    assert [s.value for s in at.subheader] == ["qa_zero_shot@1 · modelo-a", "qa_zero_shot@1 · modelo-b"]


# -- Avaliações ----------------------------------------------------------------------------------------------


def test_results_chart_with_cis_and_a_paired_comparison():
    at = app("avaliacoes")
    assert texts(at, "title") == ["Avaliações"] and not at.error
    group = at.selectbox(key="eval_group")
    runs = next(m for m in at.multiselect if m.label == "Execuções")
    assert len(runs.value) >= 2 and all(str(p).endswith(".json") for p in runs.value)
    assert runs.value[0] != runs.value[1] and "execuções" in group.options[0]
    listing = next(e for e in at.expander if e.label.startswith("Arquivos de resultados"))
    files = listing.dataframe[0].value
    assert "eval/results/versions/course_qa_dev_reading_rag_qa-2.json" in list(files["arquivo"])
    assert {"tarefa", "chain", "prompt", "conjunto", "split", "modo", "principais métricas"} <= set(
        files.columns
    )
    squad = files[files["arquivo"] == "eval/results/versions/course_qa_dev_reading_rag_qa-2.json"].iloc[0]
    assert squad["tarefa"] == "perguntas e respostas (SQuAD)" and squad["principais métricas"].startswith(
        "EM "
    )
    charts = at.get("vega_lite_chart")
    assert charts and not at.exception
    spec = charts[0].proto.spec
    assert "ic_inferior" in spec and "ic_superior" in spec  # the CI whiskers
    frames = [d.value for d in at.dataframe]
    deltas = next(f for f in frames if "B − A" in f.columns)
    assert list(deltas["métrica"]) == ["EM", "F1", "EM (pt)", "F1 (pt)"]
    assert any(m.startswith("**Certa → errada (EM):") for m in texts(at, "markdown"))
    at.selectbox(key="eval_b").set_value(runs.value[0]).run()
    assert "Escolha duas execuções diferentes." in texts(at, "info")


def test_one_question_up_close():
    at = app("avaliacoes")
    question = at.selectbox(key="eval_question")
    question.set_value(question.options[1]).run()
    text = markdown(at)
    assert "**Pergunta:**" in text and "**Gabarito:**" in text
    scores = [c for c in texts(at, "caption") if c.startswith("EM ")]
    assert scores and all(" · F1 " in c for c in scores)  # one line of scores per run shown
    assert any(v in text for v in ("check_circle: certa", "adjust: parcial", "cancel: errada"))


@pytest.fixture
def tutor_project(tmp_path, monkeypatch):
    """A `promptkit init` project holding two long-form runs of the tutor (results schema v2)."""
    from promptkit.scaffold import init_project

    project = tmp_path / "demo"
    init_project(project)
    good, worse = tutor_runs(project)
    monkeypatch.setenv("PROMPTKIT_PROJECT", str(project))
    return project, good, worse


def vega_x(at: AppTest) -> dict:
    """The x encoding of the page's first chart (its bars' layer)."""
    import json

    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    return spec["layer"][0]["encoding"]["x"]


def test_tutor_runs_show_their_task_metrics_comparison_and_citations(tutor_project):
    _, good, worse = tutor_project
    at = app("avaliacoes")
    assert not at.error and not at.warning
    listing = next(e for e in at.expander if e.label.startswith("Arquivos de resultados"))
    files = listing.dataframe[0].value
    assert list(files["tarefa"]) == ["respostas do tutor", "respostas do tutor"]
    assert files["principais métricas"][0].startswith("key_fact_recall 0.500 · faithfulness 0.375")
    group = at.selectbox(key="eval_group")
    assert group.value == "respostas do tutor · mini_tutor · split todas · modo rag"
    # the chart draws the task's headline shares on a 0-1 axis, with the CI whiskers
    assert at.multiselect(key=f"eval_metrics_{group.value}").value == [
        "key_fact_recall",
        "faithfulness",
        "citation_precision",
        "decline_accuracy",
    ]
    assert vega_x(at)["scale"]["domain"] == [0, 1.0]
    frames = [d.value for d in at.dataframe]
    table = next(f for f in frames if "execução" in f.columns and "modelo" in f.columns)
    assert list(table["execução"]) == ["tutor_answer@2", "tutor_answer@1"]
    assert list(table["key_fact_recall"]) == [0.5, 1.0]
    by_lang = next(f for f in frames if "lang" in f.columns)
    assert set(by_lang["lang"]) == {"en", "pt"}
    # A is the newer, worse run: B (the good one) turns three wrong items right
    deltas = next(f for f in frames if "B − A" in f.columns)
    recall = deltas[deltas["métrica"] == "key_fact_recall"].iloc[0]
    assert recall["B − A"] == pytest.approx(0.5) and recall["itens"] == 4
    flips = "Errada → certa (key facts ≥ 0.5, or declined out of scope): 3"
    assert f"**{flips}**" in texts(at, "markdown")
    changed = next(f for f in frames if "mudança" in f.columns)
    assert "answered → declined" in list(changed["mudança"])
    # one item up close: the tutor's answer with its numbered citations
    at.selectbox(key="eval_question").set_value("q2").run()
    assert not at.exception
    cited = [e for e in at.expander if e.label.startswith("**[1]**")]
    assert len(cited) == 2 and "temperatura" in cited[0].label  # one per run shown
    assert ":blue-badge[1]" in markdown(at)
    at.selectbox(key="eval_question").set_value("q3").run()
    assert "a chain não respondeu (recusou ou se absteve)" in texts(at, "caption")


def test_no_results_says_how_to_make_them(tmp_path, monkeypatch):
    from promptkit.scaffold import init_project

    init_project(tmp_path / "demo")
    monkeypatch.setenv("PROMPTKIT_PROJECT", str(tmp_path / "demo"))
    at = app("avaliacoes")
    (info,) = texts(at, "info")
    assert "promptkit eval run" in info


def test_an_unreadable_results_file_is_reported_and_the_others_still_show(tmp_path, monkeypatch):
    import shutil

    from promptkit.scaffold import init_project

    project = tmp_path / "demo"
    init_project(project)
    (project / "eval" / "results").mkdir(parents=True)
    shutil.copyfile(
        REPO / "eval/results/versions/course_qa_dev_reading_rag_qa-2.json",
        project / "eval" / "results" / "boa.json",
    )
    (project / "eval" / "results" / "ruim.json").write_text('{"schema": "promptkit.eval/v1", "chain": 1}')
    monkeypatch.setenv("PROMPTKIT_PROJECT", str(project))
    at = app("avaliacoes")
    (warning,) = texts(at, "warning")
    assert "ruim.json" in warning and "1 arquivo(s) ignorado(s)" in warning
    assert at.get("vega_lite_chart")


# -- Registro ------------------------------------------------------------------------------------------------


@pytest.fixture
def guarded_project(tmp_path, monkeypatch):
    """A `promptkit init` project whose baseline a fake model recorded; the model abstains on v1's wording."""
    project = tmp_path / "demo"
    monkeypatch.setenv("PROMPTKIT_PROJECT", str(project))
    llm = init_with_baseline(project, marker="Responda à pergunta com base no texto.")
    return project, llm


def test_versions_labels_and_diffs(guarded_project):
    project, llm = guarded_project
    at = app("registro", llm=llm)
    assert at.selectbox(key="reg_prompt").value == "resposta_curta"
    versions = at.dataframe[0].value
    assert list(versions["versão"]) == [2, 1] and list(versions["rótulos"]) == ["production", "—"]
    yaml_shown = [c.value for c in at.code if c.language == "yaml"]
    assert yaml_shown and "name: resposta_curta" in yaml_shown[0]
    diff = [c.value for c in at.code if c.language == "diff"]
    assert diff and diff[0].startswith("--- resposta_curta@1") and "+++ resposta_curta@2" in diff[0]


def test_moving_a_label_runs_the_check_first_and_a_regression_needs_confirming(guarded_project):
    project, llm = guarded_project
    labels = project / "prompts" / "resposta_curta" / "labels.yaml"
    at = app("registro", llm=llm)
    at.selectbox(key="reg_label_resposta_curta").set_value("production").run()
    at.selectbox(key="reg_version_resposta_curta").set_value(1).run()
    assert not [b for b in at.button if b.label == "Aplicar rótulo"]  # nothing to apply before the check
    button(at, "Verificar regressão").click().run()
    assert not at.exception
    assert any("piorou" in e for e in texts(at, "error"))
    assert any("regressão" in m for m in texts(at, "markdown"))
    assert button(at, "Aplicar rótulo").disabled and "production: 2" in labels.read_text()
    at.checkbox(key="reg_force").check().run()
    button(at, "Aplicar rótulo").click().run()
    assert "production: 1" in labels.read_text()
    assert any("agora aponta para a v1" in s for s in texts(at, "success"))


def test_a_passing_check_lets_a_new_label_be_applied(guarded_project):
    project, llm = guarded_project
    at = app("registro", llm=llm)
    at.selectbox(key="reg_label_resposta_curta").set_value("(novo rótulo)").run()
    at.text_input(key="reg_new_resposta_curta").input("staging").run()
    at.selectbox(key="reg_version_resposta_curta").set_value(2).run()
    button(at, "Verificar regressão").click().run()
    assert any("Sem regressão" in s for s in texts(at, "success"))
    button(at, "Aplicar rótulo").click().run()
    assert "staging: 2" in (project / "prompts" / "resposta_curta" / "labels.yaml").read_text()


def test_labels_cannot_be_written_without_a_project(tmp_path, monkeypatch):
    monkeypatch.delenv("PROMPTKIT_PROJECT")
    monkeypatch.chdir(tmp_path)
    at = app("registro")
    assert at.selectbox(key="reg_prompt").value == "tutor"  # the prompt `promptkit ask` answers with
    at.selectbox(key="reg_prompt").set_value("rag_qa").run()
    at.selectbox(key="reg_label_rag_qa").set_value("(novo rótulo)").run()
    at.text_input(key="reg_new_rag_qa").input("staging").run()
    button(at, "Verificar regressão").click().run()
    assert any("Sem projeto" in w for w in texts(at, "warning"))
    assert not [b for b in at.button if b.label == "Aplicar rótulo"] and list(tmp_path.iterdir()) == []


# -- Moderação -----------------------------------------------------------------------------------------------


def test_moderation_shows_the_verdict_per_category_with_matches_and_score():
    at = app("moderacao", llm=FakeChatModel(default="Sim"))
    at.text_area(key="moderation_text").input("Vou te matar amanhã na saída da escola, seu idiota.")
    button(at, "Moderar").click().run()
    assert not at.exception
    (flag,) = texts(at, "error")
    assert flag.startswith("Sinalizado:") and "Violência" in flag and "Assédio" in flag
    table = at.dataframe[0].value
    violence = table[table["categoria"] == "Violência"].iloc[0]
    assert violence["veredito"] == "inseguro" and "vou te matar" in violence["trechos encontrados"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Limiar"] == "-0,43" and "," in metrics['Pontuação do modelo, log P("Não")']


def test_a_safe_text_is_safe():
    at = app("moderacao", llm=FakeChatModel(default="Sim"))
    at.text_area(key="moderation_text").input("Qual é a diferença entre few-shot e zero-shot?")
    button(at, "Moderar").click().run()
    assert texts(at, "success") == ["Seguro: nenhuma categoria sinalizada."]
