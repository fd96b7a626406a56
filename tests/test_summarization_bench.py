"""The summarization benchmark's pieces that need no model: the held-out rows per split and the extractive run."""

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


def test_rows_are_read_per_split():
    bench = _bench()
    dev = bench.load_rows(bench.DATASET, "dev")
    test = bench.load_rows(bench.DATASET, "test")
    assert dev and test and not {r["id"] for r in dev} & {r["id"] for r in test}
    assert all(r["split"] == "dev" and r["points"] and r["max_words"] in (60, 80, 120) for r in dev)


def test_extractive_run_prints_the_scores_within_the_limits(capsys, tmp_path):
    bench = _bench()
    code = bench.main(["--split", "fresh", "--extractive", "--out", str(tmp_path / "s.md")])
    out = capsys.readouterr().out
    assert code == 0 and "| all | 6 |" in out and "key-point coverage" in out
    text = (tmp_path / "s.md").read_text(encoding="utf-8")
    assert text.count("## s-f") == 6 and "coverage" in text
