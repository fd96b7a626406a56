"""`promptkit squad-eval`: the official SQuAD v2.0 (default) or v1.1 evaluation of a predictions file.

The JSON printed has the keys of the official script of the chosen version. Where that script would crash or
quietly skip, the command is explicit: a question without a prediction scores 0 and is reported in one warning
line (``--strict`` refuses the file instead); a no-answer probability that is missing for a predicted
question, or is not a finite number, is one error line naming the question.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

#: how many missing question ids a warning or an error names
SHOWN_IDS = 5


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``promptkit squad-eval`` to the top-level parser."""
    p = sub.add_parser(
        "squad-eval",
        help="official SQuAD 2.0 (or 1.1) scores of a predictions file",
        description="Score PRED.json ({question id: answer text}) against a SQuAD DATA.json as the official "
        "evaluate-v2.0.py (default) or evaluate-v1.1.py does, printing the same JSON keys. A question "
        "without a prediction scores 0 (one warning line; --strict refuses the file).",
    )
    p.add_argument("data_file", metavar="DATA.json", help="SQuAD dataset")
    p.add_argument("pred_file", metavar="PRED.json", help="predictions: {question id: answer text}")
    p.add_argument(
        "--version",
        choices=("2.0", "1.1"),
        default="2.0",
        help="official script to reproduce: 2.0 (no-answer aware, default) or 1.1 (exact_match and f1 only)",
    )
    p.add_argument(
        "--na-prob-file", "-n", metavar="F", help="no-answer probabilities: {question id: number} (2.0 only)"
    )
    p.add_argument(
        "--na-prob-thresh",
        "-t",
        type=_finite_float,
        default=None,
        metavar="T",
        help="predict no-answer when the probability is above this (default: 1.0; 2.0 only)",
    )
    p.add_argument("--out-file", "-o", metavar="F", help="write the metrics JSON here instead of printing it")
    p.add_argument(
        "--map-abstentions",
        action="store_true",
        help="turn worded abstentions ('sem resposta', 'unanswerable', …) into empty answers first",
    )
    p.add_argument(
        "--normalizer", default="squad-v2.0", help="squad-v2.0 (official, default), pt-v1 or pt-v1-fold"
    )
    p.add_argument(
        "--strict", action="store_true", help="refuse a predictions file that leaves a question unanswered"
    )
    p.set_defaults(func=cmd_squad_eval)


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if value is None:
        return "null"
    return {list: "an array", dict: "an object", str: "a string"}.get(type(value), "a JSON value")


def _predictions(obj: Any, path: str) -> dict[str, str]:
    from promptkit.errors import ValidationError

    if not isinstance(obj, dict):
        raise ValidationError(
            f"{path} is not a predictions file (it holds {_json_kind(obj)})",
            hint="expected a JSON object {question id: answer text}",
        )
    for qid, value in obj.items():
        if not isinstance(value, str):
            raise ValidationError(
                f"{path} is not a predictions file: the answer to question {qid!r} is {_json_kind(value)}",
                hint='write every answer as a JSON string ("" for no answer)',
            )
    return obj


def _listed(ids: list[str]) -> str:
    shown = ", ".join(ids[:SHOWN_IDS])
    return shown + (", …" if len(ids) > SHOWN_IDS else "")


def cmd_squad_eval(args: argparse.Namespace) -> int:
    from promptkit import metrics as M
    from promptkit.datasets import load_squad
    from promptkit.errors import ValidationError
    from promptkit.fileio import atomic_write_json, read_json
    from promptkit.text import map_abstention

    if args.version == "1.1" and (args.na_prob_file or args.na_prob_thresh is not None):
        raise ValidationError(
            "--na-prob-file and --na-prob-thresh apply to SQuAD 2.0 only",
            hint="drop them, or score with --version 2.0",
        )
    normalizer = M.get_normalizer(args.normalizer)
    dataset = load_squad(args.data_file)
    preds = _predictions(read_json(args.pred_file, what="predictions file"), args.pred_file)
    golds = dataset.golds()
    missing = M.missing_predictions(golds, preds)
    if missing and args.strict:
        raise ValidationError(
            f"{args.pred_file} has no prediction for {len(missing)} of {len(golds)} questions: "
            f"{_listed(missing)}",
            hint='answer every question ("" for no answer), or drop --strict to score those as 0',
        )
    na_probs = None
    if args.na_prob_file:
        raw = read_json(args.na_prob_file, what="no-answer probability file")
        if not isinstance(raw, dict):
            raise ValidationError(
                f"{args.na_prob_file} is not a no-answer probability file (it holds {_json_kind(raw)})",
                hint="expected a JSON object {question id: number}",
            )
        na_probs = M.check_na_probs(raw, [q for q in golds if q in preds], source=args.na_prob_file)
    if missing:
        print(
            f"warning: {args.pred_file} has no prediction for {len(missing)} of {len(golds)} questions "
            f"(each scores 0): {_listed(missing)}",
            file=sys.stderr,
        )
    if args.version == "1.1":
        unanswerable = [q for q, answers in golds.items() if not answers]
        if unanswerable:
            print(
                f"warning: v1.1 scores 0 on the {len(unanswerable)} of {len(golds)} questions without a gold "
                f"answer (SQuAD 2.0 unanswerable; --version 2.0 scores abstentions): {_listed(unanswerable)}",
                file=sys.stderr,
            )
    if args.map_abstentions:
        preds = {k: map_abstention(v) for k, v in preds.items()}
    thresh = 1.0 if args.na_prob_thresh is None else args.na_prob_thresh
    result = M.squad_eval(
        golds, preds, version=args.version, na_probs=na_probs, na_prob_thresh=thresh, normalizer=normalizer
    )
    if args.out_file:
        atomic_write_json(args.out_file, result)
    else:
        print(json.dumps(result, indent=2))
    return 0
