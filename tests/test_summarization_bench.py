"""The summarization benchmark's pieces that need no model: references, sources and ROUGE-L."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _bench():
    path = REPO / "benchmarks" / "bench_summarization.py"
    spec = importlib.util.spec_from_file_location("bench_summarization", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_references_point_at_corpus_files_without_front_matter():
    bench = _bench()
    rows = bench.load_references(bench.REFERENCES)
    assert len(rows) == 4 and {r["file"] for r in rows} == {
        "course_qa_a-summaries.jsonl",
        "course_qa_b-summaries.jsonl",
    }
    text = bench.source_text(rows[0]["source"])
    assert not text.startswith("---") and len(text.split()) > 100


def test_rouge_keeps_accented_words_whole():
    bench = _bench()
    assert bench.UnicodeTokenizer().tokenize("Não há ÍNDICE") == ["não", "há", "índice"]
    uni, default = bench.rouge_l([("a atenção não falha", "a atenção não falha"), ("um dois", "três")])
    assert uni[0] == 1.0 and uni[1] == 0.0 and default[0] == 1.0
