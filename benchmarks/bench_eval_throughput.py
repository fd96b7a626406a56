"""Evaluation throughput: promptkit's rag_course chain against the plain LangChain way, on the same prompts.

    python benchmarks/bench_eval_throughput.py                  # 24 course QA questions, RAG mode
    python benchmarks/bench_eval_throughput.py --levers         # also generation levers, one at a time
    python benchmarks/bench_eval_throughput.py --limit 48 --passes 3   # medians of 3 alternating passes

Both sides answer the first ``--limit`` questions of ``eval/datasets/course_qa.json`` in RAG mode with the default
model (Qwen2.5-Coder 0.5B Instruct, converted from its GGUF package), through the shipped ``rag_course`` chain
(retrieval, prompt fitting, its cross-check prompt, post-processing); only the model in the chain differs:

* **promptkit**: ``evaluate(chain="rag_course", mode="rag", cache="off")`` with the default model settings
  (bf16, batches of 8, stop at the first newline, greedy decoding with 8 prompt-lookup draft tokens per step,
  the shared prompt prefix and shared passages computed once). The weights are loaded before the clock starts.
* **plain LangChain**: ``langchain_huggingface.HuggingFacePipeline`` over a transformers
  ``pipeline("text-generation", max_new_tokens=<same>, do_sample=False, return_full_text=False)`` on the same
  converted folder in float32, invoked once per prompt, in the chain's model slot: the chain renders exactly
  the same prompts (retrieved documents, chat template and all) and post-processes the texts the same way.

Both sides are timed over the whole ``evaluate`` call, so examples/s are per question. Where the chain's
cross-check prompt abstains, the chain does not run its main prompt, so each side runs the prompts its own
answers call for (almost always the same ones). ``--levers`` times ``model.complete`` on the prompts the chain
sends with one setting changed at a time (drafts, prefix cache, transformers' generate, batching, dtype, int8,
stop strings, threads), in ``--rounds`` interleaved rounds, and reports each lever's median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from loadavg import load_summary
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _model_classes():
    """LocalChatModel subclasses for the chain's model slot: a recorder of what the chain sends (no weights), the
    plain LangChain pipeline invoked once per prompt, and a replayer of given texts."""
    import re

    from promptkit.llm.local import LocalChatModel

    last_document = re.compile(r"<documento[^>]*>\s*(.*?)</documento>", re.S)

    class Recorder(LocalChatModel):
        seen: list = []

        def _complete(self, prompts: list[str], params: dict[str, Any]) -> list[str]:
            self.seen.extend((p, dict(params)) for p in prompts)
            # the first words of the prompt's own (last) document: a grounded answer, so that a cross-check
            # prompt lets the chain go on to its main prompt and both are recorded
            return [" ".join((last_document.findall(p) or [""])[-1].split()[:4]) for p in prompts]

    class PipelineModel(LocalChatModel):
        hf_pipeline: Any = None
        calls: int = 0

        def _complete(self, prompts: list[str], params: dict[str, Any]) -> list[str]:
            outs = []
            for prompt in prompts:
                outs.append(self.hf_pipeline.invoke(prompt))
                self.calls += 1
                print(f"  baseline prompt {self.calls}", file=sys.stderr, flush=True)
            return outs

    class Replayer(LocalChatModel):
        answers: dict = {}

        def _complete(self, prompts: list[str], params: dict[str, Any]) -> list[str]:
            return [self.answers[p] for p in prompts]

    return Recorder, PipelineModel, Replayer


def _light_model(cls, llm, **fields):
    """A weightless model with the real model's tokenizer, id and numerics (same prompts, same cache keys)."""
    return cls(model_id=llm.model_id, revision=llm.revision, path=llm.path, dtype=llm.dtype,
               context_window=llm.context_window, batch_size=llm.batch_size, **fields).defer(lambda: None)


def chain_prompts(llm, dataset: str, limit: int) -> tuple[list[str], dict[str, Any]]:
    """Every rendered prompt (chat template included) the rag_course chain may send for these questions, and the
    generation params: its cross-check prompts, then its main prompts for every question (the chain runs a
    main prompt only where the cross-check answers, so this is the most either side can need)."""
    from promptkit.chains import load_chain
    from promptkit.evaluation import evaluate

    Recorder, _, _ = _model_classes()
    recorder = _light_model(Recorder, llm, seen=[])
    evaluate(chain="rag_course", dataset=dataset, mode="rag", limit=limit, llm=recorder, cache="off",
             show_progress=False)
    main_only = load_chain("rag_course", llm=recorder, cross_check=None)
    evaluate(chain=main_only, dataset=dataset, mode="rag", limit=limit, llm=recorder, cache="off",
             show_progress=False)
    prompts = list(dict.fromkeys(p for p, _ in recorder.seen))  # in the model's (length-sorted) order
    return prompts, recorder.seen[0][1]


def run_promptkit(dataset: str, limit: int):
    from promptkit.llm import load_llm

    t = time.perf_counter()
    llm = load_llm()
    llm.backend  # noqa: B018 - load the weights before timing
    load_s = time.perf_counter() - t
    return llm, *timed_promptkit(dataset, limit), load_s


def timed_promptkit(dataset: str, limit: int):
    """One pass of the whole chain with the replay cache off: (result, seconds)."""
    from promptkit.evaluation import evaluate

    t = time.perf_counter()
    result = evaluate(chain="rag_course", dataset=dataset, mode="rag", limit=limit, cache="off",
                      show_progress=False)
    return result, time.perf_counter() - t


def load_baseline(folder: str, max_new_tokens: int):
    """HuggingFacePipeline over a float32 text-generation pipeline: (llm, load seconds)."""
    import torch
    from langchain_huggingface import HuggingFacePipeline
    from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline

    t = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    pipe = pipeline("text-generation", model=model, tokenizer=tok, max_new_tokens=max_new_tokens,
                    do_sample=False, return_full_text=False)
    return HuggingFacePipeline(pipeline=pipe), time.perf_counter() - t


def score_texts(llm, dataset: str, limit: int, answers: dict[str, str]):
    """EM/F1 of given raw model texts (by prompt), put through the chain's own post-processing."""
    from promptkit.evaluation import evaluate

    _, _, Replayer = _model_classes()
    replayer = _light_model(Replayer, llm, answers=answers)
    return evaluate(chain="rag_course", dataset=dataset, mode="rag", limit=limit, llm=replayer, cache="off",
                    show_progress=False)


def run_baseline(llm, pipe, dataset: str, limit: int):
    """The chain with the plain pipeline in its model slot, one invoke per prompt: (result, seconds, prompts)."""
    from promptkit.evaluation import evaluate

    _, PipelineModel, _ = _model_classes()
    model = _light_model(PipelineModel, llm, hf_pipeline=pipe)
    t = time.perf_counter()
    result = evaluate(chain="rag_course", dataset=dataset, mode="rag", limit=limit, llm=model, cache="off",
                      show_progress=False)
    return result, time.perf_counter() - t, model.calls


def levers(llm, prompts: list[str], params: dict[str, Any], rounds: int,
           only: list[str] | None = None) -> list[dict[str, Any]]:
    """``model.complete`` on the same prompts, one setting changed at a time from promptkit's defaults.

    Every lever runs once per round, rounds interleaved, and the median is reported: on this shared virtual machine
    the same forward pass varies by up to 1.7x from one call to the next, so single timings mislead.
    """
    import torch

    from promptkit.llm import load_llm
    from promptkit.llm.local import LocalChatModel

    base_kwargs = {"max_new_tokens": params["max_new_tokens"], "temperature": params["temperature"]}
    default = llm.model_copy(update={"cache": None}).attach(llm.backend)

    def variant(**update: Any) -> LocalChatModel:
        return default.model_copy(update=update).attach(llm.backend)

    def hf_stop_strings(self, p, width, *extra):
        from transformers import StoppingCriteriaList

        out = {"stop_strings": list(p["stop"]), "tokenizer": self.tokenizer} if any(p["stop"]) else {}
        if extra:
            out["stopping_criteria"] = StoppingCriteriaList(list(extra))
        return out

    class OneThread:
        def __enter__(self):
            self.threads = torch.get_num_threads()
            torch.set_num_threads(1)

        def __exit__(self, *exc):
            torch.set_num_threads(self.threads)

    class HFStopStrings:
        def __enter__(self):
            self.original = LocalChatModel._stopping
            LocalChatModel._stopping = hf_stop_strings

        def __exit__(self, *exc):
            LocalChatModel._stopping = self.original

    class NoPassageGroups:
        def __enter__(self):
            from promptkit.llm.base import BatchedChatModel
            from promptkit.llm.decoding import prefill

            self.saved = prefill.MIN_GROUP, LocalChatModel._batch_order
            prefill.MIN_GROUP = 10**9
            LocalChatModel._batch_order = BatchedChatModel._batch_order

        def __exit__(self, *exc):
            from promptkit.llm.decoding import prefill

            prefill.MIN_GROUP, LocalChatModel._batch_order = self.saved

    class NoTree:
        """Every batch prefilled as one padded batch after its common prefix (the prefix tree off)."""

        def __enter__(self):
            from promptkit.llm.decoding import prefill

            self.saved = prefill.regroupable
            prefill.regroupable = lambda cache: False

        def __exit__(self, *exc):
            from promptkit.llm.decoding import prefill

            prefill.regroupable = self.saved

    class Nothing:
        def __enter__(self):
            return None

        def __exit__(self, *exc):
            return None

    def other_weights(**settings: Any) -> Callable[[], LocalChatModel]:
        def load() -> LocalChatModel:
            model = load_llm(**settings)
            return model.model_copy(update={"cache": None}).attach(model.backend)

        return load

    generate = {"draft_tokens": 0, "prefix_cache": False}
    cases = [  # (name, model, stop strings, context)
        ("default: bf16, batch 8, stop criterion, 8 drafted tokens, prefix cache, prefix-tree prefill", default,
         params["stop"], Nothing),
        ("continuous batching (rows join once half the batch has finished)", variant(continuous_batching=True),
         params["stop"], Nothing),
        ("no shared spans (common prefix, then length buckets; longest-first batches)", default, params["stop"],
         NoPassageGroups),
        ("no prefix tree (common prefix, then one padded batch)", default, params["stop"], NoTree),
        ("no prefix cache (drafts only)", variant(prefix_cache=False), params["stop"], Nothing),
        ("no drafts (prefix cache only)", variant(draft_tokens=0), params["stop"], Nothing),
        ("4 drafted tokens", variant(draft_tokens=4), params["stop"], Nothing),
        ("transformers generate (no drafts, no prefix cache)", variant(**generate), params["stop"], Nothing),
        ("generate with stop_strings=... instead of the criterion", variant(**generate), params["stop"],
         HFStopStrings),
        ("no stop strings (EOS or max_new_tokens only)", default, [], Nothing),
        (f"1 torch thread (default {torch.get_num_threads()})", default, params["stop"], OneThread),
        ("batch 1", variant(batch_size=1), params["stop"], Nothing),
        ("fp32 weights", other_weights(dtype="fp32"), params["stop"], Nothing),
        ("int8 dynamic quantisation of every Linear (fp32 activations)", other_weights(int8=True), params["stop"],
         Nothing),
    ]
    cases = [c for i, c in enumerate(cases) if i == 0 or not only or any(o in c[0] for o in only)]
    cases = [(name, model() if callable(model) else model, stop, context) for name, model, stop, context in cases]
    times: dict[str, list[float]] = {name: [] for name, *_ in cases}
    firsts: dict[str, list[str]] = {}
    for r in range(rounds):
        for name, model, stop, context in cases:
            with context():
                t = time.perf_counter()
                texts = model.complete(prompts, stop=stop, **base_kwargs)
                s = time.perf_counter() - t
            times[name].append(s / len(prompts))
            firsts.setdefault(name, [x.split("\n")[0].strip() for x in texts])
            print(f"  round {r + 1}/{rounds} lever {name}: {s / len(prompts):.2f} s/example", file=sys.stderr,
                  flush=True)
    return [{"setting": name, "s_per_example": statistics.median(times[name]), "runs": times[name],
             "first_lines": firsts[name], "note": ""} for name, *_ in cases]


def prefix_tokens(llm, prompts: list[str]) -> tuple[int, float]:
    """Tokens of the prefix all prompts share (system prompt + template) and the mean prompt length."""
    ids = [llm.tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    shared = 0
    for column in zip(*ids, strict=False):
        if len(set(column)) != 1:
            break
        shared += 1
    return shared, statistics.mean(len(i) for i in ids)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="course_qa")
    ap.add_argument("--limit", type=int, default=24, help="questions (the same ones on both sides)")
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--levers", action="store_true", help="also time generation settings one at a time")
    ap.add_argument("--lever-limit", type=int, default=16, help="prompts used for each lever (the first N)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds per lever (median reported)")
    ap.add_argument("--only", action="append", metavar="TEXT",
                    help="only the levers whose name contains TEXT (repeatable; the default always runs)")
    ap.add_argument("--passes", type=int, default=1,
                    help="timed passes of each side, alternating (median reported; the first pass gives EM/F1)")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args()

    import torch

    out: dict[str, Any] = {"limit": args.limit, "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                           "load_average_start": os.getloadavg()}
    print("promptkit rag_course (defaults, cache off) …", file=sys.stderr, flush=True)
    llm, result, pk_s, pk_load = run_promptkit(args.dataset, args.limit)
    prompts, params = chain_prompts(llm, args.dataset, args.limit)
    shared, mean_tokens = prefix_tokens(llm, prompts)
    out["promptkit"] = {"seconds": pk_s, "load_s": pk_load, "examples_per_s": args.limit / pk_s,
                        "em": result.metrics["exact"], "f1": result.metrics["f1"],
                        "settings": {"dtype": llm.dtype, "batch_size": llm.batch_size, **params}}
    out["prompts"] = {"count": len(prompts), "mean_tokens": mean_tokens, "shared_prefix_tokens": shared}
    if args.levers:
        out["levers"] = levers(llm, prompts[: args.lever_limit], params, args.rounds, args.only)
    if not args.skip_baseline:
        print("plain LangChain HuggingFacePipeline (fp32, one invoke per example) …", file=sys.stderr, flush=True)
        baseline, base_load = load_baseline(llm.path, params["max_new_tokens"])
        scored, base_s, base_calls = run_baseline(llm, baseline, args.dataset, args.limit)
        base_pred = {r.id: r.prediction for r in scored.rows}
        same = sum(r.prediction == base_pred[r.id] for r in result.rows)
        pk_runs, base_runs = [pk_s], [base_s]
        for n in range(2, args.passes + 1):  # further passes alternate the two sides; medians are reported
            print(f"pass {n}/{args.passes} …", file=sys.stderr, flush=True)
            pk_runs.append(timed_promptkit(args.dataset, args.limit)[1])
            base_runs.append(run_baseline(llm, baseline, args.dataset, args.limit)[1])
        pk_s, base_s = statistics.median(pk_runs), statistics.median(base_runs)
        out["promptkit"].update(seconds=pk_s, examples_per_s=args.limit / pk_s, runs=pk_runs)
        out["baseline"] = {"seconds": base_s, "load_s": base_load, "examples_per_s": args.limit / base_s,
                           "runs": base_runs, "em": scored.metrics["exact"], "f1": scored.metrics["f1"],
                           "same_answers": same, "prompts_run": base_calls}
        out["speedup"] = out["promptkit"]["examples_per_s"] / out["baseline"]["examples_per_s"]
    out["load_average_end"] = os.getloadavg()

    p = out["promptkit"]
    print(f"\n{args.limit} course QA questions, RAG mode; prompts {mean_tokens:.0f} tokens on average "
          f"({shared} shared prefix tokens), max_new_tokens {params['max_new_tokens']}, stop {params['stop']!r}")
    print(f"{'pipeline':44} {'ex/s':>7} {'s/ex':>6} {'EM':>6} {'F1':>6}")
    print(f"{'promptkit rag_course (defaults)':44} {p['examples_per_s']:7.3f} {pk_s / args.limit:6.2f} "
          f"{p['em']:6.1f} {p['f1']:6.1f}")
    if "baseline" in out:
        b = out["baseline"]
        print(f"{'LangChain HuggingFacePipeline (fp32, loop)':44} {b['examples_per_s']:7.3f} "
              f"{b['seconds'] / args.limit:6.2f} {b['em']:6.1f} {b['f1']:6.1f}")
        if len(b["runs"]) > 1:
            print(f"medians of {len(b['runs'])} alternating passes; seconds per pass: promptkit "
                  f"{', '.join(f'{x:.1f}' for x in p['runs'])}; baseline {', '.join(f'{x:.1f}' for x in b['runs'])}")
        print(f"speed-up: {out['speedup']:.1f}x; F1 difference {p['f1'] - b['f1']:+.1f} points; identical final "
              f"answers {b['same_answers']}/{args.limit}; baseline prompts run {b['prompts_run']}")
    lever_rows = out.get("levers", [])
    if lever_rows:
        ref = lever_rows[0]
        print(f"generation levers on the first {len(ref['first_lines'])} prompts (model.complete only):")
    for row in lever_rows:
        same = sum(a == b for a, b in zip(row["first_lines"], lever_rows[0]["first_lines"], strict=True))
        print(f"  {row['setting']:58} {row['s_per_example']:6.2f} s/example  "
              f"{lever_rows[0]['s_per_example'] / row['s_per_example']:5.2f}x of default  "
              f"same first lines {same}/{len(row['first_lines'])}")
    print(load_summary(out["load_average_start"], out["load_average_end"], out["cpu_count"]))
    if args.json:
        args.json.write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", "utf-8")


if __name__ == "__main__":
    main()
