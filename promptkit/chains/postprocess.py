"""Turning a model's raw text into a final answer: cleanup, abstention and the grounding check.

Small models answer with a sentence, a "Resposta:" prefix, quotes or a trailing full stop, and they invent
answers that are nowhere in the context. :func:`clean_answer` keeps the first line and strips the decoration;
:func:`grounding_score` measures how well the answer occurs in the context (1.0 = verbatim after
normalisation), so a chain can abstain below a threshold.
"""

from __future__ import annotations

import difflib
import math
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


# -- keeping the answer short and grounded ---------------------------------------------------------------------

_SPAN_TOKEN = re.compile(r"\S+", re.UNICODE)
_EDGE_PUNCT = "\"'`«»“”‘’„*()[]{}<>" + _TRAILING
# function words that never carry an answer on their own (Portuguese and English)
EDGE_STOPWORDS = frozenset(
    "o a os as um uma uns umas de do da dos das em no na nos nas e é ou que se por para pelo pela com ao à "
    "the a an of in on at to and or is are was were by for with its it".split()
)


def _folded_tokens(text: str) -> list[tuple[str, int, int]]:
    """``(folded word, start, end)`` for each whitespace-separated token of ``text`` with a word in it."""
    out = []
    for m in _SPAN_TOKEN.finditer(text):
        folded = fold_text(m.group(0))
        if folded:
            out.append((folded, m.start(), m.end()))
    return out


def snap_to_span(answer: str, context: str, *, min_ratio: float = 0.75) -> str:
    """The span of ``context`` that best matches ``answer``, copied verbatim; ``answer`` unchanged when no span
    matches at least ``min_ratio`` (``difflib`` ratio over folded text).

    Turns a paraphrased or re-inflected answer back into the document's own words, trimmed of edge punctuation,
    so exact-match scoring sees the gold span.

    >>> snap_to_span("introduzido em 2017", "O Transformer foi introduzida em 2017 por Vaswani.")
    'introduzida em 2017'
    >>> snap_to_span("1999", "O artigo saiu em 2017.")
    '1999'
    """
    a = fold_text(answer)
    if not a:
        return answer
    tokens = _folded_tokens(context)
    if not tokens:
        return answer
    n = len(a.split())
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(a)
    best, where = 0.0, None
    for size in sorted({max(1, n - 1), n, n + 1}):
        for start in range(0, max(1, len(tokens) - size + 1)):
            window = tokens[start : start + size]
            matcher.set_seq1(" ".join(t[0] for t in window))
            if matcher.real_quick_ratio() <= best or matcher.quick_ratio() <= best:
                continue
            ratio = matcher.ratio()
            if ratio > best:
                best, where = ratio, (window[0][1], window[-1][2])
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
    q_words = set(fold_text(question).split())
    parts = [(m.group(0), fold_text(m.group(0))) for m in _SPAN_TOKEN.finditer(answer)]

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
    folded = f" {fold_text(context)} "
    if f" {fold_text(text)} " not in folded:
        word = NUMBER_WORDS_PT.get(text)
        if not word or f" {fold_text(word)} " not in folded:
            return answer
        match = re.search(rf"(?<!\w){re.escape(word)}(?!\w)", context, re.IGNORECASE)
        text = match.group(0) if match else word
    after = re.search(rf"(?<![\w.,]){re.escape(text)}\s*({'|'.join(map(re.escape, _MULTIPLIERS))})(?!\w)", context)
    if after:
        return f"{text}{'' if after.group(1) == '%' else ' '}{after.group(1)}"
    return text
