"""promptkit's client-side cost per request to a served model, against a server that answers at once.

    python benchmarks/bench_client_overhead.py                 # 600 requests per measurement
    python benchmarks/bench_client_overhead.py --requests 2000 --json out.json

The stub OpenAI-compatible server (``promptkit.llm.stub_server``) runs in its own process on 127.0.0.1 and
answers every request immediately, so what is measured is the client: promptkit's layers plus the HTTP stack
they use. Every measurement starts from an empty replay cache in ``use`` mode (each answer stored as it comes):

* **raw openai**: the ``openai`` client's ``chat.completions.create`` in N threads: the floor (HTTP, JSON);
* **ServedChatModel.batch**: the model's batch (``ChatOpenAI`` per request, cache lookups and records);
* **evaluate()**: ``promptkit eval run``'s path: the ``qa_zero_shot`` chain (prompt, context budget,
  post-processing, a scored row per question) over a course_qa-shaped dataset of ``--requests`` questions with
  ``concurrency=N``: the *run loop* (``EvalResult.duration_s``) and the *whole call* (with the scoring after
  it: bootstrap intervals of four metrics, a fixed cost per run);
* **replay**: the same ``evaluate()`` again, every answer from the cache (no request).

It prints requests/s, milliseconds of client time per request and the ratio to the raw floor. The two cores
are shared by the stub server and the client: the figures are a lower bound of the client's ceiling.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from loadavg import load_summary

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def synthetic_dataset(path: Path, n: int) -> Path:
    """course_qa's questions repeated with distinct ids and wording up to ``n`` questions (no two prompts
    are the same)."""
    from promptkit.datasets import load_squad

    base = load_squad("course_qa").examples()
    paragraphs = []
    for i in range(n):
        ex = base[i % len(base)]
        question = f"{ex.question} ({i})"
        answers = [{"text": a, "answer_start": max(0, ex.context.find(a))} for a in ex.answers]
        paragraphs.append(
            {
                "context": ex.context,
                "qas": [
                    {
                        "id": f"s{i:05d}",
                        "question": question,
                        "answers": answers,
                        "is_impossible": not answers,
                    }
                ],
            }
        )
    path.write_text(
        json.dumps(
            {"version": "v2.0", "data": [{"title": "bench", "paragraphs": paragraphs}]}, ensure_ascii=False
        ),
        "utf-8",
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()

    from served_support import stub_process

    from promptkit.cache import ReplayCache
    from promptkit.evaluation import evaluate
    from promptkit.llm.served import ServedChatModel

    load0 = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="bench-client-"))
    dataset = synthetic_dataset(tmp / "bench.json", args.requests)
    server = stub_process().start()
    figures: dict[str, dict[str, float]] = {}

    def record(name: str, requests: int, seconds: float) -> None:
        figures[name] = {
            "requests": requests,
            "seconds": round(seconds, 3),
            "requests_per_s": round(requests / seconds, 1),
            "ms_per_request": round(1000 * seconds / requests, 3),
        }
        f = figures[name]
        print(
            f"{name:34} {f['requests_per_s']:8.1f} req/s  {f['ms_per_request']:6.2f} ms/request", flush=True
        )

    try:
        import openai

        raw = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        messages = [{"role": "user", "content": "aquecimento"}]
        raw.chat.completions.create(model="stub-model", messages=messages, max_tokens=8)
        for n in args.concurrency:
            prompts = [[{"role": "user", "content": f"pergunta {i} de {n}"}] for i in range(args.requests)]
            started = time.perf_counter()
            with ThreadPoolExecutor(n) as pool:
                list(
                    pool.map(
                        lambda m: raw.chat.completions.create(model="stub-model", messages=m, max_tokens=32),
                        prompts,
                    )
                )
            record(f"raw openai, {n} threads", args.requests, time.perf_counter() - started)

            llm = ServedChatModel(
                base_url=server.base_url,
                model="stub-model",
                concurrency=n,
                cache=ReplayCache(tmp / f"model{n}.sqlite"),
                max_tokens=32,
            )
            llm.invoke("aquecimento")
            texts = [f"pergunta {i} para o modelo, {n}" for i in range(args.requests)]
            started = time.perf_counter()
            llm.batch(texts)
            record(f"ServedChatModel.batch, concurrency {n}", args.requests, time.perf_counter() - started)

            cache = ReplayCache(tmp / f"eval{n}.sqlite")
            chat = ServedChatModel(
                base_url=server.base_url,
                model="stub-model",
                concurrency=n,
                context_window=32768,
                token_counter="bytes",
            )
            evaluate(
                chain="qa_zero_shot",
                dataset=dataset,
                limit=4,
                llm=chat,
                concurrency=n,
                cache=cache,
                show_progress=False,
            )  # warm: imports, prompt files
            sent0 = chat.requests_sent
            started = time.perf_counter()
            result = evaluate(
                chain="qa_zero_shot",
                dataset=dataset,
                llm=chat,
                concurrency=n,
                cache=cache,
                show_progress=False,
            )
            seconds = time.perf_counter() - started
            sent = chat.requests_sent - sent0
            assert result.cache.misses == sent == args.requests - 4, (result.cache, sent)
            # the run loop (requests, chain, rows) apart from the scoring after it (bootstrap CIs of 4 metrics)
            record(f"evaluate() run loop, concurrency {n}", sent, result.duration_s)
            record(f"evaluate() whole call, concurrency {n}", sent, seconds)
            started = time.perf_counter()
            evaluate(
                chain="qa_zero_shot",
                dataset=dataset,
                llm=chat,
                concurrency=n,
                cache=ReplayCache(cache.path, mode="strict"),
                show_progress=False,
            )
            record(f"evaluate() replay, concurrency {n}", args.requests, time.perf_counter() - started)
    finally:
        server.kill()
    print()
    for n in args.concurrency:
        floor = figures[f"raw openai, {n} threads"]["ms_per_request"]
        for name in (f"ServedChatModel.batch, concurrency {n}", f"evaluate() run loop, concurrency {n}"):
            cost = figures[name]["ms_per_request"]
            print(
                f"{name}: {cost / floor:.2f}x the raw client's time per request "
                f"(+{cost - floor:.2f} ms of promptkit per request)"
            )
    best = max(figures[f"evaluate() run loop, concurrency {n}"]["requests_per_s"] for n in args.concurrency)
    model = max(figures[f"ServedChatModel.batch, concurrency {n}"]["requests_per_s"] for n in args.concurrency)
    print(f"client ceiling on this machine: model layer {model:.0f} requests/s, evaluate() run loop {best:.0f} "
          "requests/s (target >= 200)")
    print(load_summary(load0, os.getloadavg()))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2), "utf-8")


if __name__ == "__main__":
    main()
