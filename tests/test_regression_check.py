"""`promptkit eval baseline` / `eval check` and the label hook, end to end with a fake model in a copied project."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from test_prompts_support import shipped_versions

from promptkit.cli import main
from promptkit.testing import FakeChatModel

REPO = Path(__file__).resolve().parent.parent

# (id, context, question, answer or None for unanswerable)
ITEMS = [
    ("m01", "O artigo Attention Is All You Need foi publicado em 2017 por pesquisadores do Google.",
     "Em que ano foi publicado o artigo do Transformer?", "2017"),
    ("m02", "O MMLU reúne 57 tarefas de múltipla escolha em áreas como direito e medicina.",
     "Quantas tarefas compõem o MMLU?", "57"),
    ("m03", "O Word2Vec aprende vetores de palavras prevendo vizinhos numa janela de contexto.",
     "O que o Word2Vec aprende?", "vetores de palavras"),
    ("m04", "A técnica de cadeia de pensamento pede ao modelo que escreva os passos antes da resposta.",
     "O que a cadeia de pensamento pede ao modelo?", "escreva os passos"),
    ("m05", "O BERT foi treinado com a tarefa de modelagem de linguagem mascarada.",
     "Com que tarefa o BERT foi treinado?", "modelagem de linguagem mascarada"),
    ("m06", "Embeddings densos representam textos como vetores de números reais.",
     "Como embeddings densos representam textos?", "vetores de números reais"),
    ("m07", "O curso tem dezesseis módulos sobre modelos de linguagem.",
     "Quem fundou a universidade que oferece o curso?", None),
    ("m08", "A moderação combina regras e um classificador.",
     "Qual é a taxa de acerto do classificador?", None),
]


def _dataset(items=ITEMS) -> dict:
    paragraphs = []
    for qid, context, question, answer in items:
        qa = {"id": qid, "question": question, "is_impossible": answer is None, "split": "dev",
              "answers": [] if answer is None else [{"text": answer, "answer_start": context.index(answer)}]}
        paragraphs.append({"context": context, "qas": [qa]})
    return {"version": "v2.0", "data": [{"title": "mini", "paragraphs": paragraphs}]}


def respond(prompt: str) -> str:
    """Answers correctly when the question's paragraph reached the prompt, otherwise makes something up."""
    for _, context, question, answer in ITEMS:
        if question in prompt:
            if context not in prompt:
                return "a resposta está no material do curso"
            return answer if answer is not None else "sem resposta"
    return "sem resposta"


MADE: list[FakeChatModel] = []  # the fake models the chains were given, newest last

SUITE = """\
entries:
  - id: rag
    chain: rag_course
    prompt: rag_qa@production
    dataset: mini
    split: dev
    limit: 8
    metrics: [exact, f1]
    tolerances:
      exact: {max_drop: 2.0}
      f1: {max_drop: 2.0}
      ci_lower_bound: -5.0
      max_flips: 0
  - id: zero
    chain: qa_zero_shot
    dataset: mini
    split: dev
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A copy of the shipped prompts and chains with a small dataset and suite; the model is a fake."""
    root = tmp_path / "project"
    shutil.copytree(REPO / "prompts", root / "prompts")
    shutil.copytree(REPO / "chains", root / "chains")
    # this project's production rag_qa is the zero-shot v2 and its rag_course has no cross-check prompt, so the
    # call counts below are one call per question whatever the shipped chain does
    (root / "prompts" / "rag_qa" / "labels.yaml").write_text("production: 2\n", "utf-8")
    chain = root / "chains" / "rag_course.yaml"
    chain.write_text("".join(line for line in chain.read_text("utf-8").splitlines(keepends=True)
                             if not line.startswith("cross_check:")), "utf-8")
    (root / "eval" / "datasets").mkdir(parents=True)
    (root / "eval" / "suites").mkdir(parents=True)
    (root / "eval" / "datasets" / "mini.json").write_text(json.dumps(_dataset(), ensure_ascii=False), "utf-8")
    (root / "eval" / "suites" / "demo.yaml").write_text(SUITE, "utf-8")
    monkeypatch.setenv("PROMPTKIT_PROJECT", str(root))
    monkeypatch.chdir(root)
    made = MADE
    made.clear()

    def fake_load_llm(name=None, **settings):
        model = FakeChatModel(respond=respond)
        model.cache = settings.get("cache")
        made.append(model)
        return model

    import promptkit.llm

    monkeypatch.setattr(promptkit.llm, "load_llm", fake_load_llm)
    return root


def _record(project, capsys, *extra):
    assert main(["eval", "baseline", "demo", "--quiet", *extra]) == 0
    return capsys.readouterr().out


# the next free rag_qa version number
WORSE_V = 1 + shipped_versions("rag_qa")[-1]
WORSE = f"rag_qa@{WORSE_V}"


def _worse_prompt(project) -> None:
    """A new rag_qa version: the same prompt without the documents (the context instruction dropped)."""
    v2 = (project / "prompts" / "rag_qa" / "v2.yaml").read_text("utf-8")
    head, _, _ = v2.partition("messages:")
    _, _, tail = v2.partition("generation:")
    head = head.replace("version: 2", f"version: {WORSE_V}").replace("input_variables: [context, question]",
                                                            "input_variables: [question]")
    messages = (
        "messages:\n"
        "  - role: system\n"
        "    content: Responda em português com poucas palavras, ou escreva sem resposta.\n"
        "  - role: human\n"
        "    content: |-\n"
        "      Pergunta: {question}\n"
        "      Resposta:\n"
    )
    tail = tail.split("changelog:")[0] + "changelog: Sem os documentos, só a pergunta.\n"
    (project / "prompts" / "rag_qa" / f"v{WORSE_V}.yaml").write_text(head + messages + "generation:" + tail, "utf-8")


def test_baseline_records_results_fingerprint_and_only_the_calls_used(project, capsys):
    out = _record(project, capsys)
    assert "demo/rag: rag_qa@2" in out and "EM 100.0" in out
    folder = project / "eval" / "baselines" / "demo"
    rag = json.loads((folder / "rag.json").read_text("utf-8"))
    fp = rag["fingerprint"]
    assert fp["prompt_ref"] == "rag_qa@production" and fp["prompt"] == "rag_qa@2" and len(fp["prompt_hash"]) == 64
    assert fp["model"] == "fake-chat" and fp["split"] == "dev" and fp["limit"] == 8
    assert fp["model_settings"]["max_new_tokens"] == 32 and fp["chain_sha256"]
    assert len(rag["replay"]["keys"]) == 8 and rag["result"]["dataset"]["total"] == 8
    zero = json.loads((folder / "zero.json").read_text("utf-8"))
    conn = sqlite3.connect(folder / "replay.sqlite")
    stored = {k for (k,) in conn.execute("SELECT key FROM calls")}
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    conn.close()
    assert stored == set(rag["replay"]["keys"]) | set(zero["replay"]["keys"])
    assert not list(folder.glob("*.tmp")) and not list(folder.glob("*-wal"))

    # re-recording one entry keeps the other entry's calls
    _record(project, capsys, "--entry", "rag")
    conn = sqlite3.connect(folder / "replay.sqlite")
    assert {k for (k,) in conn.execute("SELECT key FROM calls")} == stored
    conn.close()


def test_unchanged_prompt_passes_in_strict_replay_without_touching_the_baseline(project, capsys):
    _record(project, capsys)
    replay = project / "eval" / "baselines" / "demo" / "replay.sqlite"
    before = replay.read_bytes()
    MADE.clear()
    assert main(["eval", "check", "demo", "--cache", "strict", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.count("PASS") == 2 and "cache strict: 8 replayed, 0 generated" in out
    assert "what changed: nothing" in out and "2 of 2 entries passed" in out
    assert all(not m.calls for m in MADE)  # nothing was generated
    assert replay.read_bytes() == before
    assert sorted(p.name for p in replay.parent.iterdir()) == ["rag.json", "replay.sqlite", "zero.json"]


def test_worse_prompt_is_caught_with_exit_1_and_flipped_items(project, capsys):
    _record(project, capsys)
    _worse_prompt(project)
    assert main(["prompts", "label", WORSE, "production", "--no-check"]) == 0
    capsys.readouterr()
    assert main(["eval", "check", "demo", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "what changed: prompt rag_qa@production: rag_qa@2" in out and f"→ {WORSE}" in out
    assert "REGRESSION" in out and "exact fell 75.0 points (100.0 → 25.0)" in out
    assert "6 item(s) flipped from correct to wrong (allowed 0): m01, m02, m03, m04, m05, m06" in out
    assert "m02: Quantas tarefas compõem o MMLU?" in out
    assert "8 generated" in out  # only the changed prompt's calls went to the model
    assert "1 of 2 entries passed; failed: demo/rag (regression)" in out
    # the second check replays the new calls from the user's cache
    assert main(["eval", "check", "demo", "--entry", "rag", "--quiet"]) == 1
    assert "8 replayed, 0 generated" in capsys.readouterr().out


def test_strict_replay_fails_on_a_cache_miss_with_the_re_record_command(project, capsys):
    _record(project, capsys)
    _worse_prompt(project)
    assert main(["prompts", "label", WORSE, "production", "--no-check"]) == 0
    capsys.readouterr()
    assert main(["eval", "check", "demo", "--entry", "rag", "--cache", "strict", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: strict replay of demo/rag: model calls are missing from "
                          "eval/baselines/demo/replay.sqlite (8 missing in the first batch)")
    assert "what changed: prompt rag_qa@production: rag_qa@2" in err
    assert "promptkit eval baseline" in err and "--entry rag" in err
    assert len(err.strip().splitlines()) == 1


def test_changed_dataset_is_reported_as_such(project, capsys):
    _record(project, capsys)
    data = _dataset()
    data["data"][0]["paragraphs"][0]["qas"][0]["question"] = "Em que ano saiu o artigo do Transformer?"
    (project / "eval" / "datasets" / "mini.json").write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    assert main(["eval", "check", "demo", "--cache", "strict", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "DATASET CHANGED (not a regression): dataset changed: mini sha256" in out
    assert "re-record the baseline: `promptkit eval baseline" in out
    assert "REGRESSION" not in out and "failed: demo/rag (dataset changed), demo/zero (dataset changed)" in out


def test_changed_suite_entry_asks_for_a_new_baseline(project, capsys):
    _record(project, capsys)
    suite = project / "eval" / "suites" / "demo.yaml"
    suite.write_text(suite.read_text("utf-8").replace("limit: 8", "limit: 4"), "utf-8")
    assert main(["eval", "check", "demo", "--entry", "rag", "--cache", "strict", "--quiet"]) == 1
    assert "SUITE ENTRY CHANGED since the baseline: limit: 8 → 4" in capsys.readouterr().out


def test_missing_baseline_says_how_to_record_it(project, capsys):
    assert main(["eval", "check", "demo", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "no baseline recorded for suite 'demo' entry 'rag'" in err and "promptkit eval baseline" in err


def test_moving_the_production_label_runs_the_check(project, capsys):
    _record(project, capsys)
    _worse_prompt(project)
    assert main(["prompts", "label", WORSE, "production"]) == 1
    out = capsys.readouterr().out
    assert f"rag_qa@production -> v{WORSE_V} (was v2)" in out
    assert "checking demo/rag against their baselines" in out and "demo/zero" not in out
    assert "REGRESSION" in out and "m01" in out
    assert "to roll back: promptkit prompts label rag_qa@2 production --no-check" in out
    # moving it back passes
    assert main(["prompts", "label", "rag_qa@2", "production"]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "1 of 1 entries passed" in out


def test_label_hook_can_be_skipped_and_ignores_unused_labels(project, capsys):
    _record(project, capsys)
    _worse_prompt(project)
    assert main(["prompts", "label", WORSE, "production", "--no-check"]) == 0
    out = capsys.readouterr().out
    assert "checking" not in out and "run `promptkit eval check`" in out
    assert main(["prompts", "label", "rag_qa@2", "staging"]) == 0
    assert "checking" not in capsys.readouterr().out


def test_a_changed_chain_setting_is_named(project, capsys):
    _record(project, capsys)
    chain = project / "chains" / "qa_zero_shot.yaml"
    chain.write_text(chain.read_text("utf-8").replace("ground: 0.7", "ground: 0.9"), "utf-8")
    assert main(["eval", "check", "demo", "--entry", "zero", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "chain qa_zero_shot definition changed: postprocess [" in out
    assert "{'ground': 0.7}] → [" in out and "{'ground': 0.9}]" in out
