"""Summarization benchmark: ROUGE-L of the ``summarize`` chain against reference summaries of course modules.

    python benchmarks/bench_summarization.py                       # production prompts, real default model
    python benchmarks/bench_summarization.py --prompt summarize@1  # another single-pass prompt version
    python benchmarks/bench_summarization.py --out eval/summaries_results.md

References: ``eval/datasets/parts/*-summaries.jsonl`` (one ``{"id", "source", "reference"}`` per line; ``source``
is a corpus file). The front matter of each source file is dropped before summarising. ROUGE-L F is computed with
``rouge-score`` over lower-cased Unicode word tokens (its default tokenizer keeps only ``a-z0-9`` and would cut
Portuguese words such as "não" in two); the score with the package's default tokenizer is printed beside it.
The generated summaries are written to a Markdown file so they can be read and checked by hand.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

REFERENCES = sorted((ROOT / "eval" / "datasets" / "parts").glob("*-summaries.jsonl"))
OUT = ROOT / "eval" / "summaries_results.md"
_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)
_WORD = re.compile(r"\w+", re.UNICODE)


class UnicodeTokenizer:
    """Lower-cased ``\\w+`` tokens, so accented Portuguese words stay whole."""

    def tokenize(self, text: str) -> list[str]:
        return _WORD.findall(text.lower())


def load_references(paths: list[Path]) -> list[dict]:
    rows = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rows.append({**json.loads(line), "file": path.name})
    return rows


def source_text(source: str) -> str:
    return _FRONT_MATTER.sub("", (ROOT / source).read_text(encoding="utf-8")).strip()


def rouge_l(pairs: list[tuple[str, str]]) -> tuple[list[float], list[float]]:
    """ROUGE-L F per (reference, summary) pair: Unicode tokenizer, then the package's default tokenizer."""
    from rouge_score import rouge_scorer

    uni = rouge_scorer.RougeScorer(["rougeL"], tokenizer=UnicodeTokenizer())
    default = rouge_scorer.RougeScorer(["rougeL"])
    return (
        [uni.score(ref, hyp)["rougeL"].fmeasure for ref, hyp in pairs],
        [default.score(ref, hyp)["rougeL"].fmeasure for ref, hyp in pairs],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompt", help="single-pass prompt ref (default: the chain's, summarize@production)")
    parser.add_argument("--map-prompt", help="map prompt ref for long texts (default: the chain's)")
    parser.add_argument("--reduce-prompt", help="combine prompt ref for long texts (default: the chain's)")
    parser.add_argument("--model", help="LLM name (default: the default model)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"Markdown with the summaries (default {OUT.name})")
    parser.add_argument(
        "--cache", default="use", choices=("use", "refresh", "off", "strict"), help="replay cache mode"
    )
    args = parser.parse_args(argv)

    from promptkit.cache import ReplayCache
    from promptkit.chains import load_chain
    from promptkit.paths import replay_cache_path

    overrides: dict = {"name": args.model} if args.model else {}
    summarize: dict = {}
    if args.map_prompt:
        summarize["map_prompt"] = args.map_prompt
    if args.reduce_prompt:
        summarize["reduce_prompt"] = args.reduce_prompt
    if summarize:
        overrides["summarize"] = summarize
    chain = load_chain(
        "summarize", prompt=args.prompt, cache=ReplayCache(replay_cache_path(), mode=args.cache), **overrides
    )
    rows = load_references(REFERENCES)
    t0 = time.perf_counter()
    outs = chain.batch([{"text": source_text(r["source"])} for r in rows])
    seconds = time.perf_counter() - t0
    uni, default = rouge_l([(r["reference"], o["answer"]) for r, o in zip(rows, outs, strict=True)])
    first = outs[0]
    prompts = first["prompt"] + (
        f" (map {first['stage_prompts']['map']}, combine {first['stage_prompts']['reduce']})"
        if first.get("stage_prompts")
        else ""
    )
    head = f"model {first['model']}, prompt {prompts}, {len(rows)} texts, {seconds:.1f} s"
    lines = [
        "# Summaries of course modules (ROUGE-L)",
        "",
        f"Command: `{' '.join(['python benchmarks/bench_summarization.py', *(argv or sys.argv[1:])])}`",
        f"({head}).",
        "",
        "| reference file | id | mode | words | ROUGE-L F | ROUGE-L F (default tokenizer) |",
        "|---|---|---|---|---|---|",
    ]
    for r, o, u, d in zip(rows, outs, uni, default, strict=True):
        lines.append(f"| {r['file']} | {r['id']} | {o['mode']} | {o['words']} | {u:.3f} | {d:.3f} |")
    lines.append(f"| **mean** | | | | **{sum(uni) / len(uni):.3f}** | {sum(default) / len(default):.3f} |")
    for r, o in zip(rows, outs, strict=True):
        lines += ["", f"## {r['id']}", "", "**Generated:**", "", o["answer"]]
        lines += ["", "**Reference:**", "", r["reference"]]
    text = "\n".join(lines) + "\n"
    print(f"# ROUGE-L ({head})")
    for r, u in zip(rows, uni, strict=True):
        print(f"{r['file']:40s} {r['id']:45s} ROUGE-L F {u:.3f}")
    print(f"mean ROUGE-L F {sum(uni) / len(uni):.3f} (default tokenizer {sum(default) / len(default):.3f})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"summaries written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
