"""Peak resident memory (RSS) of an evaluation run, measured in a child process with ``resource.getrusage``.

    python benchmarks/bench_memory.py                       # rag_course, 16 course QA questions, cache off
    python benchmarks/bench_memory.py --compare-fp32-file   # also the old path: bf16 downcast of the fp32 file

The child runs ``promptkit eval run --chain rag_course --dataset course_qa --mode rag --limit N --cache off``
(so the model really loads and generates) and reports its own ``ru_maxrss``. ``--compare-fp32-file`` runs the
same command with the weights read from the float32 file and downcast at load time, which is what every bf16
load did before the converted folder carried a bf16 copy.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from loadavg import load_summary

REPO = Path(__file__).resolve().parent.parent
CHILD = """
import json, resource, runpy, sys
if sys.argv[1] == "fp32-file":
    import promptkit.models as models
    models.weights_source = lambda entry, source, dtype, int8, progress=True: source
sys.argv = ["promptkit"] + sys.argv[2:]
try:
    runpy.run_module("promptkit", run_name="__main__")
except SystemExit as exc:
    if exc.code:
        raise
print("BENCH-RSS " + json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss), file=sys.stderr)
"""


def peak_rss(variant: str, limit: int) -> tuple[float, float]:
    cmd = ["eval", "run", "--chain", "rag_course", "--dataset", "course_qa", "--mode", "rag", "--limit", str(limit),
           "--cache", "off", "--quiet"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", PYTHONPATH=str(REPO))
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, variant, *cmd], env=env, cwd=REPO, capture_output=True,
                          text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-3000:])
        raise SystemExit(f"child failed ({proc.returncode})")
    line = next(x for x in proc.stderr.splitlines() if x.startswith("BENCH-RSS "))
    return json.loads(line.split(" ", 1)[1]) / 1024, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=16)
    ap.add_argument("--compare-fp32-file", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    out: dict = {"limit": args.limit, "load_average_start": os.getloadavg()}
    variants = ["bf16-copy"] + (["fp32-file"] if args.compare_fp32_file else [])
    for v in variants:
        print(f"{v} …", file=sys.stderr, flush=True)
        out[v] = dict(zip(("peak_rss_mb", "wall_s"), peak_rss(v, args.limit), strict=True))
    out["load_average_end"] = os.getloadavg()
    print(f"\npromptkit eval run --chain rag_course --dataset course_qa --mode rag --limit {args.limit} --cache off")
    names = {"bf16-copy": "bf16 weights read from the bf16 copy (default)",
             "fp32-file": "bf16 weights downcast from the fp32 file (old)"}
    for v in variants:
        print(f"{names[v]:50} peak RSS {out[v]['peak_rss_mb']:7.0f} MB   wall {out[v]['wall_s']:6.1f} s")
    print(load_summary(out["load_average_start"], out["load_average_end"]))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n", "utf-8")


if __name__ == "__main__":
    main()
