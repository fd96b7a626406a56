"""Fitting the moderation probe on labelled texts, and choosing its thresholds without looking at test data.

:func:`fit_moderation_probe` reads the hidden state of ``moderation@4`` (or any yes/no moderation prompt) for
every training text, fits one logistic-regression head for "unsafe" and one per category
(:func:`promptkit.probes.fit_probe`), and picks thresholds on out-of-fold probabilities of the labelled rows
(5-fold cross-validation, stratified by label and language):

* ``unsafe``: the lowest threshold whose out-of-fold false-positive rate is at most ``target_fpr`` in every
  language (safe texts are the hard negatives of the set: news, history, prevention, jargon);
* each category: the threshold with the best out-of-fold F1 for that category among the unsafe texts (the
  category heads only name categories; flagging is the unsafe head's and the rules' job).

The training rows are the ``dev`` split of ``eval/datasets/guard_texts.jsonl`` plus, as extra training data that
is never scored, the older ``eval/datasets/moderation.jsonl``; the ``test`` split is never read here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from promptkit.moderation.taxonomy import CATEGORIES

TARGET_FPR = 0.08


def unsafe_threshold(
    probs: np.ndarray, unsafe: Sequence[bool], langs: Sequence[str], target_fpr: float
) -> float:
    """The lowest threshold keeping the false-positive rate at most ``target_fpr`` in every language.

    >>> unsafe_threshold(np.array([0.9, 0.2, 0.6, 0.1]), [True, False, False, False], ["pt"] * 4, 0.34)
    0.2000001
    """
    probs = np.asarray(probs, dtype=float)
    unsafe_arr = np.asarray(unsafe, dtype=bool)
    langs_arr = np.asarray(langs)
    threshold = 0.0
    for lang in sorted(set(langs_arr.tolist())):
        neg = np.sort(probs[(langs_arr == lang) & ~unsafe_arr])[::-1]
        if not len(neg):
            continue
        allowed = int(np.floor(target_fpr * len(neg)))  # this many safe texts may score at or above it
        cut = float(neg[allowed]) + 1e-7 if allowed < len(neg) else 0.0
        threshold = max(threshold, cut)
    return round(threshold, 7)


def best_f1_threshold(probs: np.ndarray, positive: Sequence[bool]) -> float:
    """The probability threshold with the best F1 for one head (ties: the lower threshold)."""
    probs = np.asarray(probs, dtype=float)
    pos = np.asarray(positive, dtype=bool)
    best, best_t = -1.0, 0.5
    for t in sorted(set(np.round(probs, 4).tolist())):
        pred = probs >= t
        tp = int((pred & pos).sum())
        f1 = 2 * tp / (pred.sum() + pos.sum()) if pred.sum() + pos.sum() else 0.0
        if f1 > best:
            best, best_t = f1, float(t)
    return best_t


def fit_moderation_probe(
    features: np.ndarray,
    rows: Sequence[dict[str, Any]],
    *,
    extra: Sequence[bool],
    c: float,
    meta: dict[str, Any],
    target_fpr: float = TARGET_FPR,
) -> tuple[Any, dict[str, Any]]:
    """``(probe, cross-validation figures)`` for labelled ``rows`` (``labels``, ``lang``); ``extra[i]`` marks a
    row used for fitting only (never scored, never used to choose a threshold)."""
    from promptkit.probes import fit_probe, oof_probabilities

    targets: dict[str, list[int]] = {"unsafe": [int(bool(r["labels"])) for r in rows]}
    for c_name in CATEGORIES:
        targets[c_name] = [int(c_name in r["labels"]) for r in rows]
    strata = [f"{bool(r['labels'])}-{r['lang']}" for r in rows]
    oof = oof_probabilities(features, targets, c=c, strata=strata, fit_only=extra)
    scored = ~np.asarray(extra, dtype=bool)
    idx = np.flatnonzero(scored)
    langs = [rows[i]["lang"] for i in idx]
    unsafe = [bool(rows[i]["labels"]) for i in idx]
    thresholds = {"unsafe": unsafe_threshold(oof["unsafe"][idx], unsafe, langs, target_fpr)}
    positives = [i for i in idx if rows[i]["labels"]]
    for c_name in CATEGORIES:
        thresholds[c_name] = best_f1_threshold(
            oof[c_name][positives], [c_name in rows[i]["labels"] for i in positives]
        )
    cv: dict[str, Any] = {}
    for lang in sorted(set(langs)):
        sel = [i for i in idx if rows[i]["lang"] == lang]
        pos = [i for i in sel if rows[i]["labels"]]
        neg = [i for i in sel if not rows[i]["labels"]]
        cv[lang] = {
            "recall": float(np.mean([oof["unsafe"][i] >= thresholds["unsafe"] for i in pos]))
            if pos
            else None,
            "fpr": float(np.mean([oof["unsafe"][i] >= thresholds["unsafe"] for i in neg])) if neg else None,
        }
    probe = fit_probe(
        features,
        targets,
        c=c,
        thresholds=thresholds,
        meta={**meta, "cv": cv, "c": c, "target_fpr": target_fpr},
    )
    return probe, {"oof": oof, "cv": cv, "thresholds": thresholds}
