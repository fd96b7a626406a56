"""Turning a model's raw text into a final answer: cleanup, span snapping and the grounding check.

Small models answer with a sentence, a "Resposta:" prefix, quotes or a trailing full stop, and they invent
answers that are nowhere in the context. :func:`clean_answer` keeps the first line and strips the decoration;
:func:`grounding_score` measures how well the answer occurs in the context (1.0 = verbatim after
normalisation), so a chain can abstain below a threshold. Texts are compared in their folded form
(:func:`promptkit.text.fold_words`); whether an answer abstains is decided by
:func:`promptkit.text.is_abstention`.
"""

from __future__ import annotations

import functools
import math
import re

from promptkit.text import fold_words

_PREFIX = re.compile(
    r"^\s*(?:\*\*)?(?:resposta(?: final)?|answer|final answer|r|resumo|summary|categoria|label|rótulo|rotulo)"
    r"\s*(?:\*\*)?\s*[:：\-–]\s*(?:\*\*)?",
    re.IGNORECASE,
)
_QUOTES = "\"'`«»“”‘’„*"
_TRAILING = ".;:!,。…"


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


def _similarity(a: str, window: str, cutoff: float = 0.0) -> float:
    """``2 * LCS(a, window) / (len(a) + len(window))``: the normalised Indel similarity of rapidfuzz (C++).

    Used instead of :class:`difflib.SequenceMatcher` ``ratio()``, whose matching blocks are a greedy common
    subsequence (at most the longest one): the same scale and the same 1.0 for equal strings, a re-inflected or
    misspelt answer scored by its real overlap, and C++ speed. Below ``cutoff`` it returns 0.0.
    """
    from rapidfuzz.distance import Indel

    return Indel.normalized_similarity(a, window, score_cutoff=cutoff or None)


def _window_bounds(a: str, words: list[str], sizes: list[int], ranks: bool = False) -> list[tuple]:
    """``(quick_ratio, start, end)`` of every window of ``sizes`` words against ``a``, highest bound first
    (``ranks=True`` appends each window's position in a scan by size, then start, and breaks ties by it).

    The value equals ``SequenceMatcher(None, " ".join(words[start:end]), a).quick_ratio()`` (twice the size of
    the characters' multiset intersection over the total length), computed from per-word character counts with
    prefix sums instead of building and counting every window string.
    """
    import numpy as np

    alphabet = {ch: i for i, ch in enumerate(sorted(set(a)))}
    need = np.array([a.count(ch) for ch in alphabet], dtype=np.int64)
    # per-word counts of a's characters, vectorised: every character of the words as a code point, looked up in
    # a's sorted alphabet, then added to its word's row
    lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    codes = np.frombuffer("".join(words).encode("utf-32-le"), dtype=np.uint32)
    keys = np.fromiter((ord(ch) for ch in alphabet), dtype=np.uint32, count=len(alphabet))
    pos = np.minimum(np.searchsorted(keys, codes), len(keys) - 1)
    hit = keys[pos] == codes
    owner = np.repeat(np.arange(1, len(words) + 1), lengths)
    rows = np.zeros((len(words) + 1, len(alphabet)), dtype=np.int64)
    np.add.at(rows, (owner[hit], pos[hit]), 1)
    counts = np.cumsum(rows, axis=0)
    total = np.concatenate(([0], np.cumsum(lengths)))
    space = alphabet.get(" ")
    bounds, starts_all, ends_all = [], [], []
    for size in sizes:
        starts = np.arange(0, max(1, len(words) - size + 1))
        ends = np.minimum(starts + size, len(words))
        gaps = ends - starts - 1  # the spaces " ".join puts between the words
        window = counts[ends] - counts[starts]
        if space is not None:
            window[:, space] += gaps
        matches = np.minimum(window, need).sum(axis=1)
        bounds.append(2.0 * matches / (len(a) + total[ends] - total[starts] + gaps))
        starts_all.append(starts)
        ends_all.append(ends)
    bound = np.concatenate(bounds)
    order = np.argsort(-bound, kind="stable")  # stable: equal bounds keep the scan order
    start, end = np.concatenate(starts_all)[order], np.concatenate(ends_all)[order]
    if ranks:
        return list(zip(bound[order].tolist(), start.tolist(), end.tolist(), order.tolist(), strict=True))
    return list(zip(bound[order].tolist(), start.tolist(), end.tolist(), strict=True))


def grounding_score(answer: str, context: str) -> float:
    """How well ``answer`` occurs in ``context``, from 0 to 1.

    1.0 when the normalised answer is a substring of the normalised context; otherwise the best
    similarity (:func:`_similarity`) between the answer and any window of the context with about as many
    words (so "introduzido em 2017" still matches "introduzida em 2017", but an invented year does not).

    >>> grounding_score("Vaswani", "o artigo de Vaswani e colegas")
    1.0
    >>> grounding_score("1999", "o artigo saiu em 2017") < 0.6
    True
    """
    a = fold_words(answer)
    c = fold_words(context)
    if not a:
        return 0.0
    if f" {a} " in f" {c} ":
        return 1.0
    a_words = a.split()
    c_words = c.split()
    if not c_words:
        return 0.0
    n = len(a_words)
    # Visit the windows from the highest upper bound (quick_ratio, computed for all windows at once) down and
    # stop once no bound can beat the best similarity found: the same maximum as scoring every window.
    best = 0.0
    for bound, start, end in _window_bounds(a, c_words, sorted({max(1, n - 1), n, n + 1})):
        if bound <= best:
            break
        best = max(best, _similarity(a, " ".join(c_words[start:end]), best))
        if best == 1.0:
            return best
    return round(best, 4)


# -- keeping the answer short and grounded ---------------------------------------------------------------------

_SPAN_TOKEN = re.compile(r"\S+", re.UNICODE)
_EDGE_PUNCT = "\"'`«»“”‘’„*()[]{}<>" + _TRAILING
# function words that never carry an answer on their own (Portuguese and English)
EDGE_STOPWORDS = frozenset(
    "o a os as um uma uns umas de do da dos das em no na nos nas e é ou que se por para pelo pela com ao à "
    "the a an of in on at to and or is are was were by for with its it".split()
)


# retrieved chunks repeat across questions, so their words do too: fold each distinct word once
_fold_word = functools.lru_cache(maxsize=1 << 16)(fold_words)


def _folded_tokens(text: str) -> list[tuple[str, int, int]]:
    """``(folded word, start, end)`` for each whitespace-separated token of ``text`` with a word in it."""
    out = []
    for m in _SPAN_TOKEN.finditer(text):
        folded = _fold_word(m.group(0))
        if folded:
            out.append((folded, m.start(), m.end()))
    return out


def snap_to_span(answer: str, context: str, *, min_ratio: float = 0.75) -> str:
    """The span of ``context`` that best matches ``answer``, copied verbatim; ``answer`` unchanged when no span
    matches at least ``min_ratio`` (normalised Indel similarity over folded text).

    Turns a paraphrased or re-inflected answer back into the document's own words, trimmed of edge punctuation,
    so exact-match scoring sees the gold span.

    >>> snap_to_span("introduzido em 2017", "O Transformer foi introduzida em 2017 por Vaswani.")
    'introduzida em 2017'
    >>> snap_to_span("1999", "O artigo saiu em 2017.")
    '1999'
    """
    a = fold_words(answer)
    if not a:
        return answer
    tokens = _folded_tokens(context)
    if not tokens:
        return answer
    n = len(a.split())
    words = [t[0] for t in tokens]
    # Highest quick_ratio bound first (see grounding_score); windows whose bound ties the best are still scored,
    # and of equal similarities the earliest window (by size, then position) wins, as in a plain scan.
    best, first, where = 0.0, None, None
    for bound, start, end, rank in _window_bounds(a, words, sorted({max(1, n - 1), n, n + 1}), ranks=True):
        if bound <= 0 or bound < best:
            break
        if bound == best and first is not None and rank > first:
            continue  # at most a tie, and a later one
        ratio = _similarity(a, " ".join(words[start:end]))
        if ratio > best or (ratio == best and ratio > 0 and (first is None or rank < first)):
            best, first, where = ratio, rank, (tokens[start][1], tokens[end - 1][2])
    if where is None or best < min_ratio:
        return answer
    span = context[where[0] : where[1]].strip(_EDGE_PUNCT + " ")
    return span or answer


def trim_question_words(answer: str, question: str) -> str:
    """Drop words at the edges of ``answer`` that repeat the question or are bare function words.

    A small model often restates the question ("O artigo foi publicado em 2017"); the answer span is what is
    left. The answer is returned unchanged when nothing would be left.

    >>> trim_question_words("O artigo foi publicado em 2017", "Em que ano o artigo foi publicado?")
    '2017'
    >>> trim_question_words("Vaswani e colegas", "Quem escreveu o artigo?")
    'Vaswani e colegas'
    """
    q_words = set(fold_words(question).split())
    parts = [(m.group(0), fold_words(m.group(0))) for m in _SPAN_TOKEN.finditer(answer)]

    def removable(folded: str) -> bool:
        return not folded or all(w in q_words or w in EDGE_STOPWORDS for w in folded.split())

    lo, hi = 0, len(parts)
    while lo < hi and removable(parts[lo][1]):
        lo += 1
    while hi > lo and removable(parts[hi - 1][1]):
        hi -= 1
    if lo >= hi:
        return answer
    return " ".join(p[0] for p in parts[lo:hi]).strip(_EDGE_PUNCT + " ") or answer


def no_answer_probability(logprob_abstain: float, logprob_answer: float) -> float:
    """P(abstain) between the abstention phrase and the generated answer, from their log-probabilities.

    >>> no_answer_probability(-1.0, -1.0)
    0.5
    >>> no_answer_probability(-20.0, -0.5) < 0.001
    True
    """
    diff = logprob_abstain - logprob_answer
    if diff >= 0:
        return 1.0 / (1.0 + math.exp(-diff))
    e = math.exp(diff)
    return e / (1.0 + e)


# Portuguese number words, so a digit answer can be matched to a number written out in the text ("8" -> "oito").
# 0-2 are left out: "um"/"uma" are also articles and "dois" occurs in almost any text, so a guessed "1" or "2"
# would pass as grounded (measured: two unanswerable dev questions answered "dois").
NUMBER_WORDS_PT = {
    "3": "três", "4": "quatro", "5": "cinco", "6": "seis", "7": "sete",
    "8": "oito", "9": "nove", "10": "dez", "11": "onze", "12": "doze", "13": "treze", "14": "quatorze",
    "15": "quinze", "16": "dezesseis", "17": "dezessete", "18": "dezoito", "19": "dezenove", "20": "vinte",
    "30": "trinta", "40": "quarenta", "50": "cinquenta", "100": "cem", "1000": "mil",
}  # fmt: skip
_MULTIPLIERS = ("mil", "milhão", "milhões", "bilhão", "bilhões", "trilhão", "trilhões", "%")
_NUMBER = re.compile(r"^\d+(?:[.,]\d+)?$")


def complete_number(answer: str, context: str) -> str:
    """Match a bare number to the way the context writes it.

    A digit answer that the context spells out becomes the word ("8" -> "oito"); a number the context follows
    with a multiplier keeps it ("175" -> "175 bilhões"), since the number alone means something else.

    >>> complete_number("8", "o modelo base tinha oito cabeças")
    'oito'
    >>> complete_number("175", "com 175 bilhões de parâmetros")
    '175 bilhões'
    >>> complete_number("2017", "saiu em 2017.")
    '2017'
    """
    text = answer.strip()
    if not _NUMBER.match(text):
        return answer
    folded = f" {fold_words(context)} "
    if f" {fold_words(text)} " not in folded:
        word = NUMBER_WORDS_PT.get(text)
        if not word or f" {fold_words(word)} " not in folded:
            return answer
        match = re.search(rf"(?<!\w){re.escape(word)}(?!\w)", context, re.IGNORECASE)
        text = match.group(0) if match else word
    after = re.search(rf"(?<![\w.,]){re.escape(text)}\s*({'|'.join(map(re.escape, _MULTIPLIERS))})(?!\w)", context)
    if after:
        return f"{text}{'' if after.group(1) == '%' else ' '}{after.group(1)}"
    return text
