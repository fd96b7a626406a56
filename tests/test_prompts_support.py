"""Helpers shared by the prompt registry tests (no tests here): a private copy of prompts/ and small files."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

FIXED_INPUTS = {
    "context": (
        'O Transformer foi apresentado em 2017 no artigo "Attention Is All You Need". '
        "Ele processa todos os tokens em paralelo e usa autoatenção."
    ),
    "question": "Em que ano o Transformer foi apresentado?",
    "text": "A aula sobre embeddings foi clara, mas o material chegou atrasado.",
    "max_words": "50",
    "language": "português",
    "answer_hint": "uma data, um ano ou um período",
    "sources": (
        "[1] (08-transformers.md — Transformers)\n"
        'O Transformer foi apresentado em 2017 no artigo "Attention Is All You Need".'
    ),
    "sentences": "## Atenção\n- A atenção distribui pesos entre os tokens.\n- O Transformer usa várias cabeças.",
}


def shipped_versions(name: str) -> list[int]:
    """The version numbers of ``prompts/<name>/v*.yaml`` in the repository, ascending."""
    return sorted(int(p.stem[1:]) for p in (REPO / "prompts" / name).glob("v*.yaml"))


def production_version(name: str) -> int:
    """The version the shipped ``production`` label of ``name`` points at."""
    import yaml

    return int(yaml.safe_load((REPO / "prompts" / name / "labels.yaml").read_text("utf-8"))["production"])


def copy_registry(tmp_path: Path, monkeypatch) -> Path:
    """Copy the shipped prompts/ into ``tmp_path`` and make it the project; returns the new prompts/."""
    shutil.copytree(REPO / "prompts", tmp_path / "prompts")
    (tmp_path / "chains").mkdir(exist_ok=True)
    monkeypatch.setenv("PROMPTKIT_PROJECT", str(tmp_path))
    return tmp_path / "prompts"


def keep_only_first_version(root: Path, name: str) -> None:
    """Drop every released version of ``name`` after v1 (files, labels, lock entries) from a copied registry, so a
    test can walk through creating v2 whatever versions the project ships."""
    from promptkit.prompts.lock import read_lock, write_lock

    for path in (root / name).glob("v*.yaml"):
        if path.stem != "v1":
            path.unlink()
    (root / name / "labels.yaml").unlink(missing_ok=True)
    lock = read_lock(root)
    lock[name] = {v: entry for v, entry in lock.get(name, {}).items() if v == "1"}
    write_lock(root, lock)


def write_version(root: Path, name: str, version: int, body: str) -> Path:
    """Write ``root/name/v<version>.yaml`` from a dedented YAML body (name/version added when absent)."""
    text = textwrap.dedent(body).lstrip("\n")
    if not text.startswith("name:"):
        text = f"name: {name}\nversion: {version}\n" + text
    path = root / name / f"v{version}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


SIMPLE = """
description: A small test prompt.
language: en
kind: text
input_variables: [question]
template: "Q: {question}\\nA:"
changelog: First.
"""
