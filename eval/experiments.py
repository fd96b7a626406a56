"""Run one answer-quality experiment: a chain with setting overrides, scored on an evaluation set.

    python eval/experiments.py --chain rag_course --prompt rag_qa@3 --mode reading --split dev \
        --set snap=0.75 --set no_answer_prob=1.0 --out eval/results/x.json
    python eval/experiments.py --chain tutor --dataset tutor_questions --split dev --set fill=4 --set k=4

Every model call goes through the replay cache, so re-scoring a run with other post-processing settings is free.
With ``--na-thresh`` the no-answer threshold is applied when scoring (SQuAD's ``na_prob_thresh``).
"""

from __future__ import annotations

import argparse
import json

import yaml


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chain", required=True)
    ap.add_argument("--dataset", default="course_qa")
    ap.add_argument("--prompt")
    ap.add_argument("--mode", default=None, choices=("reading", "rag"), help="default: the task's own")
    ap.add_argument("--split")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="chain setting override")
    ap.add_argument("--na-thresh", type=float, default=1.0)
    ap.add_argument("--out")
    args = ap.parse_args()

    from promptkit.cache import ReplayCache
    from promptkit.chains import load_chain
    from promptkit.evaluation import evaluate
    from promptkit.paths import replay_cache_path

    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = yaml.safe_load(value)
    cache = ReplayCache(replay_cache_path(), mode="use")
    chain = load_chain(args.chain, prompt=args.prompt, cache=cache, **overrides)
    result = evaluate(
        chain=chain,
        dataset=args.dataset,
        mode=args.mode,
        split=args.split,
        limit=args.limit,
        cache=cache,
        out=args.out,
        show_progress=False,
        na_prob_thresh=args.na_thresh,
    )
    if not hasattr(result, "metrics_pt"):  # a task other than SQuAD: its own metrics
        row = {k: round(v, 3) for k, v in result.metrics.items() if isinstance(v, int | float)}
        print(json.dumps({"chain": args.chain, "prompt": result.prompt.ref, "set": overrides, **row}))
        return
    m, pt = result.metrics, result.metrics_pt
    keys = ("exact", "f1", "HasAns_f1", "NoAns_exact", "best_exact", "best_f1", "best_f1_thresh")
    row = {k: round(m[k], 2) for k in keys if k in m}
    row.update({"f1_pt": round(pt["f1"], 2), "exact_pt": round(pt["exact"], 2), "n": len(result.rows)})
    print(json.dumps({"chain": args.chain, "prompt": result.prompt.ref, "mode": args.mode, "set": overrides, **row}))


if __name__ == "__main__":
    main()
