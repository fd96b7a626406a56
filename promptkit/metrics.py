"""SQuAD-style answer metrics as small pure functions.

The rules of the official evaluation scripts (``evaluate-v1.1.py`` and ``evaluate-v2.0.py``) are reproduced:

* normalise = lowercase → delete ASCII :data:`string.punctuation` → articles ``a|an|the`` become a space →
  collapse whitespace (:func:`normalize_answer`, the same in both versions);
* exact match (EM) compares normalised strings, F1 is the token-bag overlap of the normalised tokens, and each
  question takes the maximum over its gold answers;
* v1.1 (:func:`squad_v1_eval`): no no-answer handling: gold answers are used as given, F1 is 0 whenever no
  token is shared (two empty answers included), and the result is ``{"exact_match", "f1"}`` in percent over
  all questions, a missing prediction scoring 0;
* v2.0 (:func:`squad_v2_eval`): gold answers that normalise to ``""`` are dropped and a question left with
  none has the gold ``[""]``; F1 is 1 when both sides are empty and 0 when only one is; a no-answer
  probability strictly above the threshold (default 1.0) turns the prediction into an abstention; scores are
  split into ``HasAns_*`` and ``NoAns_*``, and ``best_exact``/``best_f1`` search the threshold
  (:func:`find_best_thresh`).

Where the official scripts stop with a traceback, these functions are defined instead: in v2.0 a question
without a prediction scores 0 and stays in every total (as in v1.1), a no-answer probability missing for a
predicted question, or one that is not a finite number, is a :class:`~promptkit.errors.ValidationError`
naming the question; in v1.1 a question without gold answers (a SQuAD 2.0 unanswerable one) scores 0.

Generative models abstain in words, so :func:`~promptkit.text.map_abstention` turns "sem resposta",
"unanswerable" and similar phrases into ``""`` before scoring. The Portuguese-aware normalisers
(:func:`~promptkit.text.normalize_answer_pt`, named ``pt-v1`` and ``pt-v1-fold``) are meant to be reported
*beside* the official score, never instead of it; they live in :mod:`promptkit.text` with the abstention
vocabulary. :func:`bootstrap_ci` and :func:`paired_bootstrap` give seeded percentile confidence intervals.
"""

from __future__ import annotations

import collections
import functools
import math
import random
import re
import string
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

# the abstention mapping and the Portuguese normalisers are defined in promptkit.text and re-exported here for
# the callers that score with them
from promptkit.text import (  # noqa: F401
    is_abstention,
    map_abstention,
    normalize_answer_pt,
    normalize_answer_pt_fold,
)


Normalizer = Callable[[str], str]

OFFICIAL_NORMALIZER = "squad-v2.0"
PT_NORMALIZER = "pt-v1"
#: the official evaluation scripts reproduced by :func:`squad_eval`
SQUAD_VERSIONS = ("1.1", "2.0")

# -- normalisation -------------------------------------------------------------------------------------------

_PUNCT = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def normalize_answer(s: str) -> str:
    """The official SQuAD normalisation.

    >>> normalize_answer("The  Cat, sat!")
    'cat sat'
    >>> normalize_answer("«prompt»")  # « » are not ASCII punctuation
    '«prompt»'
    >>> normalize_answer("O Brasil")
    'o brasil'
    """
    text = s.lower()
    text = "".join(ch for ch in text if ch not in _PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


NORMALIZERS: dict[str, Normalizer] = {
    OFFICIAL_NORMALIZER: normalize_answer,
    PT_NORMALIZER: normalize_answer_pt,
    f"{PT_NORMALIZER}-fold": normalize_answer_pt_fold,
}


def get_normalizer(name: str) -> Normalizer:
    """Look a normaliser up by its versioned name."""
    if name not in NORMALIZERS:
        from promptkit.errors import unknown

        raise unknown("normalizer", name, NORMALIZERS)
    return NORMALIZERS[name]


# -- per-answer scores ---------------------------------------------------------------------------------------


def get_tokens(s: str, normalizer: Normalizer = normalize_answer) -> list[str]:
    """Normalised whitespace tokens (``[]`` for an empty string).

    >>> get_tokens("The Transformer model")
    ['transformer', 'model']
    """
    if not s:
        return []
    return normalizer(s).split()


def compute_exact(a_gold: str, a_pred: str, normalizer: Normalizer = normalize_answer) -> int:
    """1 if the normalised strings are equal, else 0.

    >>> compute_exact("the Transformer", "Transformer.")
    1
    >>> compute_exact("Brasil", "O Brasil"), compute_exact("Brasil", "O Brasil", normalize_answer_pt)
    (0, 1)
    """
    return int(normalizer(a_gold) == normalizer(a_pred))


def compute_f1(a_gold: str, a_pred: str, normalizer: Normalizer = normalize_answer) -> float:
    """Token-bag F1 in [0, 1]; 1 if both sides are empty, 0 if only one is.

    >>> round(compute_f1("Warren McCulloch e Walter Pitts", "McCulloch e Pitts"), 4)
    0.75
    >>> compute_f1("", ""), compute_f1("", "2017"), compute_f1("2017", "")
    (1, 0, 0)
    """
    gold_toks = get_tokens(a_gold, normalizer)
    pred_toks = get_tokens(a_pred, normalizer)
    if not gold_toks or not pred_toks:
        return int(gold_toks == pred_toks)
    common = collections.Counter(gold_toks) & collections.Counter(pred_toks)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = num_same / len(pred_toks)
    recall = num_same / len(gold_toks)
    return (2 * precision * recall) / (precision + recall)


def gold_answers(answers: Iterable[str], normalizer: Normalizer = normalize_answer) -> list[str]:
    """v2.0 gold list: answers normalising to ``""`` are dropped; none left means ``[""]`` (no answer).

    >>> gold_answers(["The", "1943"])
    ['1943']
    >>> gold_answers(["the", "..."])
    ['']
    >>> gold_answers([])
    ['']
    """
    kept = [a for a in answers if normalizer(a)]
    return kept or [""]


def score_answer(
    answers: Sequence[str], prediction: str, normalizer: Normalizer = normalize_answer
) -> tuple[int, float]:
    """``(EM, F1)`` of one prediction, maximised over the gold answers (raw scores in [0, 1]).

    >>> score_answer(["1943", "em 1943"], "1943")
    (1, 1.0)
    >>> score_answer([], "")
    (1, 1)
    >>> score_answer([], "2017")
    (0, 0)
    """
    golds = gold_answers(answers, normalizer)
    exact = max(compute_exact(g, prediction, normalizer) for g in golds)
    f1 = max(compute_f1(g, prediction, normalizer) for g in golds)
    return exact, f1


def score_answer_v1(
    answers: Sequence[str], prediction: str, normalizer: Normalizer = normalize_answer
) -> tuple[int, float]:
    """``(EM, F1)`` of one prediction by the v1.1 rules: the maximum over the gold answers as given (none is
    dropped), F1 0 whenever no token is shared, and ``(0, 0)`` for a question without gold answers (where the
    v1.1 script, which knows no unanswerable questions, would stop on an empty ``max``).

    >>> score_answer_v1(["1943", "em 1943"], "1943")
    (1, 1.0)
    >>> score_answer_v1(["The"], "")  # v2.0 drops the gold "The" and scores (1, 1)
    (1, 0)
    >>> score_answer_v1([], ""), score_answer_v1([], "2017")
    ((0, 0), (0, 0))
    """
    if not answers:
        return 0, 0
    exact = max(compute_exact(g, prediction, normalizer) for g in answers)
    f1 = max(_f1_v1(g, prediction, normalizer) for g in answers)
    return exact, f1


def _f1_v1(a_gold: str, a_pred: str, normalizer: Normalizer) -> float:
    """``f1_score`` of evaluate-v1.1.py: no special case for empty answers."""
    common = collections.Counter(normalizer(a_pred).split()) & collections.Counter(normalizer(a_gold).split())
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(normalizer(a_pred).split())
    recall = 1.0 * num_same / len(normalizer(a_gold).split())
    return (2 * precision * recall) / (precision + recall)


# -- inputs --------------------------------------------------------------------------------------------------


def missing_predictions(golds: Mapping[str, Sequence[str]], preds: Mapping[str, str]) -> list[str]:
    """The question ids of ``golds`` without a prediction, in dataset order.

    >>> missing_predictions({"a": ["1"], "b": [], "c": ["2"]}, {"b": ""})
    ['a', 'c']
    """
    return [qid for qid in golds if qid not in preds]


def _describe(value: Any) -> str:
    """A short description of a JSON value for an error message."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, int):
        digits = str(abs(value))
        return f"the integer {value}" if len(digits) <= 20 else f"an integer of {len(digits)} digits"
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, str):
        shown = value if len(value) <= 30 else value[:30] + "…"
        return f"the string {shown!r}"
    kind = "array" if isinstance(value, list) else "object" if isinstance(value, dict) else "value"
    return f"a JSON {kind}"


def check_na_probs(
    na_probs: Mapping[str, Any], required: Sequence[str], *, source: str = "no-answer probabilities"
) -> dict[str, float]:
    """``na_probs`` as floats, refusing what the official script would crash on or silently misuse.

    Every value must be a finite number (not a boolean, a string, NaN, an infinity or an integer too large for
    a float) and every id in ``required`` (the predicted questions) must have one. A
    :class:`~promptkit.errors.ValidationError` names ``source`` and the first offending question.

    >>> check_na_probs({"a": 0, "b": 0.25}, ["a", "b"])
    {'a': 0.0, 'b': 0.25}
    >>> check_na_probs({"a": float("nan")}, ["a"])
    Traceback (most recent call last):
    ...
    promptkit.errors.ValidationError: no-answer probabilities: question 'a' has NaN, not a finite number \
(write each no-answer probability as a JSON number such as 0.25)
    """
    from promptkit.errors import ValidationError

    out: dict[str, float] = {}
    for qid, value in na_probs.items():
        number = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:
                number = None
        if number is None or not math.isfinite(number):
            raise ValidationError(
                f"{source}: question {qid!r} has {_describe(value)}, not a finite number",
                hint="write each no-answer probability as a JSON number such as 0.25",
            )
        out[qid] = number
    absent = [qid for qid in required if qid not in out]
    if absent:
        more = f" (and {len(absent) - 1} more)" if len(absent) > 1 else ""
        raise ValidationError(
            f"{source}: no value for question {absent[0]!r}{more}",
            hint="give every predicted question a no-answer probability",
        )
    return out


# -- aggregation, as evaluate-v2.0.py ------------------------------------------------------------------------


def get_raw_scores(
    golds: Mapping[str, Sequence[str]],
    preds: Mapping[str, str],
    normalizer: Normalizer = normalize_answer,
) -> tuple[dict[str, int], dict[str, float], list[str]]:
    """Per-question raw EM and F1, and the ids with no prediction: those score 0 (they stay in every total, so
    a file that leaves the hard questions out does not score higher than one that answers them wrongly)."""
    exact_scores: dict[str, int] = {}
    f1_scores: dict[str, float] = {}
    missing: list[str] = []
    for qid, answers in golds.items():
        if qid not in preds:
            missing.append(qid)
            exact_scores[qid], f1_scores[qid] = 0, 0
            continue
        exact_scores[qid], f1_scores[qid] = score_answer(answers, preds[qid], normalizer)
    return exact_scores, f1_scores, missing


def apply_no_ans_threshold(
    scores: Mapping[str, float],
    na_probs: Mapping[str, float],
    qid_to_has_ans: Mapping[str, bool],
    na_prob_thresh: float = 1.0,
    *,
    unpredicted: Collection[str] = (),
) -> dict[str, float]:
    """A no-answer probability strictly above the threshold replaces the score by "abstained correctly?";
    questions in ``unpredicted`` keep their 0 whatever the threshold.

    >>> apply_no_ans_threshold({"q": 0.0, "r": 1.0}, {"q": 0.9, "r": 0.2}, {"q": False, "r": True}, 0.5)
    {'q': 1.0, 'r': 1.0}
    """
    new_scores: dict[str, float] = {}
    for qid, s in scores.items():
        if qid in unpredicted:
            new_scores[qid] = s
            continue
        pred_na = na_probs[qid] > na_prob_thresh
        new_scores[qid] = float(not qid_to_has_ans[qid]) if pred_na else s
    return new_scores


def make_eval_dict(
    exact_scores: Mapping[str, float],
    f1_scores: Mapping[str, float],
    qid_list: Sequence[str] | None = None,
) -> dict[str, Any]:
    """``{"exact", "f1", "total"}`` in percent, over all questions or over ``qid_list``.

    >>> make_eval_dict({"a": 1, "b": 0}, {"a": 1.0, "b": 0.5})
    {'exact': 50.0, 'f1': 75.0, 'total': 2}
    """
    if not qid_list:
        total = len(exact_scores)
        if total == 0:
            return {"exact": 0.0, "f1": 0.0, "total": 0}
        return {
            "exact": 100.0 * sum(exact_scores.values()) / total,
            "f1": 100.0 * sum(f1_scores.values()) / total,
            "total": total,
        }
    total = len(qid_list)
    return {
        "exact": 100.0 * sum(exact_scores[k] for k in qid_list) / total,
        "f1": 100.0 * sum(f1_scores[k] for k in qid_list) / total,
        "total": total,
    }


def merge_eval(main_eval: dict[str, Any], new_eval: Mapping[str, Any], prefix: str) -> None:
    for k, v in new_eval.items():
        main_eval[f"{prefix}_{k}"] = v


def find_best_thresh(
    preds: Mapping[str, str],
    scores: Mapping[str, float],
    na_probs: Mapping[str, float],
    qid_to_has_ans: Mapping[str, bool],
) -> tuple[float, float]:
    """The official threshold search: best score (percent) and the no-answer probability reaching it.

    A question without a prediction scores 0 at every threshold: it neither starts as a correct abstention nor
    moves the score, but it stays in the denominator.

    >>> has_ans = {"a": True, "b": False}
    >>> find_best_thresh({"a": "x", "b": "y"}, {"a": 1, "b": 0}, {"a": 0.1, "b": 0.9}, has_ans)
    (100.0, 0.1)
    """
    num_no_ans = sum(1 for k in qid_to_has_ans if not qid_to_has_ans[k] and k in preds)
    cur_score = num_no_ans
    best_score = cur_score
    best_thresh = 0.0
    qid_list = sorted(na_probs, key=lambda k: na_probs[k])
    for qid in qid_list:
        if qid not in scores or qid not in preds:
            continue
        if qid_to_has_ans[qid]:
            diff = scores[qid]
        else:
            diff = -1 if preds[qid] else 0
        cur_score += diff
        if cur_score > best_score:
            best_score = cur_score
            best_thresh = na_probs[qid]
    if not scores:
        return 0.0, best_thresh
    return 100.0 * best_score / len(scores), best_thresh


def find_all_best_thresh(
    main_eval: dict[str, Any],
    preds: Mapping[str, str],
    exact_raw: Mapping[str, float],
    f1_raw: Mapping[str, float],
    na_probs: Mapping[str, float],
    qid_to_has_ans: Mapping[str, bool],
) -> None:
    best_exact, exact_thresh = find_best_thresh(preds, exact_raw, na_probs, qid_to_has_ans)
    best_f1, f1_thresh = find_best_thresh(preds, f1_raw, na_probs, qid_to_has_ans)
    main_eval["best_exact"] = best_exact
    main_eval["best_exact_thresh"] = exact_thresh
    main_eval["best_f1"] = best_f1
    main_eval["best_f1_thresh"] = f1_thresh


def squad_v2_eval(
    golds: Mapping[str, Sequence[str]],
    preds: Mapping[str, str],
    *,
    na_probs: Mapping[str, float] | None = None,
    na_prob_thresh: float = 1.0,
    normalizer: Normalizer = normalize_answer,
) -> dict[str, Any]:
    """The official SQuAD 2.0 metrics dict, key for key.

    ``golds`` maps question id to its gold answer texts (``[]`` for an unanswerable question). A question
    missing from ``preds`` scores 0 and counts in every total (see :func:`missing_predictions` to warn about
    them). ``na_probs`` must give a finite number for every predicted question (:func:`check_na_probs`);
    ``best_*`` keys appear only when it is given, as in the official script. Predictions are used as given:
    apply :func:`~promptkit.text.map_abstention` first for generative models.

    >>> r = squad_v2_eval({"a": ["1943"], "b": []}, {"a": "em 1943", "b": ""})
    >>> r["exact"], round(r["f1"], 2), r["HasAns_exact"], r["NoAns_exact"], r["total"]
    (50.0, 83.33, 0.0, 100.0, 2)
    >>> squad_v2_eval({"a": ["1943"], "b": []}, {"b": ""})["exact"]  # "a" has no prediction: 0, still counted
    50.0
    """
    qid_to_has_ans = {qid: bool(answers) for qid, answers in golds.items()}
    exact_raw, f1_raw, missing = get_raw_scores(golds, preds, normalizer)
    if na_probs is None:
        na_probs_used: Mapping[str, float] = {k: 0.0 for k in preds}
    else:
        na_probs_used = check_na_probs(na_probs, [k for k in golds if k in preds])
    has_ans_qids = [k for k, v in qid_to_has_ans.items() if v]
    no_ans_qids = [k for k, v in qid_to_has_ans.items() if not v]
    unpredicted = set(missing)
    exact_thresh = apply_no_ans_threshold(
        exact_raw, na_probs_used, qid_to_has_ans, na_prob_thresh, unpredicted=unpredicted
    )
    f1_thresh = apply_no_ans_threshold(
        f1_raw, na_probs_used, qid_to_has_ans, na_prob_thresh, unpredicted=unpredicted
    )
    out_eval = make_eval_dict(exact_thresh, f1_thresh)
    if has_ans_qids:
        merge_eval(out_eval, make_eval_dict(exact_thresh, f1_thresh, qid_list=has_ans_qids), "HasAns")
    if no_ans_qids:
        merge_eval(out_eval, make_eval_dict(exact_thresh, f1_thresh, qid_list=no_ans_qids), "NoAns")
    if na_probs is not None:
        find_all_best_thresh(out_eval, preds, exact_raw, f1_raw, na_probs_used, qid_to_has_ans)
    return out_eval


# -- aggregation, as evaluate-v1.1.py ------------------------------------------------------------------------


def squad_v1_eval(
    golds: Mapping[str, Sequence[str]],
    preds: Mapping[str, str],
    *,
    normalizer: Normalizer = normalize_answer,
) -> dict[str, float]:
    """The official SQuAD 1.1 result, ``{"exact_match", "f1"}`` in percent over all questions.

    No no-answer handling: gold answers count as given, an empty prediction is just a wrong answer, a question
    missing from ``preds`` scores 0 (the v1.1 script says "will receive score 0") and a question without gold
    answers scores 0 (:func:`score_answer_v1`).

    >>> golds = {"a": ["1943", "em 1943"], "b": ["Pitts"], "c": ["Vaswani"]}
    >>> r = squad_v1_eval(golds, {"a": "1943", "b": "W. Pitts"})
    >>> round(r["exact_match"], 2), round(r["f1"], 2)  # c has no prediction: 0
    (33.33, 55.56)
    """
    exact_match = f1 = total = 0
    for qid, answers in golds.items():
        total += 1
        if qid not in preds:
            continue
        exact, f1_one = score_answer_v1(answers, preds[qid], normalizer)
        exact_match += exact
        f1 += f1_one
    if total == 0:
        return {"exact_match": 0.0, "f1": 0.0}
    return {"exact_match": 100.0 * exact_match / total, "f1": 100.0 * f1 / total}


def squad_eval(
    golds: Mapping[str, Sequence[str]],
    preds: Mapping[str, str],
    *,
    version: str = "2.0",
    na_probs: Mapping[str, float] | None = None,
    na_prob_thresh: float = 1.0,
    normalizer: Normalizer = normalize_answer,
) -> dict[str, Any]:
    """The metrics of the official evaluation script of ``version`` (``"1.1"`` or ``"2.0"``).

    >>> squad_eval({"a": ["1943"], "b": []}, {"a": "1943", "b": ""}, version="1.1")
    {'exact_match': 50.0, 'f1': 50.0}
    >>> squad_eval({"a": ["1943"], "b": []}, {"a": "1943", "b": ""})["exact"]
    100.0
    """
    from promptkit.errors import ValidationError, unknown

    if version not in SQUAD_VERSIONS:
        raise unknown("SQuAD version", version, SQUAD_VERSIONS)
    if version == "1.1":
        if na_probs is not None:
            raise ValidationError(
                "SQuAD v1.1 has no no-answer probabilities", hint="score them with version 2.0"
            )
        return squad_v1_eval(golds, preds, normalizer=normalizer)
    return squad_v2_eval(
        golds, preds, na_probs=na_probs, na_prob_thresh=na_prob_thresh, normalizer=normalizer
    )


def golds_from_squad(data: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Question id → gold answer texts, from the ``data`` list of a SQuAD JSON file."""
    golds: dict[str, list[str]] = {}
    for article in data:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                golds[qa["id"]] = [a["text"] for a in qa["answers"]]
    return golds


# -- bootstrap confidence intervals --------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _resample_indices(n: int, resamples: int, seed: int) -> tuple[tuple[int, ...], ...]:
    """The bootstrap resamples (memoised: a run scores several metrics over the same rows and seed)."""
    if n == 0:
        return tuple(() for _ in range(resamples))
    rng = random.Random(seed)
    # one draw of n * resamples indices: the same random() sequence, and so the same resamples, as one
    # rng.choices(range(n), k=n) call per resample, without a Python call per resample
    flat = rng.choices(range(n), k=n * resamples)
    return tuple(tuple(flat[i : i + n]) for i in range(0, n * resamples, n))


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (``q`` in [0, 1]) of an already sorted list."""
    if not sorted_values:
        return 0.0
    pos = q * (len(sorted_values) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def bootstrap_ci(
    values: Sequence[float],
    *,
    resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    scale: float = 100.0,
) -> dict[str, Any]:
    """Percentile bootstrap interval of the mean of per-example scores (reported in percent by default).

    >>> ci = bootstrap_ci([1, 0, 1, 1], resamples=200, seed=1)
    >>> ci["mean"], ci["low"] <= ci["mean"] <= ci["high"]
    (75.0, True)
    >>> ci == bootstrap_ci([1, 0, 1, 1], resamples=200, seed=1)
    True
    """
    values = [float(v) for v in values]
    means = sorted(
        _mean([values[i] for i in idx]) * scale for idx in _resample_indices(len(values), resamples, seed)
    )
    alpha = (1.0 - level) / 2.0
    return {
        "mean": _mean(values) * scale,
        "low": _percentile(means, alpha),
        "high": _percentile(means, 1.0 - alpha),
        "level": level,
        "resamples": resamples,
        "seed": seed,
    }


def paired_bootstrap(
    a: Sequence[float],
    b: Sequence[float],
    *,
    resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    scale: float = 100.0,
) -> dict[str, Any]:
    """Interval of ``mean(b) - mean(a)`` over the same resampled items (paired), plus how often b > a.

    >>> d = paired_bootstrap([0, 0, 1, 1], [1, 1, 1, 1], resamples=200, seed=0)
    >>> d["delta"], d["low"] >= 0, d["p_b_better"] > 0.9
    (50.0, True, True)
    """
    if len(a) != len(b):
        from promptkit.errors import ValidationError

        raise ValidationError(f"paired bootstrap needs equal lengths, got {len(a)} and {len(b)}")
    diffs = [float(y) - float(x) for x, y in zip(a, b, strict=True)]
    samples = sorted(
        _mean([diffs[i] for i in idx]) * scale for idx in _resample_indices(len(diffs), resamples, seed)
    )
    alpha = (1.0 - level) / 2.0
    better = sum(1 for s in samples if s > 0)
    return {
        "delta": _mean(diffs) * scale,
        "low": _percentile(samples, alpha),
        "high": _percentile(samples, 1.0 - alpha),
        "p_b_better": better / len(samples) if samples else 0.0,
        "level": level,
        "resamples": resamples,
        "seed": seed,
    }
