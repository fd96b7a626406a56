"""Scorers for the moderation, summary and classification kinds: pure functions over one dataset item and one
chain output, and the aggregations the benchmarks print.

Each ``score_*`` function takes an item of a held-out set (``eval/datasets/guard_texts.jsonl``,
``summary_sources.jsonl``, ``student_comments.jsonl``) and the dict a chain returned for it, and gives a small dict
of numbers; a regression task can call them one item at a time. The ``*_report`` functions add those up.

Summary scoring is lexical and documented here so that anyone can check a figure by hand:

* **content stems** (:func:`content_stems`): the words of a text (:func:`promptkit.text.fold_words` folding),
  minus a short list of Portuguese and English function words, each reduced by the Snowball stemmer of the
  text's language (``redes neurais`` → ``red``, ``neur``); numbers are kept as they are;
* **a key point is covered** when at least :data:`COVERAGE_THRESHOLD` (0.5) of its distinct content stems occur
  in the summary, and every number the point states (years, counts) occurs in it too;
* **a summary sentence is supported** when at least :data:`SUPPORT_THRESHOLD` (0.75) of its distinct content
  stems occur in the source and every number it states occurs in the source; faithfulness is the share of
  supported sentences (an empty summary scores 0);
* **length**: the summary's whitespace-separated words are at most the item's ``max_words``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from promptkit.stemming import content_stems

COVERAGE_THRESHOLD = 0.5
SUPPORT_THRESHOLD = 0.75

_NUMBER = re.compile(r"^\d+(?:[.,]\d+)?$")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[^\s])")


def numbers(text: str) -> set[str]:
    """The numbers written in ``text`` (``1958``, ``3,5``), as written.

    >>> sorted(numbers("Em 2017, 175 bilhões; o resto 0,5."))
    ['0,5', '175', '2017']
    """
    return {t.strip(".,") for t in re.findall(r"\d+(?:[.,]\d+)?", text) if _NUMBER.match(t.strip(".,"))}


def split_sentences(text: str) -> list[str]:
    """Sentences of a summary: split after ``. ! ? …`` and at line breaks.

    >>> split_sentences("Um. Dois!\\nTrês")
    ['Um.', 'Dois!', 'Três']
    """
    out = []
    for line in text.splitlines():
        out += [s.strip() for s in _SENTENCE_END.split(line) if s.strip()]
    return out


def word_count(text: str) -> int:
    """Whitespace-separated words, the unit of ``max_words``."""
    return len(text.split())


def point_coverage(point: str, summary: str, lang: str = "pt") -> float:
    """Share of the point's content stems found in the summary (0 when a number of the point is missing)."""
    stems = content_stems(point, lang)
    if not stems:
        return 1.0
    if not numbers(point) <= numbers(summary):
        return 0.0
    return len(stems & content_stems(summary, lang)) / len(stems)


def sentence_support(
    sentence: str, source: str, lang: str = "pt", *, source_stems: set[str] | None = None
) -> float:
    """Share of the sentence's content stems found in the source (0 when it states a number the source lacks)."""
    stems = content_stems(sentence, lang)
    if not stems:
        return 1.0
    if not numbers(sentence) <= numbers(source):
        return 0.0
    pool = source_stems if source_stems is not None else content_stems(source, lang)
    return len(stems & pool) / len(stems)


def score_summary(item: dict[str, Any], output: dict[str, Any] | str) -> dict[str, Any]:
    """Coverage, faithfulness and length of one summary of ``item`` (``text``, ``points``, ``max_words``,
    ``lang``); ``output`` is a chain output (its ``answer``) or the summary itself."""
    summary = output if isinstance(output, str) else str(output.get("answer") or "")
    lang = item.get("lang", "pt")
    points = list(item.get("points") or [])
    covered = [point_coverage(p, summary, lang) >= COVERAGE_THRESHOLD for p in points]
    source_stems = content_stems(item["text"], lang)
    sentences = split_sentences(summary)
    supported = [
        sentence_support(s, item["text"], lang, source_stems=source_stems) >= SUPPORT_THRESHOLD
        for s in sentences
    ]
    words = word_count(summary)
    limit = int(item.get("max_words") or 0)
    return {
        "coverage": sum(covered) / len(points) if points else 0.0,
        "covered": covered,
        "faithfulness": sum(supported) / len(sentences) if sentences else 0.0,
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
