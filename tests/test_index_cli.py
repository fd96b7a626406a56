"""`promptkit index build|search|info`: output and exit codes (fake embeddings, temporary folders)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptkit.cli import main
from promptkit.testing import FakeEmbeddings


@pytest.fixture(autouse=True)
def fake_default_embeddings(monkeypatch):
    import promptkit.embeddings as embedding

    monkeypatch.setattr(embedding, "default_embeddings", lambda: FakeEmbeddings())
    monkeypatch.setattr(embedding, "default_embeddings_id", lambda: FakeEmbeddings().model_id)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "notas"
    root.mkdir()
    (root / "a.md").write_text("---\ntitle: Autoencoders\n---\n\n## Gargalo\n\nO codificador comprime a entrada.\n")
    (root / "b.txt").write_text("A temperatura controla a aleatoriedade da amostragem.\n")
    (root / "c.txt").write_bytes(b"")
    return root


def test_build_then_search(corpus: Path, tmp_path: Path, capsys):
    out = tmp_path / "ix"
    assert main(["index", "build", "--corpus", str(corpus), "--out", str(out), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "indexed 2 file(s)" in captured.out and "2 added" in captured.out
    assert "warning: notas/c.txt: skipped, the file is empty" in captured.err

    for mode in ("bm25", "dense", "hybrid"):
        assert main(["index", "search", "temperatura amostragem", "--index", str(out), "-k", "1", "--mode", mode]) == 0
        printed = capsys.readouterr().out
        assert "[1] notas/b.txt #0" in printed and "score=" in printed

    assert main(["index", "info", "--index", str(out)]) == 0
    assert "verified" in capsys.readouterr().out


def test_search_default_index_is_built_on_first_use(capsys):
    assert main(["index", "search", "autoencoder", "-k", "2", "--mode", "bm25"]) == 0
    assert "corpus/06-autoencoders.md" in capsys.readouterr().out


def test_user_errors_exit_2(corpus: Path, tmp_path: Path, capsys):
    assert main(["index", "build", "--corpus", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["index", "search", "x", "--index", str(tmp_path / "none")]) == 2
    assert "no index at" in capsys.readouterr().err

    out = tmp_path / "ix"
    assert main(["index", "build", "--corpus", str(corpus), "--out", str(out), "--no-progress"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    chunks = out / manifest["chunks"]["file"]
    chunks.write_text(chunks.read_text().replace("comprime", "expande"))
    capsys.readouterr()
    assert main(["index", "search", "codificador", "--index", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and chunks.name in err and f"promptkit index build --out {out}" in err
    assert main(["index", "info", "--index", str(out)]) == 2
    assert main(["index", "search", "x", "-k", "0", "--index", str(out)]) == 2
    assert main(["index"]) == 2
    with pytest.raises(SystemExit) as usage:
        main(["index", "search", "x", "--mode", "sparse"])
    assert usage.value.code == 2


def test_no_match_exits_1(corpus: Path, tmp_path: Path, capsys):
    out = tmp_path / "ix"
    main(["index", "build", "--corpus", str(corpus), "--out", str(out), "--no-progress"])
    assert main(["index", "search", "xyzzy", "--index", str(out), "--mode", "bm25"]) == 1


def _mode_choices(argv_prefix: list[str]) -> tuple[str, ...]:
    import argparse

    from promptkit.cli import build_parser

    parser = build_parser()
    for name in argv_prefix:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return tuple(next(a for a in parser._actions if "--mode" in a.option_strings).choices)


def test_mode_options_offer_the_index_modes():
    from promptkit.index import MODES

    assert _mode_choices(["index", "search"]) == MODES
    assert _mode_choices(["ask"]) == MODES


def test_search_in_mmr_mode(corpus: Path, tmp_path: Path, capsys):
    out = tmp_path / "ix"
    main(["index", "build", "--corpus", str(corpus), "--out", str(out), "--no-progress"])
    capsys.readouterr()
    argv = ["index", "search", "temperatura amostragem", "--index", str(out), "-k", "2", "--mode", "mmr"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "[1] notas/b.txt #0" in printed and "[2] notas/a.md #0" in printed


def test_the_default_index_built_from_notes_is_searched_not_replaced(corpus: Path, capsys):
    """`index build --corpus notas/` without --out fills the default location; later commands keep it."""
    assert main(["index", "build", "--corpus", str(corpus), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["index", "search", "temperatura amostragem", "-k", "1", "--mode", "bm25"]) == 0
    assert "[1] notas/b.txt #0" in capsys.readouterr().out


def test_ask_on_an_index_whose_corpus_is_gone(corpus: Path, tmp_path: Path, capsys):
    import shutil

    out = tmp_path / "meu-indice"
    main(["index", "build", "--corpus", str(corpus), "--out", str(out), "--no-progress"])
    files = {p.name: p.read_bytes() for p in out.iterdir() if p.name != ".lock"}
    shutil.rmtree(corpus)
    capsys.readouterr()
    assert main(["ask", "O que a temperatura controla?", "--index", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert f"{corpus.resolve()}, which no longer exists" in err
    assert f"promptkit index build --corpus DIR --out {out}" in err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name != ".lock"} == files
