"""Load time, memory and generation latency of the default local LLM.

Each phase runs in its own Python process so load times and peak memory are not flattered by a warm process:

* ``convert``  first use in an empty PROMPTKIT_HOME: assemble + verify + convert the GGUF, then load (bf16);
* ``reload``   a new process loading the converted folder (bf16);
* ``latency``  per-example generation time at batch 1 and batch 8, for bf16 and for fp32, on 8 RAG-sized
  prompts (a ~220-token passage of the course corpus plus a question) with 32 new tokens, greedy.

    python benchmarks/bench_model.py                 # everything (the conversion takes about a minute)
    python benchmarks/bench_model.py --skip-convert  # reuse the converted model in PROMPTKIT_HOME

Absolute seconds depend on the machine and its load; compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))
N_PROMPTS = 8
NEW_TOKENS = 32
CONTEXT_TOKENS = 200

QUESTIONS = [
    "Explique com suas palavras a ideia principal do trecho.",
    "Quais conceitos o trecho apresenta? Responda em duas frases.",
    "Resuma o trecho para um estudante iniciante.",
    "Que exemplo o trecho usa e o que ele ilustra?",
]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _prompts(llm) -> list[str]:
    """8 rendered RAG-style prompts: a ~200-token passage from a corpus file, then a question."""
    from langchain_core.messages import HumanMessage, SystemMessage

    files = sorted((REPO / "corpus").glob("*.md"))[:N_PROMPTS]
    tok = llm.tokenizer
    prompts = []
    for i, path in enumerate(files):
        body = path.read_text("utf-8").split("---", 2)[-1].strip()
        ids = tok(body, add_special_tokens=False)["input_ids"][:CONTEXT_TOKENS]
        passage = tok.decode(ids)
        messages = [
            SystemMessage("Você é um assistente que responde em português usando apenas o contexto dado."),
            HumanMessage(f"Contexto:\n{passage}\n\nPergunta: {QUESTIONS[i % len(QUESTIONS)]}"),
        ]
        prompts.append(llm.render_prompt(messages))
    return prompts


def phase_load(convert: bool) -> dict:
    from promptkit.weights import DEFAULT_LLM, pull
    from promptkit.llm import load_llm

    started = time.perf_counter()
    if convert:
        pull(DEFAULT_LLM, progress=False)
    converted = time.perf_counter()
    llm = load_llm(DEFAULT_LLM, progress=False)
    llm.complete(["Olá"], max_new_tokens=1)  # first forward pass included: "ready to answer"
    done = time.perf_counter()
    return {"convert_s": converted - started if convert else None, "load_s": done - converted,
            "total_s": done - started, "peak_rss_mb": _peak_rss_mb()}


def phase_latency(dtype: str) -> dict:
    from promptkit.weights import DEFAULT_LLM
    from promptkit.llm import load_llm

    llm = load_llm(DEFAULT_LLM, dtype=dtype, progress=False, max_new_tokens=NEW_TOKENS, temperature=0.0)
    prompts = _prompts(llm)
    tokens = [llm.get_num_tokens(p) for p in prompts]
    llm.complete(prompts[:1], max_new_tokens=2)  # warm-up
    out: dict = {"dtype": dtype, "prompt_tokens_mean": sum(tokens) / len(tokens)}
    answers = {}
    for batch in (1, 8):
        model = llm.model_copy(update={"batch_size": batch})
        model.attach(llm.backend)
        t = time.perf_counter()
        texts = model.complete(prompts)
        elapsed = time.perf_counter() - t
        out[f"b{batch}_s_per_example"] = elapsed / len(prompts)
        out[f"b{batch}_new_tokens_mean"] = sum(llm.get_num_tokens(x) for x in texts) / len(texts)
        answers[batch] = texts
    out["b1_b8_same_answers"] = sum(a == b for a, b in zip(answers[1], answers[8], strict=True))
    out["answers_b8"] = answers[8]
    out["peak_rss_mb"] = _peak_rss_mb()
    return out


def run_phase(args: list[str], home: Path) -> dict:
    env = dict(os.environ, PROMPTKIT_HOME=str(home), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    proc = subprocess.run([sys.executable, __file__, "--phase", *args], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"phase {args} failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phase", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--skip-convert", action="store_true", help="reuse the model in PROMPTKIT_HOME")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()

    if args.phase:
        kind = args.phase[0]
        result = phase_load(convert=kind == "convert") if kind in ("convert", "reload") else phase_latency(
            args.phase[1])
        print(json.dumps(result, ensure_ascii=False))
        return

    from promptkit import paths

    results: dict = {"cpu_count": os.cpu_count(), "load_average_start": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="promptkit-bench-") as tmp:
        home = Path(tmp) if not args.skip_convert else paths.home()
        if not args.skip_convert:
            print("phase convert (empty PROMPTKIT_HOME) …", file=sys.stderr, flush=True)
            results["convert"] = run_phase(["convert"], home)
        print("phase reload (new process) …", file=sys.stderr, flush=True)
        results["reload"] = run_phase(["reload"], home)
        for dtype in ("bf16", "fp32"):
            print(f"phase latency {dtype} …", file=sys.stderr, flush=True)
            results[dtype] = run_phase(["latency", dtype], home)
    results["load_average_end"] = os.getloadavg()

    print()
    print(f"{'measure':44} {'value':>10}")
    print("-" * 56)
    if "convert" in results:
        c = results["convert"]
        print(f"{'first use: assemble+verify+convert (s)':44} {c['convert_s']:10.1f}")
        print(f"{'first use: then load + first token (s)':44} {c['load_s']:10.1f}")
        print(f"{'first use: peak RSS (MB)':44} {c['peak_rss_mb']:10.0f}")
    r = results["reload"]
    print(f"{'reload in a new process, bf16 (s)':44} {r['load_s']:10.1f}")
    print(f"{'reload: peak RSS (MB)':44} {r['peak_rss_mb']:10.0f}")
    print()
    print(f"{'setting':14} {'s/example':>10} {'new tok':>8} {'peak RSS MB':>12}")
    print("-" * 48)
    for dtype in ("fp32", "bf16"):
        d = results[dtype]
        for b in (1, 8):
            print(f"{dtype + ', batch ' + str(b):14} {d[f'b{b}_s_per_example']:10.2f} "
                  f"{d[f'b{b}_new_tokens_mean']:8.1f} {d['peak_rss_mb']:12.0f}")
    base = results["fp32"]["b1_s_per_example"]
    print()
    print(f"prompt tokens (mean): {results['bf16']['prompt_tokens_mean']:.0f}; new tokens: up to {NEW_TOKENS}")
    for dtype in ("fp32", "bf16"):
        for b in (1, 8):
            speed = base / results[dtype][f"b{b}_s_per_example"]
            print(f"speed-up over fp32 batch 1: {dtype} batch {b}: {speed:.2f}x")
    print(f"bf16 batch 8 vs bf16 batch 1: {results['bf16']['b1_s_per_example'] / results['bf16']['b8_s_per_example']:.2f}x")
    same = sum(a == b for a, b in zip(results["bf16"]["answers_b8"], results["fp32"]["answers_b8"], strict=True))
    print(f"identical answers bf16 vs fp32 (batch 8): {same}/{N_PROMPTS}; batch 1 vs batch 8: "
          f"bf16 {results['bf16']['b1_b8_same_answers']}/{N_PROMPTS}, fp32 {results['fp32']['b1_b8_same_answers']}/{N_PROMPTS}")
    print(f"load average at start/end: {results['load_average_start'][0]:.1f} / {results['load_average_end'][0]:.1f} "
          f"on {results['cpu_count']} cores")
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", "utf-8")


if __name__ == "__main__":
    main()
