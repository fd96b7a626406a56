"""Classification benchmark: accuracy, macro-F1, per-label figures and the confusion matrix of the sentiment
chains on the held-out comments of ``eval/datasets/student_comments.jsonl``.

    python benchmarks/bench_classification.py --split dev                     # the shipped chains
    python benchmarks/bench_classification.py --split dev --chain classify_few_shot --prompt classify_few_shot@1
    python benchmarks/bench_classification.py --split dev --fit               # refit the probe on dev
    python benchmarks/bench_classification.py --split test                    # report only

Unparseable answers are counted in their own column, never mapped to a label. Model calls and hidden states go
through the replay cache, so a second run replays.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from promptkit.kind_metrics import UNPARSEABLE, classification_report  # noqa: E402

DATASET = ROOT / "eval" / "datasets" / "student_comments.jsonl"
EXTRA = [
    ROOT / "eval" / "datasets" / "sentiment_pt.jsonl",
    ROOT / "prompts" / "_pools" / "sentiment_pt.jsonl",
    ROOT / "prompts" / "_pools" / "sentiment_v2.jsonl",
]
LABELS = ("positivo", "negativo", "neutro")
PROBE_PROMPT = "classify_zero_shot@2"


def load_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def fit(args: argparse.Namespace, llm: Any) -> None:
    from promptkit import load_prompt
    from promptkit.probes import find_probe, fit_label_probe, hidden_features, probe_dirs, probe_file_name

    prompt = load_prompt(args.probe_prompt)
    dev = [r for r in load_rows(args.dataset) if r["split"] == "dev"]
    extra = [] if args.no_extra else [r for path in EXTRA for r in load_rows(path)]
    rows = dev + extra
    rendered = [llm.render_prompt(prompt.invoke({"text": r["text"]}).to_messages()) for r in rows]
    features = hidden_features(llm, rendered, specs=[("last", args.layer)])
    meta = {
        "name": f"{prompt.metadata['ref']}--{llm.model_id}",
        "prompt": prompt.metadata["ref"],
        "prompt_hash": prompt.metadata["hash"],
        "model": llm.model_id,
        "features": [("last", args.layer)],
        "trained_on": {"student_comments.jsonl dev": len(dev), "sentiment_pt.jsonl + pools": len(extra)},
    }
    probe, cv = fit_label_probe(
        features,
        [r["label"] for r in rows],
        LABELS,
        extra=[False] * len(dev) + [True] * len(extra),
        c=args.c,
        meta=meta,
    )
    path = probe_dirs()[0] / probe_file_name(prompt.metadata["ref"], llm.model_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    probe.save(path)
    find_probe(prompt, llm.model_id)
    print(f"probe written to {path}; layer {args.layer}, C {args.c}; dev out-of-fold {json.dumps(cv)}")


def print_report(title: str, report: dict[str, Any]) -> None:
    per = report["per_label"]
    print(
        f"| {title} | {report['n']} | {report['accuracy']:.2f} | {report['macro_f1']:.2f} | "
        + " | ".join(f"{per[label]['recall']:.2f}" for label in LABELS)
        + f" | {report['unparseable']} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("dev", "test", "fresh"), default="dev")
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument(
        "--chain", action="append", help="chain(s) to run (default: classify_zero_shot and classify_few_shot)"
    )
    parser.add_argument("--prompt", help="prompt ref for the chain (with one --chain)")
    parser.add_argument("--model", help="LLM name (default: the default model)")
    parser.add_argument("--fit", action="store_true", help=f"fit the probe of {PROBE_PROMPT} on dev first")
    parser.add_argument("--probe-prompt", default=PROBE_PROMPT)
    parser.add_argument("--layer", type=int, default=22, help="--fit: decoder layer read at the last token")
    parser.add_argument("--c", type=float, default=0.1, help="--fit: inverse L2 strength")
    parser.add_argument("--no-extra", action="store_true", help="--fit: train on the dev comments alone")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--cache", default="use", choices=("use", "refresh", "off", "strict"))
    args = parser.parse_args(argv)

    from promptkit.cache import ReplayCache
    from promptkit.chains import load_chain
    from promptkit.llm import load_llm
    from promptkit.paths import replay_cache_path

    cache = ReplayCache(replay_cache_path(), mode=args.cache)
    llm = load_llm(args.model, cache=cache) if args.model else load_llm(cache=cache)
    if args.fit:
        if args.split != "dev":
            parser.error("--fit only runs on the dev split")
        fit(args, llm)
    rows = [r for r in load_rows(args.dataset) if r["split"] == args.split]
    if not rows:
        parser.error(f"no rows in split {args.split!r} of {args.dataset}")
    chains = args.chain or ["classify_zero_shot", "classify_few_shot"]
    if args.prompt and len(chains) != 1:
        parser.error("--prompt needs exactly one --chain")
    results: dict[str, Any] = {}
    print(f"# Sentiment classification (split {args.split}, {len(rows)} comments)\n")
    print(
        "| chain · prompt · lang | n | accuracy | macro-F1 | R positivo | R negativo | R neutro | unparseable |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name in chains:
        chain = load_chain(name, llm=llm, prompt=args.prompt)
        t0 = time.perf_counter()
        outs = chain.batch([{"text": r["text"]} for r in rows])
        seconds = time.perf_counter() - t0
        ref = outs[0]["prompt"]
        mode = "probe" if outs[0].get("verdict") == "probe" else "generated label"
        if mode == "probe" and args.split == "dev":
            from promptkit import load_prompt
            from promptkit.probes import find_probe

            cv = find_probe(load_prompt(ref), llm.model_id).meta.get("cv")
            print(
                f"| {name} · {ref} (probe, dev out-of-fold: the probe is fitted on dev) | {len(rows)} | "
                f"{cv['accuracy']:.2f} | {cv['macro_f1']:.2f} | "
                + " | ".join(f"{cv['recall'][label]:.2f}" for label in LABELS)
                + " | 0 |"
            )
        for lang in ("all", "pt", "en"):
            idx = [i for i, r in enumerate(rows) if lang == "all" or r["lang"] == lang]
            if not idx:
                continue
            report = classification_report([rows[i] for i in idx], [outs[i] for i in idx], LABELS)
            print_report(f"{name} · {ref} ({mode}) · {lang}", report)
            results[f"{name}/{ref}/{lang}"] = {k: v for k, v in report.items() if k != "items"}
        report = results[f"{name}/{ref}/all"]
        results[f"{name}/{ref}/all"]["seconds"] = round(seconds, 1)
    for key, report in results.items():
        if not key.endswith("/all"):
            continue
        print(f"\nConfusion matrix, {key.removesuffix('/all')} (rows: gold, columns: predicted)\n")
        print("| gold \\ predicted | " + " | ".join([*LABELS, UNPARSEABLE]) + " |")
        print("|---|" + "---|" * (len(LABELS) + 1))
        for gold in LABELS:
            print(
                f"| {gold} | "
                + " | ".join(str(report["confusion"][gold][p]) for p in [*LABELS, UNPARSEABLE])
                + " |"
            )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
