"""`promptkit squad-eval`: the official SQuAD 2.0 evaluation of a predictions file, same JSON keys."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``promptkit squad-eval`` to the top-level parser."""
    p = sub.add_parser(
        "squad-eval",
        help="official SQuAD 2.0 scores of a predictions file",
        description="Score PRED.json ({question id: answer text}) against a SQuAD 2.0 DATA.json exactly "
        "as the official evaluate-v2.0.py does, printing the same JSON keys.",
    )
    p.add_argument("data_file", metavar="DATA.json", help="SQuAD 2.0 dataset")
    p.add_argument("pred_file", metavar="PRED.json", help="predictions: {question id: answer text}")
    p.add_argument("--na-prob-file", "-n", metavar="F", help="no-answer probabilities: {question id: float}")
    p.add_argument(
        "--na-prob-thresh",
        "-t",
        type=float,
        default=1.0,
        metavar="T",
        help="predict no-answer when the probability is above this (default: 1.0)",
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
    p.set_defaults(func=cmd_squad_eval)


def _mapping(obj: object, path: str, what: str, value_type: type | tuple[type, ...]) -> dict:
    from promptkit.errors import ValidationError

    if not isinstance(obj, dict) or not all(isinstance(v, value_type) for v in obj.values()):
        raise ValidationError(
            f"{path} is not a {what} file", hint="expected a JSON object {question id: value}"
        )
    return obj


def cmd_squad_eval(args: argparse.Namespace) -> int:
    from promptkit import metrics as M
    from promptkit.datasets import load_squad
    from promptkit.fileio import atomic_write_json, read_json

    dataset = load_squad(args.data_file)
    preds = _mapping(read_json(args.pred_file, what="predictions file"), args.pred_file, "predictions", str)
    na_probs = None
    if args.na_prob_file:
        raw = read_json(args.na_prob_file, what="no-answer probability file")
        na_probs = {
            k: float(v)
            for k, v in _mapping(raw, args.na_prob_file, "no-answer probability", (int, float)).items()
        }
    if args.map_abstentions:
        preds = {k: M.map_abstention(v) for k, v in preds.items()}
    golds = dataset.golds()
    for qid in golds:
        if qid not in preds:
            print(f"Missing prediction for {qid}", file=sys.stderr)
    result = M.squad_v2_eval(
        golds,
        preds,
        na_probs=na_probs,
        na_prob_thresh=args.na_prob_thresh,
        normalizer=M.get_normalizer(args.normalizer),
    )
    if args.out_file:
        atomic_write_json(args.out_file, result)
    else:
        print(json.dumps(result, indent=2))
    return 0
