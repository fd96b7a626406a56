"""Scorers for the moderation, summary and classification kinds: pure functions over one dataset item and one
chain output, and the aggregations the benchmarks print.

Each ``score_*`` function takes an item of a held-out set (``eval/datasets/guard_texts.jsonl``,
``summary_sources.jsonl``, ``student_comments.jsonl``) and the dict a chain returned for it, and gives a small
dict of numbers; the evaluation tasks (:mod:`promptkit.evaluation.tasks`) call them one item at a time. The
``*_report`` functions add those up.

Summary scoring is lexical and uses the two rules of the tutor's long-form answers
(:mod:`promptkit.grounding`), so that "key-point coverage" here means what "key-fact recall" means there, and
"faithfulness" means the same thing for both kinds:

* **a key point is covered** when :func:`promptkit.grounding.fact_found` finds it in the summary: every number
  it states (years, counts) occurs in the summary, and at least two thirds of its distinct content stems do
  (folded words, function words dropped, light inflectional stems); **coverage** is the share of an item's
  points covered;
* **a summary sentence is supported** when :func:`promptkit.grounding.is_supported` holds against the source
  text at :data:`SUPPORT_THRESHOLD`: at least 0.6 of its distinct content stems occur in the source, and every
  number it states does; the sentences are those of :func:`promptkit.grounding.split_sentences` (a line break
  ends one, and so does ``. ! ? … : ;`` before a capital or a digit); **faithfulness** is the share of
  supported sentences (an empty summary scores 0);
* **length**: the summary's whitespace-separated words are at most the item's ``max_words``.

Why 0.6, the long-form threshold, for summaries too: on ``summary_sources.jsonl`` the 200 hand-written key
points (paraphrases a reader can check in the source) reach it against their own source for 93% of them and
against another source of the same language for 1.6% (at 0.5: 98% and 3.8%; at 0.75: 73% and 0.3%), the same
picture as the tutor's reference sentences against their gold file (94% and 2%). A higher bar would call
honest condensation unsupported; a lower one would let the common words of a topic support an invented
sentence.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from promptkit.grounding import (
    SUPPORT_THRESHOLD,
    fact_found,
    is_supported,
    sentence_support,
    split_sentences,
    stems,
)
from promptkit.grounding import words as _words

__all__ = [
    "SUPPORT_THRESHOLD",
    "UNPARSEABLE",
    "classification_report",
    "moderation_report",
    "score_label",
    "score_moderation",
    "score_summary",
    "summary_report",
    "summary_sentences",
    "word_count",
]


def word_count(text: str) -> int:
    """Whitespace-separated words, the unit of ``max_words``."""
    return len(text.split())


def summary_sentences(summary: str) -> list[str]:
    """The sentences of a summary that carry a word (:func:`promptkit.grounding.split_sentences`).

    >>> summary_sentences("Um resumo curto. Dois: três!\\nQuatro")
    ['Um resumo curto.', 'Dois: três!', 'Quatro']
    """
    return [s.text for s in split_sentences(summary) if _words(s.text)]


def score_summary(item: dict[str, Any], output: dict[str, Any] | str) -> dict[str, Any]:
    """Coverage, faithfulness and length of one summary of ``item`` (``text``, ``points``, ``max_words``);
    ``output`` is a chain output (its ``answer``) or the summary itself. Besides the three scores: which
    points were ``covered``, each sentence's ``support``, the ``unsupported`` sentences and the ``words``.

    >>> item = {"text": "O Transformer surgiu em 2017. Ele usa atenção.", "points": ["Transformer em 2017"],
    ...         "max_words": 10}
    >>> s = score_summary(item, "O Transformer surgiu em 2017. Ganhou o Nobel.")
    >>> s["coverage"], s["faithfulness"], s["within_limit"], s["unsupported"]
    (1.0, 0.5, True, ['Ganhou o Nobel.'])
    """
    summary = output if isinstance(output, str) else str(output.get("answer") or "")
    points = list(item.get("points") or [])
    found = stems(summary)
    covered = [fact_found(p, found) for p in points]
    source = stems(item["text"])
    sentences = summary_sentences(summary)
    support = [sentence_support(s, source) for s in sentences]
    supported = [is_supported(s, source, SUPPORT_THRESHOLD) for s in sentences]
    words = word_count(summary)
    limit = int(item.get("max_words") or 0)
    return {
        "coverage": sum(covered) / len(points) if points else 0.0,
        "covered": covered,
        "faithfulness": sum(supported) / len(sentences) if sentences else 0.0,
        "support": support,
        "unsupported": [s for s, ok in zip(sentences, supported, strict=True) if not ok],
        "words": words,
        "within_limit": bool(summary.strip()) and (not limit or words <= limit),
    }


def summary_report(items: Sequence[dict[str, Any]], outputs: Sequence[Any]) -> dict[str, Any]:
    """Mean coverage and faithfulness, share within the word limit, per language and overall."""
    scores = [score_summary(i, o) for i, o in zip(items, outputs, strict=True)]
    out: dict[str, Any] = {}
    for lang in ("all", *sorted({i.get("lang", "pt") for i in items})):
        idx = [k for k, i in enumerate(items) if lang == "all" or i.get("lang", "pt") == lang]
        if not idx:
            continue
        out[lang] = {
            "n": len(idx),
            "coverage": sum(scores[k]["coverage"] for k in idx) / len(idx),
            "faithfulness": sum(scores[k]["faithfulness"] for k in idx) / len(idx),
            "within_limit": sum(scores[k]["within_limit"] for k in idx) / len(idx),
        }
    return {"summary": out, "items": scores}


# -- classification ------------------------------------------------------------------------------------------

UNPARSEABLE = "(unparseable)"


def score_label(item: dict[str, Any], output: dict[str, Any] | str | None) -> dict[str, Any]:
    """``{"gold", "predicted", "correct"}`` for one classified item; an answer without a label is
    :data:`UNPARSEABLE`, never mapped to a label."""
    if isinstance(output, dict):
        predicted = output.get("label")
    else:
        predicted = output
    predicted = predicted if predicted else UNPARSEABLE
    return {"gold": item["label"], "predicted": predicted, "correct": predicted == item["label"]}


def classification_report(
    items: Sequence[dict[str, Any]], outputs: Sequence[Any], labels: Sequence[str]
) -> dict[str, Any]:
    """Accuracy, macro-F1, per-label precision/recall/F1, the confusion matrix (gold rows, predicted columns,
    with an ``(unparseable)`` column) and the count of unparseable answers."""
    scored = [score_label(i, o) for i, o in zip(items, outputs, strict=True)]
    columns = [*labels, UNPARSEABLE]
    matrix = {g: {p: 0 for p in columns} for g in labels}
    for s in scored:
        matrix[s["gold"]][s["predicted"] if s["predicted"] in columns else UNPARSEABLE] += 1
    per: dict[str, dict[str, float]] = {}
    for label in labels:
        tp = matrix[label][label]
        predicted = sum(matrix[g][label] for g in labels)
        gold = sum(matrix[label].values())
        p = tp / predicted if predicted else 0.0
        r = tp / gold if gold else 0.0
        per[label] = {
            "precision": p,
            "recall": r,
            "f1": 2 * p * r / (p + r) if p + r else 0.0,
            "support": gold,
        }
    n = len(scored)
    return {
        "n": n,
        "accuracy": sum(s["correct"] for s in scored) / n if n else 0.0,
        "macro_f1": sum(v["f1"] for v in per.values()) / len(per) if per else 0.0,
        "per_label": per,
        "confusion": matrix,
        "unparseable": sum(s["predicted"] == UNPARSEABLE for s in scored),
        "items": scored,
    }


# -- moderation ----------------------------------------------------------------------------------------------


def score_moderation(item: dict[str, Any], output: dict[str, Any]) -> dict[str, Any]:
    """One moderated text: gold and predicted unsafe-vs-safe and categories, and which gold categories were
    found (``hit``) or missed."""
    gold = list(item.get("labels") or [])
    predicted = [c for c in output.get("categories") or []]
    return {
        "unsafe": bool(gold),
        "flagged": bool(output.get("flagged")),
        "gold": gold,
        "predicted": predicted,
        "hit": [c for c in gold if c in predicted],
        "missed": [c for c in gold if c not in predicted],
    }


def _rate(num: int, den: int) -> float | None:
    return num / den if den else None


def moderation_report(
    items: Sequence[dict[str, Any]], outputs: Sequence[dict[str, Any]], categories: Iterable[str]
) -> dict[str, Any]:
    """Unsafe-vs-safe recall, FPR and precision per language and overall; per category (both languages) the
    recall with the category itself predicted and the recall of "flagged at all", and the category's FPR."""
    scored = [score_moderation(i, o) for i, o in zip(items, outputs, strict=True)]
    langs = sorted({i.get("lang", "pt") for i in items})
    binary: dict[str, dict[str, Any]] = {}
    for lang in (*langs, "all"):
        idx = [k for k, i in enumerate(items) if lang == "all" or i.get("lang", "pt") == lang]
        pos = [k for k in idx if scored[k]["unsafe"]]
        neg = [k for k in idx if not scored[k]["unsafe"]]
        tp = sum(scored[k]["flagged"] for k in pos)
        fp = sum(scored[k]["flagged"] for k in neg)
        binary[lang] = {
            "n": len(idx),
            "unsafe": len(pos),
            "safe": len(neg),
            "recall": _rate(tp, len(pos)),
            "fpr": _rate(fp, len(neg)),
            "precision": _rate(tp, tp + fp),
        }
    per: dict[str, dict[str, Any]] = {}
    for c in categories:
        pos = [s for s in scored if c in s["gold"]]
        neg = [s for s in scored if c not in s["gold"]]
        per[c] = {
            "support": len(pos),
            "recall": _rate(sum(c in s["predicted"] for s in pos), len(pos)),
            "flagged_recall": _rate(sum(s["flagged"] for s in pos), len(pos)),
            "fpr": _rate(sum(c in s["predicted"] for s in neg), len(neg)),
        }
    return {"binary": binary, "categories": per, "items": scored}
