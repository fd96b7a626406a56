"""`promptkit run`, `ask` and `chains` commands: output and exit codes (fake-free paths only)."""

from __future__ import annotations

import json

from promptkit.cli import main


def test_chains_list(capsys):
    assert main(["chains", "list"]) == 0
    out = capsys.readouterr().out
    assert "rag_course" in out and "rag_qa@production" in out
    assert main(["chains", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} >= {"summarize", "moderation", "qa_en"}


def test_chains_show(capsys):
    assert main(["chains", "show", "rag_course"]) == 0
    assert "max_context_tokens: 1200" in capsys.readouterr().out


def test_run_moderation_rules_exit_codes(capsys):
    assert main(["run", "moderation", "--input", "text=vou te pegar na saida", "--set", "layers=rules"]) == 1
    assert "flagged: violence" in capsys.readouterr().out
    assert main(["run", "moderation", "-i", "text=bom dia turma", "--set", "layers=rules", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["flagged"] is False


def test_run_reads_inputs_from_files(tmp_path, capsys):
    f = tmp_path / "t.txt"
    f.write_text("manda nudes", encoding="utf-8")
    assert main(["run", "moderation", "-i", f"text=@{f}", "--set", "layers=rules"]) == 1


def test_user_errors_exit_2(capsys):
    assert main(["run", "no_such_chain", "-i", "x=1"]) == 2
    assert "unknown chain 'no_such_chain'" in capsys.readouterr().err
    assert main(["run", "moderation"]) == 2
    assert "needs input" in capsys.readouterr().err
    assert main(["run", "moderation", "-i", "text"]) == 2
    assert main(["run", "moderation", "-i", "text=@/no/such/file", "--set", "layers=rules"]) == 2
    assert main(["run", "moderation", "-i", "text=x", "--set", "colour=red"]) == 2
    assert "unknown setting 'colour'" in capsys.readouterr().err
    assert main(["ask", "   "]) == 2
    assert main(["chains"]) == 2
