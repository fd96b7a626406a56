"""Moderation benchmark on the held-out texts of ``eval/datasets/guard_texts.jsonl``: unsafe-vs-safe recall,
false-positive rate and precision per language, recall per category, for each layer and for the chain as shipped.

    python benchmarks/bench_moderation.py --split dev                 # every layer and the shipped chain
    python benchmarks/bench_moderation.py --split test                # report only: nothing is tuned on test
    python benchmarks/bench_moderation.py --split dev --fit           # refit the probe on dev (+ moderation.jsonl)
    python benchmarks/bench_moderation.py --latency 20                # guard time added to one `promptkit ask`
    python benchmarks/bench_moderation.py --split dev --model qwen2.5-coder-1.5b-instruct --fit

Systems compared (same texts, same cached hidden states):

* ``rules``: the lexicon alone (a high-confidence hit flags);
* ``probe``: the linear probe alone (its unsafe head at its threshold; categories from its category heads);
* ``any``: flagged when either flags; every layer runs (the shipped chain, ``chains/moderation.yaml``, run as is in
  the last row);
* ``confirm``: the model's flag needs a rule hit of any confidence (the "vote" of the two layers);
* ``cascade``: the rules first, the model only for texts they do not flag with high confidence; same flags as
  ``any``, categories from the deciding layer (measured, not shipped).

The probe's hidden states and the chain's model calls go through the replay cache, so a second run replays.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from promptkit.kind_metrics import moderation_report  # noqa: E402
from promptkit.moderation import CATEGORIES, check_rules, combine  # noqa: E402

DATASET = ROOT / "eval" / "datasets" / "guard_texts.jsonl"
EXTRA = ROOT / "eval" / "datasets" / "moderation.jsonl"
TRAIN = ROOT / "eval" / "datasets" / "guard_train.jsonl"  # training-only texts for the weaker categories
PROMPT = "moderation@4"


def load_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _fmt(x: float | None) -> str:
    return "  —  " if x is None else f"{x:.2f}"


def print_report(title: str, report: dict[str, Any]) -> None:
    b = report["binary"]
    cats = report["categories"]
    row = [
        f"{_fmt(b[lang]['recall'])} / {_fmt(b[lang]['fpr'])} / {_fmt(b[lang]['precision'])}"
        for lang in ("pt", "en")
    ]
    worst = min((v["recall"] for v in cats.values() if v["recall"] is not None), default=None)
    print(
        f"| {title} | {row[0]} | {row[1]} | {_fmt(worst)} | "
        + " | ".join(_fmt(cats[c]["recall"]) for c in CATEGORIES)
        + " |"
    )


def header() -> None:
    print("| system | pt R / FPR / P | en R / FPR / P | worst category R | " + " | ".join(CATEGORIES) + " |")
    print("|---|---|---|---|" + "---|" * len(CATEGORIES))


def rendered_prompts(llm: Any, prompt: Any, texts: list[str]) -> tuple[list[str], list[Any]]:
    from promptkit.probes import prompt_span

    rendered = [llm.render_prompt(prompt.invoke({"text": t}).to_messages()) for t in texts]
    return rendered, [prompt_span(r, t) for r, t in zip(rendered, texts, strict=True)]


def parse_specs(text: str) -> list[tuple[str, int]]:
    """``"mean:14,last:8"`` → ``[("mean", 14), ("last", 8)]``."""
    out = []
    for part in text.split(","):
        pool, _, layer = part.strip().partition(":")
        out.append((pool, int(layer)))
    return out


def fit(args: argparse.Namespace, llm: Any, prompt: Any) -> None:
    from promptkit.moderation.fit import fit_moderation_probe
    from promptkit.probes import find_probe, hidden_features, probe_dirs, probe_file_name

    dev = [r for r in load_rows(args.dataset) if r["split"] == "dev"]
    extra = [] if args.no_extra else load_rows(EXTRA) + (load_rows(TRAIN) if args.train_extra else [])
    rows = dev + extra
    rendered, spans = rendered_prompts(llm, prompt, [r["text"] for r in rows])
    t0 = time.perf_counter()
    specs = parse_specs(args.features)
    features = hidden_features(llm, rendered, spans=spans, specs=specs)
    meta = {
        "name": f"{prompt.metadata['ref']}--{llm.model_id}",
        "prompt": prompt.metadata["ref"],
        "prompt_hash": prompt.metadata["hash"],
        "model": llm.model_id,
        "features": specs,
        "trained_on": {
            "guard_texts.jsonl dev": len(dev),
            "moderation.jsonl (all)": 0 if args.no_extra else len(load_rows(EXTRA)),
            "guard_train.jsonl": len(load_rows(TRAIN)) if args.train_extra and not args.no_extra else 0,
        },
    }
    probe, figures = fit_moderation_probe(
        features,
        rows,
        extra=[False] * len(dev) + [True] * len(extra),
        c=args.c,
        meta=meta,
        target_fpr=args.target_fpr,
    )
    path = probe_dirs()[0] / probe_file_name(prompt.metadata["ref"], llm.model_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    probe.save(path)
    find_probe(prompt, llm.model_id)  # reads it back through the hash check
    print(
        f"probe written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} "
        f"({time.perf_counter() - t0:.0f} s); features {args.features}, C {args.c}"
    )
    print(
        "dev cross-validated (out-of-fold):",
        json.dumps(figures["cv"]),
        "thresholds:",
        json.dumps({k: round(v, 4) for k, v in figures["thresholds"].items()}),
    )


def out_of_fold(llm: Any, prompt: Any, probe: Any, rows: list[dict], features: Any) -> Any:
    """Out-of-fold probabilities of every head for the dev rows, fitted as the probe was (same features, C and
    extra training set), so that dev figures are not in-sample."""
    import numpy as np

    from promptkit.probes import hidden_features, oof_probabilities, probe_specs

    trained_on = probe.meta.get("trained_on", {})
    extra = (load_rows(EXTRA) if trained_on.get("moderation.jsonl (all)") else []) + (
        load_rows(TRAIN) if trained_on.get("guard_train.jsonl") else []
    )
    if extra:
        rendered, spans = rendered_prompts(llm, prompt, [r["text"] for r in extra])
        features = np.concatenate(
            [features, hidden_features(llm, rendered, spans=spans, specs=probe_specs(probe))]
        )
    everything = rows + extra
    targets = {"unsafe": [int(bool(r["labels"])) for r in everything]}
    targets.update({c: [int(c in r["labels"]) for r in everything] for c in CATEGORIES})
    oof = oof_probabilities(
        features,
        targets,
        c=float(probe.meta.get("c", 1.0)),
        strata=[f"{bool(r['labels'])}-{r['lang']}" for r in everything],
        fit_only=[False] * len(rows) + [True] * len(extra),
    )
    return np.stack([oof[h][: len(rows)] for h in probe.heads], axis=1)


def latency(args: argparse.Namespace) -> None:
    """Median seconds the guard adds to one question: moderation of the question and of an answer."""
    from promptkit.chains import load_chain

    data = json.loads((ROOT / "eval" / "datasets" / "course_qa.json").read_text(encoding="utf-8"))
    pairs = []
    for article in data["data"]:
        for para in article["paragraphs"]:
            for qa in para["qas"]:
                answer = qa["answers"][0]["text"] if qa.get("answers") else "sem resposta"
                pairs.append((qa["question"], answer))
    pairs = pairs[: args.latency]
    overrides = {"name": args.model} if args.model else {}
    chain = load_chain("moderation", cache=False, **overrides)
    chain.invoke({"text": "aquecimento"})  # the model is loaded once per process, as in `promptkit ask`
    import os

    import torch

    times, cpu = [], []
    for question, answer in pairs:
        t0, c0 = time.perf_counter(), time.process_time()
        chain.invoke({"text": question})
        chain.invoke({"text": answer})
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"guard latency over {len(times)} questions (question + answer, model loaded, no cache, "
        f"{torch.get_num_threads()} torch thread(s), load average {load:.1f} on {os.cpu_count()} cores): "
        f"wall median {statistics.median(times):.2f} s, max {max(times):.2f} s; "
        f"CPU time median {statistics.median(cpu):.2f} s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("dev", "test", "fresh"), default="dev")
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--model", help="LLM name (default: the default model)")
    parser.add_argument("--prompt", default=PROMPT, help=f"moderation prompt of the probe (default {PROMPT})")
    parser.add_argument("--fit", action="store_true", help="fit the probe on the dev split first")
    parser.add_argument(
        "--features",
        default="mean:14,last:8",
        help="--fit: hidden states read, POOL:LAYER,... (default mean:14,last:8: the text's tokens "
        "averaged after layer 14, and the last token after layer 8)",
    )
    parser.add_argument("--c", type=float, default=0.03, help="--fit: inverse L2 strength (default 0.03)")
    parser.add_argument(
        "--target-fpr",
        type=float,
        default=0.08,
        help="--fit: out-of-fold false-positive rate allowed per language (default 0.08)",
    )
    parser.add_argument("--no-extra", action="store_true", help="--fit: train on the dev split alone")
    parser.add_argument("--train-extra", action="store_true",
                        help="--fit: also train on eval/datasets/guard_train.jsonl (measured on dev, not shipped)")
    parser.add_argument(
        "--latency", type=int, metavar="N", help="time the guard on N course questions and exit"
    )
    parser.add_argument("--errors", action="store_true", help="list the shipped chain's mistakes (dev only)")
    parser.add_argument("--json", type=Path, help="write the figures to this JSON file")
    parser.add_argument("--cache", default="use", choices=("use", "refresh", "off", "strict"))
    args = parser.parse_args(argv)

    if args.latency:
        latency(args)
        return 0
    from promptkit import load_prompt
    from promptkit.cache import ReplayCache
    from promptkit.chains import load_chain
    from promptkit.llm import load_llm
    from promptkit.paths import replay_cache_path
    from promptkit.probes import find_probe, hidden_features, probe_specs

    cache = ReplayCache(replay_cache_path(), mode=args.cache)
    llm = load_llm(args.model, cache=cache) if args.model else load_llm(cache=cache)
    prompt = load_prompt(args.prompt)
    if args.fit:
        if args.split != "dev":
            parser.error("--fit only runs on the dev split (the test and fresh splits are never tuned on)")
        fit(args, llm, prompt)
    rows = [r for r in load_rows(args.dataset) if r["split"] == args.split]
    if not rows:
        parser.error(f"no rows in split {args.split!r} of {args.dataset}")
    texts = [r["text"] for r in rows]
    rules = [check_rules(t) for t in texts]
    systems: dict[str, list[dict]] = {"rules": [combine(h, None) for h in rules]}
    probe = find_probe(prompt, llm.model_id)
    meta: dict[str, Any] = {
        "split": args.split,
        "texts": len(rows),
        "model": llm.model_id,
        "prompt": args.prompt,
    }
    if probe is not None:
        rendered, spans = rendered_prompts(llm, prompt, texts)
        t0 = time.perf_counter()
        features = hidden_features(llm, rendered, spans=spans, specs=probe_specs(probe))
        meta["feature_seconds"] = round(time.perf_counter() - t0, 1)
        probs = probe.probabilities(features)
        if args.split == "dev":  # the probe was fitted on dev: its honest dev figures are out-of-fold
            probs = out_of_fold(llm, prompt, probe, rows, features)
            meta["probe rows"] = "out-of-fold (5-fold cross-validation on dev)"
        states = [
            {
                "probabilities": dict(zip(probe.heads, map(float, p), strict=True)),
                "thresholds": probe.thresholds,
            }
            for p in probs
        ]
        systems["probe"] = [combine(None, None, policy="any", probe=s) for s in states]
        systems["any"] = [combine(h, None, policy="any", probe=s) for h, s in zip(rules, states, strict=True)]
        systems["confirm"] = [
            combine(h, None, policy="confirm", probe=s) for h, s in zip(rules, states, strict=True)
        ]
        # the chain's cascade rebuilt from the same probabilities (out-of-fold on dev): a high rule hit decides alone
        systems["cascade"] = [
            combine(h, None)
            if any(v.confidence == "high" for v in h.values())
            else combine(h, None, policy="any", probe=s)
            for h, s in zip(rules, states, strict=True)
        ]
        meta.update(features=probe_specs(probe), thresholds=probe.thresholds)
    overrides: dict[str, Any] = {"name": args.model} if args.model else {}
    overrides["prompt"] = args.prompt
    if probe is not None:  # read by its probe at the probe's own thresholds
        overrides["threshold"] = None
    elif (
        prompt.metadata.get("parser") == "labels"
    ):  # a yes/no prompt: the score threshold tuned for moderation@3
        from promptkit.moderation.scoring import DEFAULT_THRESHOLD

        overrides["threshold"] = DEFAULT_THRESHOLD
    chain = load_chain("moderation", cache=cache, **overrides)
    t0 = time.perf_counter()
    systems["shipped chain"] = chain.batch([{"text": t} for t in texts])
    meta["chain_seconds"] = round(time.perf_counter() - t0, 1)
    meta["chain_prompt"] = systems["shipped chain"][0].get("prompt")
    print(f"# Moderation ({', '.join(f'{k} {v}' for k, v in meta.items() if k != 'thresholds')})\n")
    print(
        "Recall / false-positive rate / precision of unsafe-vs-safe per language; recall per category "
        "(the category itself predicted).\n"
    )
    header()
    reports = {}
    for name, outs in systems.items():
        reports[name] = moderation_report(rows, outs, CATEGORIES)
        in_sample = args.split == "dev" and probe is not None and name == "shipped chain"
        print_report(name + (" — in-sample: its probe was fitted on dev" if in_sample else ""), reports[name])
    shipped = reports["shipped chain"]
    print("\nShipped chain per category: support, recall (category named), recall (flagged at all), FPR\n")
    print("| category | support | R | flagged R | FPR |\n|---|---|---|---|---|")
    for c in CATEGORIES:
        v = shipped["categories"][c]
        print(
            f"| {c} | {v['support']} | {_fmt(v['recall'])} | {_fmt(v['flagged_recall'])} | {_fmt(v['fpr'])} |"
        )
    decided: dict[str, int] = {}
    for out in systems["shipped chain"]:
        decided[str(out.get("decided_by"))] = decided.get(str(out.get("decided_by")), 0) + 1
    print(f"\nDecided by (shipped chain): {decided}")
    if args.errors and args.split == "dev":
        print("\nMistakes of the shipped chain (dev):")
        for r, o in zip(rows, systems["shipped chain"], strict=True):
            if bool(r["labels"]) != o["flagged"] or (
                r["labels"] and not set(r["labels"]) & set(o["categories"])
            ):
                print(
                    f"- {r['id']} gold {r['labels']} got {o['categories']} p={o.get('llm_score')}: {r['text'][:110]}"
                )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        clean = {k: {"binary": v["binary"], "categories": v["categories"]} for k, v in reports.items()}
        args.json.write_text(
            json.dumps({"meta": meta, "systems": clean}, ensure_ascii=False, indent=2) + "\n",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
