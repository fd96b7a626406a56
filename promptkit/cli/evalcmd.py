"""`promptkit eval …`: run a chain over an evaluation dataset (SQuAD QA, long-form tutor answers…), compare
two runs, write a report, record and check regression baselines, measure an LLM judge against hand labels.

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
        help="evaluate a chain on a dataset (SQuAD QA, long-form answers…)",
        description="Run a chain over an evaluation dataset and print the task's metrics with bootstrap "
        "confidence intervals: EM/F1 (official and Portuguese-normalised) for SQuAD 2.0 JSON files; key-fact "
        "recall, faithfulness, citations and declines for long-form answers (tutor_questions.jsonl).",
    )
    p.add_argument("--chain", required=True, help="chain name (see `promptkit chains list`)")
    p.add_argument(
        "--dataset",
        required=True,
        help="dataset file (SQuAD 2.0 .json or .jsonl), or a name under eval/datasets/",
    )
    p.add_argument("--task", help="evaluation task (squad, longform…; default: inferred from the dataset)")
    p.add_argument("--prompt", help="override the chain's prompt ref (name, name@3, name@staging)")
    p.add_argument("--index", help="index folder for rag chains (default: the course index)")
    p.add_argument(
        "--mode",
        choices=("reading", "rag"),
        default=None,
        help="reading: give the gold context; rag: let the chain retrieve (default: the task's own, "
        "SQuAD reading, long-form rag)",
    )
    p.add_argument("--split", help="only this split of the dataset (e.g. dev, test)")
    p.add_argument("--limit", type=int, help="only the first N items")
    p.add_argument(
        "--judge",
        metavar="MODEL",
        help="also ask an LLM judge the task's yes/no questions (a catalogue model name)",
    )
    _add_judge_threshold(p)
    p.add_argument("--out", help="write the results JSON here")
    p.add_argument(
        "--cache",
        choices=CACHE_MODES,
        default="use",
        help="replay cache: use (default), refresh, off, strict (fail on any uncached call)",
    )
    p.add_argument("--json", action="store_true", help="print the metrics as JSON instead of a table")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--model",
        metavar="NAME",
        help="answer with this model: a served model of models.yaml, a "
        "catalogue name, a model folder or a hub id (default: the chain's)",
    )
    p.add_argument(
        "--concurrency",
        type=int,
        metavar="N",
        help="served models: N requests in flight (default: the model's concurrency in models.yaml)",
    )
    p.add_argument(
        "--shard",
        metavar="I/N",
        help="only shard I of N (by question id); join the shards' --out files with `promptkit eval merge`",
    )
    p.set_defaults(func=cmd_run)


def _judge_model(name: str | None, threshold: float = 0.5) -> object:
    """The judge of ``--judge`` and ``--judge-threshold`` (it answers through the run's replay cache,
    LangChain's global one)."""
    if not name:
        return None
    from promptkit.evaluation.judge import LLMJudge
    from promptkit.llm import load_llm

    return LLMJudge(load_llm(name, progress=False), threshold=threshold)


def _threshold(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a probability between 0 and 1 (e.g. 0.85)")
    return value


def _add_judge_threshold(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--judge-threshold",
        type=_threshold,
        default=0.5,
        metavar="P",
        help="the judge says yes when P(yes) / (P(yes) + P(no)) is at least P (default 0.5; "
        "`eval agreement` suggests one from the hand labels)",
    )


def cmd_run(args: argparse.Namespace) -> int:
    from promptkit.evaluation import evaluate, format_summary
    from promptkit.evaluation.results import EvalResult

    result = evaluate(
        chain=args.chain,
        dataset=args.dataset,
        task=args.task,
        mode=args.mode,
        split=args.split,
        limit=args.limit,
        cache=args.cache,
        prompt=args.prompt,
        index=args.index,
        judge=_judge_model(args.judge, args.judge_threshold),
        out=args.out,
        show_progress=not args.quiet,
        llm=args.model,
        concurrency=args.concurrency,
        shard=args.shard,
    )
    if args.json and isinstance(result, EvalResult):
        print(json.dumps({"metrics": result.metrics, "metrics_pt": result.metrics_pt}, indent=2))
    elif args.json:
        shown = {"task": result.task, "metrics": result.metrics, "ci": result.ci, "groups": result.groups}
        print(json.dumps(shown, indent=2))
    else:
        print(format_summary(result))
    if args.out:
        print(f"results written to {args.out}", file=sys.stderr)
    return 0


# -- eval merge ----------------------------------------------------------------------------------------------


def _add_merge(esub: argparse._SubParsersAction) -> None:
    p = esub.add_parser(
        "merge",
        help="join the results files of the shards of one run (eval run --shard I/N)",
        description="Check that the files are the shards of one run and hold every question once, and write "
        "the "
        "results of the whole run (rows in dataset order, scores recomputed).",
    )
    p.add_argument("results", nargs="+", metavar="SHARD.json", help="the shards' results files")
    p.add_argument("--out", required=True, help="the merged results file to write")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON instead of a table")
    p.set_defaults(func=cmd_merge)


def cmd_merge(args: argparse.Namespace) -> int:
    from promptkit.evaluation.merge import merge_results
    from promptkit.fileio import check_writable

    check_writable(args.out)
    result = merge_results(args.results)
    result.save(args.out)
    if args.json:
        print(json.dumps({"metrics": result.metrics, "metrics_pt": result.metrics_pt}, indent=2))
    else:
        print(result.summary())
    print(
        f"merged {len(args.results)} shards ({len(result.rows)} questions) into {args.out}", file=sys.stderr
    )
    return 0


# -- eval compare --------------------------------------------------------------------------------------------


def _add_compare(esub: argparse._SubParsersAction) -> None:
    p = esub.add_parser(
        "compare",
        help="compare two results files (B minus A)",
        description="Metric deltas with paired-bootstrap CIs and the items that flipped (runs of one task).",
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
        help="write a self-contained HTML report (and/or a Markdown table) of results files",
        description="A table per run (with the breakdown per question type and language for long-form "
        "runs), a chart of each task's headline metrics per prompt version, and each later run compared with "
        "the first of its task (flipped items side by side).",
    )
    p.add_argument("results", nargs="+", metavar="RESULTS.json", help="results files written by `eval run`")
    p.add_argument("--html", metavar="OUT", help="the HTML file to write")
    p.add_argument("--markdown", metavar="OUT", help="also (or only) a Markdown summary table; '-' prints it")
    p.add_argument("--title", default="promptkit evaluation report", help="page title")
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from promptkit.errors import ValidationError
    from promptkit.evaluation import report
    from promptkit.evaluation.report import markdown_table
    from promptkit.evaluation.runner import load_result

    if not args.html and not args.markdown:
        raise ValidationError(
            "nothing to write", hint="add --html OUT and/or --markdown OUT ('-' prints the table)"
        )
    results = [load_result(r) for r in args.results]  # read once, for the printed table and the files
    markdown_file = None if args.markdown == "-" else args.markdown
    if args.markdown == "-":
        print(markdown_table(results), end="")
    if args.html or markdown_file:
        report(results, args.html, title=args.title, markdown_out=markdown_file)
    if args.html:
        print(f"report written to {args.html}")
    if markdown_file:
        print(f"table written to {markdown_file}")
    return 0


# -- eval baseline -------------------------------------------------------------------------------------------


def _add_baseline(esub: argparse._SubParsersAction) -> None:
    p = esub.add_parser(
        "baseline",
        help="record the blessed results of a regression suite",
        description="Run each entry of a suite (eval/suites/NAME.yaml) and record its results under "
        "eval/baselines/NAME/ENTRY.json, with the model calls they used in "
        "eval/baselines/NAME/replay.sqlite. "
        "Commit both; `promptkit eval check` replays them.",
    )
    p.add_argument("suite", metavar="SUITE", help="suite file, or a name under eval/suites/")
    p.add_argument("--entry", metavar="ID", help="record only this entry")
    p.add_argument(
        "--cache",
        choices=("use", "refresh"),
        default="use",
        help="use (default): reuse earlier generations from your replay cache; refresh: regenerate all",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_baseline)


def cmd_baseline(args: argparse.Namespace) -> int:
    from promptkit.regression import record_baseline

    for b in record_baseline(args.suite, args.entry, cache=args.cache, show_progress=not args.quiet):
        r = b.result
        print(
            f"{b.suite}/{b.entry.id}: {r.prompt.ref} · {r.model.id} · {r.dataset.name} "
            f"{r.dataset.split or 'all'} ({r.dataset.total} questions) · {_headline(r)} · "
            f"{len(b.replay.keys)} model calls"
        )
        print(f"  written {b.folder}/{b.entry.id}.json")
    print("commit the baseline folder (its JSON files and replay.sqlite)")
    return 0


def _headline(result: object) -> str:
    """The headline figures of a run on one line (SQuAD: EM and F1)."""
    from promptkit.evaluation.tasks import task_of

    task = task_of(result)
    if task.name == "squad":
        m = result.metrics  # type: ignore[attr-defined]
        return f"EM {m.get('exact', 0):.1f} F1 {m.get('f1', 0):.1f}"
    value = result.metric  # type: ignore[attr-defined]
    return " ".join(f"{n} {task.spec(n).fmt(value(n))}" for n in task.headline)


# -- eval check ----------------------------------------------------------------------------------------------


def _add_check(esub: argparse._SubParsersAction) -> None:
    p = esub.add_parser(
        "check",
        help="re-run regression suites against their baselines (exit 1 on a regression)",
        description="Re-run each suite entry against its baseline's recorded model calls, compare, "
        "and exit 1 "
        "when a metric falls beyond its tolerance, a correct item flips to wrong, or the dataset changed "
        "(re-record the baseline then). Exit 2 when strict replay needs a call that was not recorded.",
    )
    p.add_argument(
        "suite", metavar="SUITE", nargs="?", help="suite file or name (default: every eval/suites/*.yaml)"
    )
    p.add_argument("--entry", metavar="ID", help="check only this entry")
    p.add_argument(
        "--cache",
        choices=("use", "strict", "refresh"),
        default="use",
        help="use (default): replay the baseline calls and generate only what changed; strict: replay only, "
        "fail on any new call (CI); refresh: regenerate everything",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_check)


def run_checks(
    suites: list, *, entry: str | None, cache: str, quiet: bool, entries: dict | None = None
) -> int:
    """Check suites, printing each entry as it finishes; the exit code (0 pass, 1 regression)."""
    from promptkit.regression import SuiteCheck, check_suite

    total = SuiteCheck()
    for suite in suites:
        done = check_suite(
            suite,
            entry,
            cache=cache,
            show_progress=not quiet,
            entries=None if entries is None else entries.get(suite.name),
            on_entry=lambda e: print(e.summary() + "\n", flush=True),
        )
        total.entries += done.entries
    print(total.tail())
    return total.exit_code


def cmd_check(args: argparse.Namespace) -> int:
    from promptkit.errors import NotFoundError
    from promptkit.regression import list_suites, load_suite

    if args.suite:
        suites = [load_suite(args.suite)]
    else:
        suites = [load_suite(p) for p in list_suites()]
        if not suites:
            raise NotFoundError("no suite in eval/suites/", hint="write eval/suites/NAME.yaml")
        if args.entry:
            raise NotFoundError(
                "--entry needs a SUITE", hint="e.g. `promptkit eval check course --entry rag_qa`"
            )
    return run_checks(suites, entry=args.entry, cache=args.cache, quiet=args.quiet)


# -- eval agreement ------------------------------------------------------------------------------------------


def _add_agreement(esub: argparse._SubParsersAction) -> None:
    p = esub.add_parser(
        "agreement",
        help="how well an LLM judge agrees with hand labels (Cohen's kappa)",
        description="Ask an LLM judge the yes/no questions of each hand-labelled answer "
        "(eval/datasets/tutor_judgments.jsonl) and print, per criterion, the judge's agreement with the "
        "people: observed agreement, Cohen's kappa with a bootstrap interval, and the confusion table.",
    )
    p.add_argument(
        "--labels",
        default="tutor_judgments",
        help="hand labels (a JSON Lines file, or a name under eval/datasets/; default: tutor_judgments)",
    )
    p.add_argument("--judge", metavar="MODEL", help="the judge's chat model (a catalogue name)")
    _add_judge_threshold(p)
    p.add_argument(
        "--template",
        metavar="RESULTS.json",
        help="instead: print hand-label lines (labels left null) for the answers of a long-form "
        "results file, to fill in and append to the labels file",
    )
    p.add_argument(
        "--cache",
        choices=CACHE_MODES,
        default="use",
        help="replay cache of the judge's calls: use (default), refresh, off, strict",
    )
    p.add_argument("--json", action="store_true", help="print the agreement as JSON")
    p.set_defaults(func=cmd_agreement)


def cmd_agreement(args: argparse.Namespace) -> int:
    from promptkit.errors import ValidationError
    from promptkit.evaluation import agreement

    if args.template:
        from promptkit.evaluation.runner import load_result

        for line in agreement.label_template(load_result(args.template)):
            print(json.dumps(line, ensure_ascii=False))
        return 0
    if not args.judge:
        raise ValidationError("no judge given", hint="add --judge MODEL (e.g. qwen2.5-coder-1.5b-instruct)")
    labels = agreement.load_judgments(args.labels)
    report = agreement.judge_agreement(
        labels, _judge_model(args.judge, args.judge_threshold), cache=args.cache
    )
    print(json.dumps(report.as_dict(), indent=2) if args.json else agreement.format_agreement(report))
    return 0


# -- registration --------------------------------------------------------------------------------------------

COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_run,
    _add_merge,
    _add_compare,
    _add_report,
    _add_baseline,
    _add_check,
    _add_agreement,
]


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``promptkit eval`` and its subcommands to the top-level parser."""
    parser = sub.add_parser(
        "eval",
        help="evaluate chains (SQuAD QA, long-form answers…), compare runs, guard prompts",
        description="Evaluate chains: run, compare, report, baseline, check, agreement.",
    )
    esub = parser.add_subparsers(dest="eval_command", metavar="COMMAND", parser_class=type(parser))
    for add in COMMANDS:
        add(esub)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])
