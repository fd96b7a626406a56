"""Latency of the main job on this machine: the course tutor in a chat session and a one-shot `promptkit ask`.

    python benchmarks/bench_tutor_latency.py                 # 8 dev questions, both measurements
    python benchmarks/bench_tutor_latency.py --questions 12 --skip-ask
    python benchmarks/bench_tutor_latency.py --model qwen2.5-coder-1.5b-instruct --skip-ask

* chat session (one process, the model and index loaded once, as `promptkit chat` keeps them): per question,
  the
  time to the first streamed sentence and to the whole answer (the first question, which loads the model, is
  reported apart);
* one-shot `promptkit ask "…"` in a new process (Python start, imports, model and index loading, answer), the
  wall time of the whole command.

Model calls are made fresh (`promptkit ask` and the session use no replay cache), so the figures are what a
student waits. Prints medians
and the targets (first sentence <= 3 s and answer <= 15 s in a session; ask <= 10 s).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def questions(count: int, offset: int) -> list[str]:
    rows = [json.loads(line) for line in (ROOT / "eval" / "datasets" / "tutor_questions.jsonl").open()]
    inscope = [r["question"] for r in rows if r["split"] == "dev" and r["type"] != "out_of_scope"]
    return inscope[offset : offset + count]


def session_latency(qs: list[str], model: str | None = None) -> list[tuple[float, float]]:
    from langchain_core.globals import set_llm_cache

    from promptkit.chains.session import Session
    from promptkit.llm import load_llm

    set_llm_cache(None)
    session = Session(llm=load_llm(model) if model else None)
    session.chain  # noqa: B018 - built
    out = []
    for q in qs:
        t0 = time.perf_counter()
        first = None
        for _ in session.stream(q):
            first = first or time.perf_counter() - t0
        out.append((first or time.perf_counter() - t0, time.perf_counter() - t0))
    return out


def ask_latency(qs: list[str], model: str | None = None) -> list[float]:
    out = []
    for q in qs:
        t0 = time.perf_counter()
        command = [sys.executable, "-m", "promptkit", "ask", q, *(["--model", model] if model else [])]
        subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
        out.append(time.perf_counter() - t0)
    return out


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=int, default=8)
    ap.add_argument("--skip-ask", action="store_true")
    ap.add_argument(
        "--model", help="a catalogue model instead of the default (e.g. qwen2.5-coder-1.5b-instruct)"
    )
    args = ap.parse_args(argv)
    qs = questions(args.questions + 1, 0)
    print(f"model: {args.model or 'default'}; CPU: {cpu_name()}")
    rows = session_latency(qs, args.model)
    warm = rows[1:]
    print(
        f"chat session, first question (loads the model): first sentence {rows[0][0]:.1f} s, "
        f"answer {rows[0][1]:.1f} s"
    )
    print(
        f"chat session, {len(warm)} questions: "
        f"first sentence median {statistics.median(r[0] for r in warm):.1f} s"
        f" (max {max(r[0] for r in warm):.1f}), "
        f"whole answer median {statistics.median(r[1] for r in warm):.1f} s"
        f" (max {max(r[1] for r in warm):.1f}); targets 3 s and 15 s"
    )
    if not args.skip_ask:
        times = ask_latency(questions(args.questions, 1), args.model)
        print(
            f"promptkit ask in a new process, {len(times)} questions: "
            f"median {statistics.median(times):.1f} s "
            f"(min {min(times):.1f}, max {max(times):.1f}); target 10 s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
