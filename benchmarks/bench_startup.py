"""Start-up time of the command line and of ``import promptkit``, each in fresh processes.

    python benchmarks/bench_startup.py            # 7 runs of each, median and max

Commands are run as ``python -m promptkit …`` with this interpreter (a console script adds its own launcher time,
e.g. a pyenv shim). The heavy libraries (torch, transformers, sentence-transformers, faiss) must not be imported
by any of these; the script checks that too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from loadavg import load_summary

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "transformers", "sentence_transformers", "faiss", "langchain_huggingface")
CHECK = ("import sys, runpy; sys.argv = ['promptkit'] + {argv!r}\n"
         "try:\n    runpy.run_module('promptkit', run_name='__main__')\nexcept SystemExit:\n    pass\n"
         "print('HEAVY', [m for m in {heavy!r} if m in sys.modules], file=sys.stderr)")
CASES = {
    "python -c 'import promptkit'": [sys.executable, "-c", "import promptkit"],
    "promptkit --help": [sys.executable, "-m", "promptkit", "--help"],
    "promptkit prompts list": [sys.executable, "-m", "promptkit", "prompts", "list"],
    "promptkit chains list": [sys.executable, "-m", "promptkit", "chains", "list"],
    "python -c 'pass' (interpreter alone)": [sys.executable, "-c", "pass"],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out: dict = {"load_average_start": os.getloadavg(), "cases": {}}
    for name, cmd in CASES.items():
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            subprocess.run(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            times.append(time.perf_counter() - t)
        heavy = []
        if cmd[1] == "-m":
            proc = subprocess.run([sys.executable, "-c", CHECK.format(argv=cmd[3:], heavy=HEAVY)], env=env, cwd=REPO,
                                  capture_output=True, text=True)
            heavy = [line for line in proc.stderr.splitlines() if line.startswith("HEAVY")]
        out["cases"][name] = {"median_s": statistics.median(times), "max_s": max(times), "heavy": heavy}
    out["load_average_end"] = os.getloadavg()
    print(f"{'command':40} {'median s':>9} {'max s':>7}  heavy imports")
    for name, row in out["cases"].items():
        print(f"{name:40} {row['median_s']:9.3f} {row['max_s']:7.3f}  {' '.join(row['heavy']) or '-'}")
    print(load_summary(out["load_average_start"], out["load_average_end"]))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n", "utf-8")


if __name__ == "__main__":
    main()
