"""`promptkit eval …`: run a QA chain over a SQuAD 2.0 dataset, compare two runs, write an HTML report.

One ``_add_<command>`` function declares each subcommand's arguments and one ``cmd_<command>`` handler
runs it; new commands are added to :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

CACHE_MODES = ("use", "refresh", "off", "strict")


# -- eval run ------------------------------------------------------------------------------------------------


def _add_run(esub: argparse._SubParsersAction) -> None:
    p = esub.add_parser(
        "run",
        help="evaluate a chain on a SQuAD 2.0 dataset",
        description="Run a QA chain over a SQuAD 2.0 dataset and print EM/F1 "
        "(official and Portuguese-normalised) with bootstrap confidence intervals.",
    )
    p.add_argument("--chain", required=True, help="chain name (see `promptkit chains list`)")
    p.add_argument("--dataset", required=True, help="SQuAD 2.0 JSON file, or a name under eval/datasets/")
    p.add_argument("--prompt", help="override the chain's prompt ref (name, name@3, name@staging)")
    p.add_argument("--index", help="index folder for rag chains (default: the course index)")
    p.add_argument(
        "--mode",
        choices=("reading", "rag"),
        default="reading",
        help="reading: give the gold context; rag: let the chain retrieve (default: reading)",
    )
    p.add_argument("--split", help="only this split of the dataset (e.g. dev, test)")
    p.add_argument("--limit", type=int, help="only the first N questions")
    p.add_argument("--out", help="write the results JSON here")
    p.add_argument(
        "--cache",
        choices=CACHE_MODES,
        default="use",
        help="replay cache: use (default), refresh, off, strict (fail on any uncached call)",
    )
    p.add_argument("--json", action="store_true", help="print the metrics as JSON instead of a table")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    from promptkit.evaluation import evaluate

    result = evaluate(
        chain=args.chain,
        dataset=args.dataset,
        mode=args.mode,
        split=args.split,
        limit=args.limit,
        cache=args.cache,
        prompt=args.prompt,
        index=args.index,
        out=args.out,
        show_progress=not args.quiet,
    )
    if args.json:
        print(json.dumps({"metrics": result.metrics, "metrics_pt": result.metrics_pt}, indent=2))
    else:
        print(result.summary())
    if args.out:
        print(f"results written to {args.out}", file=sys.stderr)
    return 0


# -- eval compare --------------------------------------------------------------------------------------------


def _add_compare(esub: argparse._SubParsersAction) -> None:
    p = esub.add_parser(
        "compare",
        help="compare two results files (B minus A)",
        description="Metric deltas with paired-bootstrap CIs and the questions that flipped.",
    )
    p.add_argument("a", metavar="A.json", help="the reference run")
    p.add_argument("b", metavar="B.json", help="the new run")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.set_defaults(func=cmd_compare)


def cmd_compare(args: argparse.Namespace) -> int:
    from promptkit.evaluation import compare

    comparison = compare(args.a, args.b)
    print(comparison.model_dump_json(indent=2) if args.json else comparison.summary())
    return 0


# -- eval report ---------------------------------------------------------------------------------------------


def _add_report(esub: argparse._SubParsersAction) -> None:
    p = esub.add_parser(
        "report",
        help="write a self-contained HTML report of results files",
        description="A table per run, an EM/F1 chart per prompt version, and each later run "
        "compared with the first (flipped items side by side).",
    )
    p.add_argument("results", nargs="+", metavar="RESULTS.json", help="results files written by `eval run`")
    p.add_argument("--html", required=True, metavar="OUT", help="the HTML file to write")
    p.add_argument("--title", default="promptkit evaluation report", help="page title")
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from promptkit.evaluation import report

    path = report(args.results, args.html, title=args.title)
    print(f"report written to {path}")
    return 0


# -- registration --------------------------------------------------------------------------------------------

COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_run, _add_compare, _add_report]


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``promptkit eval`` and its subcommands to the top-level parser."""
    parser = sub.add_parser(
        "eval",
        help="evaluate chains on SQuAD 2.0 datasets",
        description="Evaluate QA chains: run, compare, report.",
    )
    esub = parser.add_subparsers(dest="eval_command", metavar="COMMAND", parser_class=type(parser))
    for add in COMMANDS:
        add(esub)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])
