"""Moderation benchmark: precision, recall and false-positive rate per category and per language, for the rule
layer alone, the LLM classifier alone and their combinations, on ``eval/datasets/moderation.jsonl``.

    python benchmarks/bench_moderation.py                 # real default model, production prompt, both splits
    python benchmarks/bench_moderation.py --rules-only    # no model
    python benchmarks/bench_moderation.py --split dev --sweep   # tune the yes/no threshold on dev only
    python benchmarks/bench_moderation.py --prompt moderation@1 # the JSON classifier
    python benchmarks/bench_moderation.py --json results/moderation.json

The lexicon and the threshold were tuned on the ``dev`` split only; ``test`` is the honest figure. The headline
is the unsafe-vs-safe view ("flagged"): recall of unsafe texts (any category) and false-positive rate on safe
texts, per language. With a yes/no scoring prompt (moderation@2) the LLM-only system is "score >= threshold"
and reports its one category as ``unspecified``, so its per-category rows are empty by construction.
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
from promptkit.moderation.verdict import UNSPECIFIED  # noqa: E402

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


def run_llm(rows: list[dict], model: str | None, cache_mode: str, prompt: str | None) -> dict:
    """The LLM layer alone over ``rows``: categories (JSON prompt) or yes/no scores (scoring prompt)."""
    from promptkit.cache import ReplayCache
    from promptkit.chains import load_chain
    from promptkit.paths import replay_cache_path

    overrides = {"name": model} if model else {}
    cache = ReplayCache(replay_cache_path(), mode=cache_mode)
    chain = load_chain("moderation", layers="llm", cache=cache, prompt=prompt, **overrides)
    t0 = time.perf_counter()
    outs = chain.batch([{"text": r["text"]} for r in rows])
    seconds = time.perf_counter() - t0
    first = outs[0] if outs else {}
    out: dict = {"seconds": seconds, "model": first.get("model", ""), "prompt": first.get("prompt", "")}
    if first.get("threshold") is not None:
        out["scores"] = [o["llm_score"] for o in outs]
        out["threshold"] = first["threshold"]
    else:
        out["categories"] = [o["categories"] if o["llm_parsed"] else None for o in outs]
    return out


def sweep(rows: list[dict], scores_: list[float]) -> str:
    """Unsafe-vs-safe recall and FPR of "score >= t" for the observed score levels t, per language."""
    lines = ["| threshold | pt R | pt FPR | en R | en FPR | all R | all FPR |", "|---|---|---|---|---|---|---|"]
    values = sorted({round(v, 2) for v in scores_})  # the scores' own levels (bf16 scores come in steps)
    step = max(1, len(values) // 24)
    for t in values[::step]:
        cells = []
        for lang in ("pt", "en", "all"):
            idx = [i for i, r in enumerate(rows) if lang == "all" or r["lang"] == lang]
            pos = [i for i in idx if rows[i]["labels"]]
            neg = [i for i in idx if not rows[i]["labels"]]
            rec = sum(scores_[i] >= t for i in pos) / len(pos) if pos else None
            fpr = sum(scores_[i] >= t for i in neg) / len(neg) if neg else None
            cells += [_fmt(rec), _fmt(fpr)]
        lines.append(f"| {t:+.2f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--rules-only", action="store_true", help="skip the LLM classifier")
    parser.add_argument("--model", help="LLM name (default: the default model)")
    parser.add_argument("--prompt", help="moderation prompt ref (default: the chain's, moderation@production)")
    parser.add_argument("--threshold", type=float, help="yes/no threshold (default: the chain's)")
    parser.add_argument("--split", choices=("dev", "test", "all"), default="all", help="texts to run (default all)")
    parser.add_argument("--sweep", action="store_true", help="print recall/FPR per threshold (tune on dev only)")
    parser.add_argument("--json", type=Path, help="also write all figures to this JSON file")
    parser.add_argument(
        "--cache",
        default="use",
        choices=("use", "refresh", "off", "strict"),
        help="replay cache mode for the LLM calls (default: use)",
    )
    args = parser.parse_args(argv)

    rows = load_rows(args.dataset)
    if args.split != "all":
        rows = [r for r in rows if r["split"] == args.split]
    rules = [check_rules(r["text"]) for r in rows]
    systems: dict[str, list[list[str]]] = {"rules": [combine(h, None)["categories"] for h in rules]}
    meta: dict = {
        "dataset": str(args.dataset.relative_to(ROOT) if args.dataset.is_relative_to(ROOT) else args.dataset),
        "texts": len(rows),
    }
    sweep_text = ""
    if not args.rules_only:
        llm = run_llm(rows, args.model, args.cache, args.prompt)
        meta.update(model=llm["model"], prompt=llm["prompt"], llm_seconds=round(llm["seconds"], 1))
        if "scores" in llm:
            threshold = args.threshold if args.threshold is not None else llm["threshold"]
            meta["threshold"] = threshold
            unsafe = [v >= threshold for v in llm["scores"]]
            systems["llm"] = [[UNSPECIFIED] if u else [] for u in unsafe]
            for policy in ("any", "confirm"):
                systems[f"combined_{policy}"] = [
                    combine(h, None, policy=policy, llm_unsafe=u)["categories"]
                    for h, u in zip(rules, unsafe, strict=True)
                ]
            if args.sweep:
                sweep_text = sweep(rows, llm["scores"])
        else:
            llm_preds = llm["categories"]
            meta["llm_unparsed"] = sum(p is None for p in llm_preds)
            systems["llm"] = [p or [] for p in llm_preds]
            for policy in ("any", "confirm"):
                systems[f"combined_{policy}"] = [
                    combine(h, p, policy=policy)["categories"] for h, p in zip(rules, llm_preds, strict=True)
                ]
    report: dict = {"meta": meta, "results": {}}
    described = ", ".join(f"{k} {v}" for k, v in meta.items() if k not in ("dataset",))
    print(f"# Moderation benchmark ({described})\n")
    if sweep_text:
        print("## Threshold sweep (LLM alone, unsafe-vs-safe)\n\n" + sweep_text + "\n")
    for split in ("dev", "test"):
        if args.split not in ("all", split):
            continue
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
        print(f"## {split}: unsafe-vs-safe per language (P / R / FPR), and micro per-category P / R\n")
        print("| system | lang | unsafe P | unsafe R | FPR | micro P | micro R |")
        print("|---|---|---|---|---|---|---|")
        for system in systems:
            for lang in ("pt", "en"):
                r = report["results"][f"{split}/{lang}/{system}"]
                m, f = r["micro"], r["flagged"]
                print(
                    f"| {system} | {lang} | {_fmt(f['precision'])} | {_fmt(f['recall'])} | {_fmt(f['fpr'])} | "
                    f"{_fmt(m['precision'])} | {_fmt(m['recall'])} |"
                )
        print()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
