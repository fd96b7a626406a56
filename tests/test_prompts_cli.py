"""`promptkit prompts …` commands: output and exit codes (0 ok, 1 a check failed, 2 bad input)."""

from __future__ import annotations

import pytest
from test_prompts_support import copy_registry, keep_only_first_version, production_version

from promptkit.cli import main


@pytest.fixture
def registry(tmp_path, monkeypatch):
    return copy_registry(tmp_path, monkeypatch)


def test_list(capsys):
    assert main(["prompts", "list"]) == 0
    out = capsys.readouterr().out
    prod = production_version("rag_qa")
    assert "rag_qa" in out and f"production->{prod}" in out and "1,2" in out and "en" in out


def test_show(capsys):
    assert main(["prompts", "show", "rag_qa@production"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"# rag_qa@{production_version('rag_qa')}") and "<documentos>" in out


def test_render(capsys):
    code = main(
        ["prompts", "render", "qa_en", "--var", "context=Paris is in France.", "--var", "question=Where?"]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "Passage:\nParis is in France.\n\nQuestion: Where?\n" in out and out.endswith("Answer:\n")


def test_render_fewshot_with_fake_embeddings(capsys):
    code = main(
        ["prompts", "render", "classify_few_shot", "--fake-embeddings", "--var", "text=Adorei a aula"]
    )
    assert code == 0
    assert capsys.readouterr().out.count("[ai]") == 6


def test_render_missing_variable_exits_2(capsys):
    assert main(["prompts", "render", "qa_en", "--var", "context=c"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: qa_en@") and "is missing variable(s) question" in err and err.count("\n") == 1


def test_render_bad_var_syntax(capsys):
    assert main(["prompts", "render", "qa_en", "--var", "context"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err


def test_unknown_prompt_exits_2(capsys):
    assert main(["prompts", "show", "rag_qx"]) == 2
    assert "did you mean 'rag_qa'" in capsys.readouterr().err


def test_diff(capsys):
    assert main(["prompts", "diff", "rag_qa@1", "rag_qa@2"]) == 0
    assert "+    <documentos>" in capsys.readouterr().out
    assert main(["prompts", "diff", f"rag_qa@{production_version('rag_qa')}", "rag_qa"]) == 0
    assert "(no differences)" in capsys.readouterr().out


def test_check_clean_then_tampered(registry, capsys):
    assert main(["prompts", "check"]) == 0
    assert "0 error(s)" in capsys.readouterr().out
    path = registry / "summarize" / "v1.yaml"
    path.write_text(path.read_text().replace("no máximo", "até"))
    assert main(["prompts", "check"]) == 1
    out = capsys.readouterr().out
    assert "summarize@1" in out and "create a new version instead" in out


def test_check_dataset(repo, capsys):
    code = main(["prompts", "check", "--dataset", str(repo / "eval" / "datasets" / "sentiment_pt.jsonl")])
    assert code == 0


def test_new_edit_lock_label_cycle(registry, capsys):
    keep_only_first_version(registry, "qa_en")
    assert main(["prompts", "new", "qa_en", "--from", "qa_en@1"]) == 0
    assert "unreleased" in capsys.readouterr().out
    assert main(["prompts", "lock"]) == 2  # an unedited copy duplicates v1
    assert "duplicates qa_en@1" in capsys.readouterr().err
    assert main(["prompts", "new", "qa_en", "--from", "qa_en@1"]) == 2
    path = registry / "qa_en" / "v2.yaml"
    text = path.read_text().replace("Answer:", "Short answer:")
    path.write_text(text.replace(text.split("changelog: ")[1].splitlines()[0], "Asks for a short answer."))
    assert main(["prompts", "label", "qa_en@2", "production"]) == 0
    out = capsys.readouterr().out
    assert "qa_en@production -> v2" in out and "promptkit eval check" in out
    assert main(["prompts", "lock"]) == 0
    assert "nothing to release" in capsys.readouterr().out
    assert main(["prompts", "check"]) == 0


def test_label_staging_has_no_reminder(registry, capsys):
    assert main(["prompts", "label", "rag_qa@1", "staging"]) == 0
    assert "eval check" not in capsys.readouterr().out


def test_bare_group_prints_help(capsys):
    assert main(["prompts"]) == 2


def test_check_takes_dataset_names(capsys):
    for name in ("english_qa", "course_qa", "moderation"):
        assert main(["prompts", "check", "--dataset", name]) == 0, name
    assert "0 error(s)" in capsys.readouterr().out
    assert main(["prompts", "check", "--dataset", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown dataset 'nope'") and "course_qa" in err
