"""First run vs cached re-run of the whole course QA set in RAG mode, as a user runs it from the command line.

    python benchmarks/bench_cached_rerun.py              # 197 questions: the first run generates (~6 min idle)
    python benchmarks/bench_cached_rerun.py --limit 16   # a quick check

Each run is a fresh ``python -m promptkit eval run --chain rag_course --dataset course_qa --mode rag`` process
in a temporary PROMPTKIT_HOME whose ``models/`` and ``indexes/`` link to the real ones (so neither the one-off
model conversion nor the index build is timed) and whose replay cache and query-embedding cache start empty.
The figures are wall times of the whole process, interpreter start included. The re-run must hit the replay cache
for every call and import neither torch nor sentence-transformers (checked, and printed).
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

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
CHILD = """
import json, runpy, sys
sys.argv = ["promptkit"] + sys.argv[1:]
code = 0
try:
    runpy.run_module("promptkit", run_name="__main__")
except SystemExit as exc:
    code = exc.code or 0
report = {m: m in sys.modules for m in ("torch", "sentence_transformers", "transformers")}
print("BENCH-MODULES " + json.dumps(report), file=sys.stderr)
sys.exit(code)
"""


def run(home: Path, args: list[str]) -> tuple[float, dict, str]:
    env = dict(os.environ, PROMPTKIT_HOME=str(home), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               PYTHONPATH=str(REPO))
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, *args], env=env, capture_output=True, text=True,
                          cwd=REPO)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"eval run failed ({proc.returncode})")
    line = next(x for x in proc.stderr.splitlines() if x.startswith("BENCH-MODULES "))
    return wall, json.loads(line.split(" ", 1)[1]), proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, help="only the first N questions (default: all 197)")
    ap.add_argument("--reruns", type=int, default=3, help="cached re-runs to time (the median is reported)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--home", type=Path, help="keep the temporary PROMPTKIT_HOME here; when it already holds a "
                    "first run, only the re-runs are timed (e.g. record on a busy machine, time when quiet)")
    ap.add_argument("--skip-first", action="store_true", help="with --home: do not run (and time) a first run")
    args = ap.parse_args()

    from promptkit import paths

    real = paths.home()
    cmd = ["eval", "run", "--chain", "rag_course", "--dataset", "course_qa", "--mode", "rag", "--json", "--quiet"]
    if args.limit:
        cmd += ["--limit", str(args.limit)]
    out: dict = {"command": "promptkit " + " ".join(cmd), "load_average_start": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="promptkit-rerun-") as tmp:
        home = args.home or Path(tmp)
        home.mkdir(parents=True, exist_ok=True)
        for name in ("models", "indexes"):
            if not (home / name).exists():
                (home / name).symlink_to(real / name, target_is_directory=True)
        # byte-compile the package as an installation does: where PYTHONDONTWRITEBYTECODE is set, an edited
        # module would otherwise be compiled again by every timed process
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "promptkit")], check=True,
                       capture_output=True)
        first, stdout_first = float("nan"), None
        if not args.skip_first:
            print("first run (empty replay and query caches) …", file=sys.stderr, flush=True)
            first, _, stdout_first = run(home, cmd)
        reruns = []
        for i in range(args.reruns):
            wall, mods, stdout = run(home, cmd)
            reruns.append(wall)
            print(f"  re-run {i + 1}: {wall:.2f} s", file=sys.stderr, flush=True)
        same = json.loads(stdout_first) == json.loads(stdout) if stdout_first is not None else None
    reruns.sort()
    out.update(first_s=first, rerun_s=reruns, rerun_median_s=reruns[len(reruns) // 2], modules_on_rerun=mods,
               same_scores=same, load_average_end=os.getloadavg())
    n = args.limit or "all 197"
    print(f"\n{out['command']}  ({n} questions)")
    print(f"first run (generates):   {first:8.2f} s")
    print(f"cached re-run (median of {len(reruns)}): {out['rerun_median_s']:8.2f} s   "
          f"({first / out['rerun_median_s']:.0f}x faster)")
    loaded = ", ".join(m for m, v in mods.items() if v) or "none of torch, sentence_transformers, transformers"
    print(f"modules loaded by the re-run: {loaded}")
    print(f"same scores on the re-run: {out['same_scores']}")
    print(load_summary(out["load_average_start"], out["load_average_end"]))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n", "utf-8")


if __name__ == "__main__":
    main()
