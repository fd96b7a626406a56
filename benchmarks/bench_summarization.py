"""Summarization benchmark: key-point coverage, faithfulness and length of the ``summarize`` chain on the held-out
sources of ``eval/datasets/summary_sources.jsonl``.

    python benchmarks/bench_summarization.py --split dev                   # the chain as shipped (production prompt)
    python benchmarks/bench_summarization.py --split dev --prompt summarize@2
    python benchmarks/bench_summarization.py --split dev --extractive      # no model: the extracted sentences
    python benchmarks/bench_summarization.py --split test --out /tmp/summaries_test.md

Each source is summarised with its own ``max_words`` (60, 80 or 120) and language. Scores come from
:mod:`promptkit.kind_metrics`, which applies the long-form rules of :mod:`promptkit.grounding`: coverage is the
share of an item's key points the summary states (``fact_found``, as key facts), faithfulness the share of summary
sentences supported by the source (``is_supported`` at 0.6), and "within limit" the share of summaries at or
under ``max_words``. Model calls go through the replay
cache, so a second run replays. ``--out`` writes every summary with its uncovered points and unsupported
sentences, for reading.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from promptkit.kind_metrics import summary_report  # noqa: E402

DATASET = ROOT / "eval" / "datasets" / "summary_sources.jsonl"


def load_rows(path: Path, split: str) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if split == "all" or r["split"] == split]


def run_chain(
    rows: list[dict], prompt: str | None, model: str | None, cache_mode: str
) -> tuple[list[dict], dict]:
    from promptkit.cache import ReplayCache
    from promptkit.chains import load_chain
    from promptkit.paths import replay_cache_path

    overrides: dict = {"name": model} if model else {}
    chain = load_chain(
        "summarize", prompt=prompt, cache=ReplayCache(replay_cache_path(), mode=cache_mode), **overrides
    )
    t0 = time.perf_counter()
    outs = chain.batch(
        [
            {
                "text": r["text"],
                "max_words": r["max_words"],
                "language": "en" if r["lang"] == "en" else "pt-BR",
            }
            for r in rows
        ]
    )
    first = outs[0] if outs else {}
    return outs, {
        "model": first.get("model"),
        "prompt": first.get("prompt"),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def run_extractive(rows: list[dict]) -> tuple[list[dict], dict]:
    from promptkit.chains.summary_text import extractive_summary

    outs = [{"answer": extractive_summary(r["text"], r["max_words"], r["lang"])} for r in rows]
    return outs, {"model": None, "prompt": "extractive (no model)", "seconds": 0.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("dev", "test", "fresh", "all"), default="dev")
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--prompt", help="summarize prompt ref (default: the chain's, summarize@production)")
    parser.add_argument("--model", help="LLM name (default: the default model)")
    parser.add_argument("--extractive", action="store_true", help="no model: the chain's extracted sentences")
    parser.add_argument(
        "--extract-factor",
        type=float,
        help="extract-then-rewrite prompts: word budget of the extract, as a multiple of max_words "
        "(default: the chain's EXTRACT_FACTOR)",
    )
    parser.add_argument(
        "--fill-at",
        type=float,
        help="extract-then-rewrite: complete summaries shorter than this share of max_words with the "
        "extracted sentences (default: the chain's FILL_AT; 0 turns it off)",
    )
    parser.add_argument(
        "--out", type=Path, help="write every summary and what it missed to this Markdown file"
    )
    parser.add_argument("--json", type=Path, help="write the figures to this JSON file")
    parser.add_argument(
        "--cache",
        default="use",
        choices=("use", "refresh", "off", "strict"),
        help="replay cache mode (default: use)",
    )
    args = parser.parse_args(argv)

    import promptkit.chains.summarize as summarize_chain

    if args.extract_factor:
        summarize_chain.EXTRACT_FACTOR = args.extract_factor
    if args.fill_at is not None:
        summarize_chain.FILL_AT = args.fill_at
    rows = load_rows(args.dataset, args.split)
    if not rows:
        print(f"no rows in split {args.split!r} of {args.dataset}", file=sys.stderr)
        return 2
    outs, meta = (
        run_extractive(rows) if args.extractive else run_chain(rows, args.prompt, args.model, args.cache)
    )
    report = summary_report(rows, outs)
    head = f"split {args.split}, {len(rows)} sources, prompt {meta['prompt']}, model {meta['model']}, {meta['seconds']} s"
    print(f"# Summaries ({head})\n")
    print("| lang | n | key-point coverage | faithfulness | within limit |")
    print("|---|---|---|---|---|")
    for lang, s in report["summary"].items():
        print(
            f"| {lang} | {s['n']} | {s['coverage']:.2f} | {s['faithfulness']:.2f} | {s['within_limit']:.2f} |"
        )
    shapes: dict[str, list[int]] = {}
    for k, r in enumerate(rows):
        shapes.setdefault(r["shape"], []).append(k)
    print("\n| shape | n | coverage | faithfulness |\n|---|---|---|---|")
    for shape, idx in sorted(shapes.items()):
        cov = sum(report["items"][k]["coverage"] for k in idx) / len(idx)
        fai = sum(report["items"][k]["faithfulness"] for k in idx) / len(idx)
        print(f"| {shape} | {len(idx)} | {cov:.2f} | {fai:.2f} |")
    if args.out:
        lines = [f"# Summaries ({head})", ""]
        for r, o, s in zip(rows, outs, report["items"], strict=True):
            lines += [
                f"## {r['id']} ({r['lang']}, {r['shape']}, max {r['max_words']} words)",
                "",
                f"coverage {s['coverage']:.2f}, faithfulness {s['faithfulness']:.2f}, {s['words']} words",
                "",
                o["answer"] or "(empty)",
                "",
            ]
            missed = [p for p, ok in zip(r["points"], s["covered"], strict=True) if not ok]
            if missed:
                lines += ["Points not covered:", *[f"- {p}" for p in missed], ""]
            if s["unsupported"]:
                lines += ["Unsupported sentences:", *[f"- {u}" for u in s["unsupported"]], ""]
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {"meta": meta, "split": args.split, "summary": report["summary"]},
                ensure_ascii=False,
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
