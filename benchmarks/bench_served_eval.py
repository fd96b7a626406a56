"""Evaluation throughput against the served default model at concurrency 1, 4 and 8, beside the in-process one.

    python benchmarks/bench_served_eval.py                    # course_qa dev, first 16 questions, reading mode
    python benchmarks/bench_served_eval.py --limit 32 --concurrency 1 4 8 --json out.json
    python benchmarks/bench_served_eval.py --server-url http://127.0.0.1:8000/v1 --server-model qwen2.5-coder-0.5b

Starts ``transformers serve`` over the converted default model (Qwen2.5-Coder-0.5B-Instruct, bf16, offline) on
127.0.0.1, or uses a running server (``--server-url``: e.g. vLLM's CPU build serving the same folder), then runs
``evaluate(chain="qa_zero_shot", dataset="course_qa", split="dev")`` on the same questions:

* **in-process**: the default ``LocalChatModel`` (bf16, batches of 8, promptkit's decoder), weights loaded
  first;
* **served, concurrency N**: :class:`~promptkit.llm.served.ServedChatModel` over ``ChatOpenAI``, N requests in
  flight (``eval run --concurrency N``), token counts from the local tokenizer.

Every run has the replay cache off (each answer is generated). It prints questions/s, EM/F1 of each run, the
served/in-process ratios, and the parity of the in-process run with the served run at concurrency 1 (answer
agreement, F1 difference with its paired 95% CI).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from loadavg import load_summary

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DEFAULT = "qwen2.5-coder-0.5b-instruct"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=16)
    parser.add_argument("--split", default="dev")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--server-url", metavar="URL", help="a running OpenAI-compatible server instead of "
                        "starting transformers serve (e.g. vLLM: http://127.0.0.1:8000/v1)")
    parser.add_argument("--server-model", metavar="ID", help="its model id (with --server-url)")
    parser.add_argument("--api-key-env", metavar="NAME", help="variable holding its key (with --server-url)")
    args = parser.parse_args()

    from served_support import transformers_serve

    from promptkit import metrics as M
    from promptkit.evaluation import evaluate
    from promptkit.llm import load_llm
    from promptkit.llm.served import ServedChatModel
    from promptkit.weights import pull

    load0 = os.getloadavg()
    folder = str(pull(DEFAULT, progress=False))
    common = {
        "chain": "qa_zero_shot",
        "dataset": "course_qa",
        "split": args.split,
        "limit": args.limit,
        "cache": "off",
        "show_progress": False,
    }
    runs: dict[str, dict] = {}
    results = {}

    def report(name: str, result, seconds: float) -> None:
        runs[name] = {
            "questions": len(result.rows),
            "seconds": round(seconds, 2),
            "questions_per_s": round(len(result.rows) / seconds, 3),
            "exact": round(result.metrics["exact"], 1),
            "f1": round(result.metrics["f1"], 1),
        }
        r = runs[name]
        print(
            f"{name:24} {r['questions_per_s']:6.3f} q/s  ({r['seconds']:7.1f} s)  EM {r['exact']:5.1f}  "
            f"F1 {r['f1']:5.1f}",
            flush=True,
        )
        results[name] = result

    local = load_llm(DEFAULT)
    local.complete(["aquecimento"], max_new_tokens=1)  # weights loaded before the clock starts
    started = time.perf_counter()
    report("in-process (bf16, b8)", evaluate(**common, llm=local), time.perf_counter() - started)

    server = None
    if args.server_url:
        base_url, model_id = args.server_url, args.server_model or folder
    else:
        log = Path(os.environ.get("TMPDIR", "/tmp")) / "bench-serve.log"
        server = transformers_serve(folder, log=log).start()
        base_url, model_id = server.base_url, folder
    try:
        for n in args.concurrency:
            llm = ServedChatModel(
                base_url=base_url,
                model=model_id,
                api_key_env=args.api_key_env,
                tokenizer=DEFAULT,
                context_window=4096,
                timeout=600,
                concurrency=n,
            )
            llm.invoke("aquecimento", max_tokens=1)
            started = time.perf_counter()
            result = evaluate(**common, llm=llm, concurrency=n)
            report(f"served, concurrency {n}", result, time.perf_counter() - started)
            runs[f"served, concurrency {n}"]["max_in_flight"] = llm.max_in_flight
    finally:
        if server is not None:
            server.kill()

    base = runs["in-process (bf16, b8)"]["questions_per_s"]
    print()
    for n in args.concurrency:
        r = runs[f"served, concurrency {n}"]
        print(
            f"served at concurrency {n}: {r['questions_per_s'] / base:.2f}x the in-process throughput "
            f"({r['max_in_flight']} requests in flight at most)"
        )
    a, b = results["in-process (bf16, b8)"], results[f"served, concurrency {args.concurrency[0]}"]
    rows_b = b.row_map()
    same = sum(
        M.normalize_answer(r.prediction) == M.normalize_answer(rows_b[r.id].prediction) for r in a.rows
    )
    delta = M.paired_bootstrap([r.f1 for r in a.rows], [rows_b[r.id].f1 for r in a.rows])
    runs["parity"] = {"agreement": round(100 * same / len(a.rows), 1), "f1_delta": delta}
    print(
        f"parity in-process vs served: answers agree on {same}/{len(a.rows)} questions "
        f"({100 * same / len(a.rows):.1f}%), F1 served - in-process {delta['delta']:+.1f} "
        f"[{delta['low']:+.1f}, {delta['high']:+.1f}]"
    )
    print(load_summary(load0, os.getloadavg()))
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=2), "utf-8")


if __name__ == "__main__":
    main()
