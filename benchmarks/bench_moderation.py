"""Moderation benchmark: precision, recall and false-positive rate per category and per language, for the rule
layer alone, the LLM classifier alone and their combinations, on ``eval/datasets/moderation.jsonl``.

    python benchmarks/bench_moderation.py                 # real default model, both splits
    python benchmarks/bench_moderation.py --rules-only    # no model
    python benchmarks/bench_moderation.py --json results/moderation.json

The lexicon was tuned on the ``dev`` split only; ``test`` is the honest figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from promptkit.moderation import CATEGORIES, check_rules, combine  # noqa: E402

DATASET = ROOT / "eval" / "datasets" / "moderation.jsonl"


def load_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def scores(rows: list[dict], preds: list[list[str]], categories: tuple[str, ...] = CATEGORIES) -> dict:
    """Per-category and micro-averaged P/R/FPR, plus the binary flagged-vs-safe view."""
    out: dict[str, dict] = {}
    totals = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    for c in categories:
        tp = sum(c in p and c in r["labels"] for r, p in zip(rows, preds, strict=True))
        fp = sum(c in p and c not in r["labels"] for r, p in zip(rows, preds, strict=True))
        fn = sum(c not in p and c in r["labels"] for r, p in zip(rows, preds, strict=True))
        tn = len(rows) - tp - fp - fn
        out[c] = _prf(tp, fp, fn, tn)
        for k, v in zip(("tp", "fp", "fn", "tn"), (tp, fp, fn, tn), strict=True):
            totals[k] += v
    out["micro"] = _prf(**totals)
    flag_tp = sum(bool(p) and bool(r["labels"]) for r, p in zip(rows, preds, strict=True))
    flag_fp = sum(bool(p) and not r["labels"] for r, p in zip(rows, preds, strict=True))
    flag_fn = sum(not p and bool(r["labels"]) for r, p in zip(rows, preds, strict=True))
    out["flagged"] = _prf(flag_tp, flag_fp, flag_fn, len(rows) - flag_tp - flag_fp - flag_fn)
    return out


def _prf(tp: int, fp: int, fn: int, tn: int) -> dict:
    return {
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "fpr": fp / (fp + tn) if fp + tn else None,
        "support": tp + fn,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
    }


def _fmt(x: float | None) -> str:
    return "  —  " if x is None else f"{x:5.2f}"


def table(title: str, result: dict) -> str:
    lines = [f"### {title}", "", "| category | P | R | FPR | support |", "|---|---|---|---|---|"]
    for key in (*CATEGORIES, "micro", "flagged"):
        s = result[key]
        lines.append(
            f"| {key} | {_fmt(s['precision'])} | {_fmt(s['recall'])} | {_fmt(s['fpr'])} | {s['support']} |"
        )
    return "\n".join(lines)


def run_llm(
    rows: list[dict], model: str | None, cache_mode: str
) -> tuple[list[list[str] | None], float, str]:
    from promptkit.cache import ReplayCache
    from promptkit.chains import load_chain
    from promptkit.paths import replay_cache_path

    overrides = {"name": model} if model else {}
    cache = ReplayCache(replay_cache_path(), mode=cache_mode)
    chain = load_chain("moderation", layers="llm", cache=cache, **overrides)
    t0 = time.perf_counter()
    outs = chain.batch([{"text": r["text"]} for r in rows])
    seconds = time.perf_counter() - t0
    preds: list[list[str] | None] = [o["categories"] if o["llm_parsed"] else None for o in outs]
    return preds, seconds, outs[0]["model"] if outs else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--rules-only", action="store_true", help="skip the LLM classifier")
    parser.add_argument("--model", help="LLM name (default: the default model)")
    parser.add_argument("--json", type=Path, help="also write all figures to this JSON file")
    parser.add_argument(
        "--cache",
        default="use",
        choices=("use", "refresh", "off", "strict"),
        help="replay cache mode for the LLM calls (default: use)",
    )
    args = parser.parse_args(argv)

    rows = load_rows(args.dataset)
    rules = [check_rules(r["text"]) for r in rows]
    systems: dict[str, list[list[str]]] = {"rules": [combine(h, None)["categories"] for h in rules]}
    meta: dict = {
        "dataset": str(args.dataset.relative_to(ROOT) if args.dataset.is_relative_to(ROOT) else args.dataset),
        "texts": len(rows),
    }
    if not args.rules_only:
        llm_preds, seconds, model_id = run_llm(rows, args.model, args.cache)
        unparsed = sum(p is None for p in llm_preds)
        meta.update(model=model_id, llm_seconds=round(seconds, 1), llm_unparsed=unparsed)
        systems["llm"] = [p or [] for p in llm_preds]
        systems["combined_any"] = [
            combine(h, p, policy="any")["categories"] for h, p in zip(rules, llm_preds, strict=True)
        ]
        systems["combined_confirm"] = [
            combine(h, p, policy="confirm")["categories"] for h, p in zip(rules, llm_preds, strict=True)
        ]
    report: dict = {"meta": meta, "results": {}}
    print(
        f"# Moderation benchmark ({meta['texts']} texts"
        + (
            f", model {meta.get('model')}, "
            f"LLM {meta.get('llm_seconds')} s, {meta.get('llm_unparsed')} unreadable answers"
            if "model" in meta
            else ""
        )
        + ")\n"
    )
    for split in ("dev", "test"):
        for lang in ("all", "pt", "en"):
            idx = [
                i for i, r in enumerate(rows) if r["split"] == split and (lang == "all" or r["lang"] == lang)
            ]
            sub = [rows[i] for i in idx]
            for system, preds in systems.items():
                result = scores(sub, [preds[i] for i in idx])
                report["results"][f"{split}/{lang}/{system}"] = result
                if lang == "all":
                    print(table(f"{split} · {system} · {len(sub)} texts", result) + "\n")
        print(f"## {split}: per language (micro P / R / FPR; flagged-vs-safe P / R / FPR)\n")
        print("| system | lang | micro P | micro R | micro FPR | flag P | flag R | flag FPR |")
        print("|---|---|---|---|---|---|---|---|")
        for system in systems:
            for lang in ("pt", "en"):
                r = report["results"][f"{split}/{lang}/{system}"]
                m, f = r["micro"], r["flagged"]
                print(
                    f"| {system} | {lang} | {_fmt(m['precision'])} | {_fmt(m['recall'])} | {_fmt(m['fpr'])} | "
                    f"{_fmt(f['precision'])} | {_fmt(f['recall'])} | {_fmt(f['fpr'])} |"
                )
        print()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
