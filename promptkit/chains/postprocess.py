"""Turning a model's raw text into a final answer: cleanup, abstention and the grounding check.

Small models answer with a sentence, a "Resposta:" prefix, quotes or a trailing full stop, and they invent
answers that are nowhere in the context. :func:`clean_answer` keeps the first line and strips the decoration;
:func:`grounding_score` measures how well the answer occurs in the context (1.0 = verbatim after
normalisation), so a chain can abstain below a threshold.
"""

from __future__ import annotations

import difflib
import re
import unicodedata

DEFAULT_ABSTAIN = ("sem resposta", "unanswerable", "no answer")

_PREFIX = re.compile(
    r"^\s*(?:\*\*)?(?:resposta(?: final)?|answer|final answer|r|resumo|summary|categoria|label|rótulo|rotulo)"
    r"\s*(?:\*\*)?\s*[:：\-–]\s*(?:\*\*)?",
    re.IGNORECASE,
)
_QUOTES = "\"'`«»“”‘’„*"
_TRAILING = ".;:!,。…"
_WORD = re.compile(r"\w+", re.UNICODE)


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line
    return ""


def clean_answer(text: str, *, first_line: bool = True, strip: bool = True) -> str:
    """Keep the first non-empty line; drop prefixes like "Resposta:", surrounding quotes and trailing stops.

    >>> clean_answer('Resposta: "1958".\\nExplicação: ...')
    '1958'
    >>> clean_answer("  «Transformer»  ")
    'Transformer'
    """
    out = _first_line(text) if first_line else text
    out = out.strip()
    if not strip:
        return out
    for _ in range(3):
        before = out
        out = _PREFIX.sub("", out).strip()
        out = out.strip(_QUOTES).strip()
        out = out.rstrip(_TRAILING).strip()
        if out == before:
            break
    return out


def fold_text(text: str) -> str:
    """Lowercase, accents removed, punctuation turned into spaces, whitespace collapsed."""
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(_WORD.findall(text))


def is_abstention(answer: str, phrases: tuple[str, ...] | list[str] = DEFAULT_ABSTAIN) -> bool:
    """True when the (cleaned) answer is, or starts with, an abstention phrase.

    >>> is_abstention("Sem resposta.")
    True
    >>> is_abstention("O texto não diz; sem resposta")
    True
    >>> is_abstention("1958")
    False
    """
    folded = fold_text(answer)
    if not folded:
        return True
    for phrase in phrases:
        p = fold_text(phrase)
        if p and (folded == p or folded.startswith(p) or folded.endswith(p)):
            return True
    return False


def grounding_score(answer: str, context: str) -> float:
    """How well ``answer`` occurs in ``context``, from 0 to 1.

    1.0 when the normalised answer is a substring of the normalised context; otherwise the best
    :class:`difflib.SequenceMatcher` ratio between the answer and any window of the context with about as many
    words (so "introduzido em 2017" still matches "introduzida em 2017", but an invented year does not).

    >>> grounding_score("Vaswani", "o artigo de Vaswani e colegas")
    1.0
    >>> grounding_score("1999", "o artigo saiu em 2017") < 0.6
    True
    """
    a = fold_text(answer)
    c = fold_text(context)
    if not a:
        return 0.0
    if f" {a} " in f" {c} ":
        return 1.0
    a_words = a.split()
    c_words = c.split()
    if not c_words:
        return 0.0
    n = len(a_words)
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(a)
    # The exact ratio is costly; its upper bound quick_ratio is cheap. Visit the windows from the highest bound
    # down and stop once no bound can beat the best ratio found: the same maximum, a few ratio() calls instead
    # of hundreds per context.
    bounds: dict[str, float] = {}
    for size in {max(1, n - 1), n, n + 1}:
        for start in range(0, max(1, len(c_words) - size + 1)):
            window = " ".join(c_words[start : start + size])
            if window not in bounds:
                matcher.set_seq1(window)
                bounds[window] = matcher.quick_ratio()
    best = 0.0
    for window, bound in sorted(bounds.items(), key=lambda item: -item[1]):
        if bound <= best:
            break
        matcher.set_seq1(window)
        best = max(best, matcher.ratio())
        if best == 1.0:
            return best
    return round(best, 4)
