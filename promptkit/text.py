"""Text folding, the Portuguese-aware answer normalisers and the abstention vocabulary, defined once.

Folding, each step built on the one before:

* :func:`strip_accents`: compatibility decomposition (NFKD) with the combining marks dropped; case is kept;
* :func:`fold`: caseless and accentless (NFKD, then ``casefold``, then the marks dropped); punctuation and
  spacing are kept. Decomposing *before* case folding matters for compatibility characters that decompose to
  capitals (``ℂ``, ``™``, mathematical letters such as ``𝐊``): they fold to lowercase like any other letter;
* :func:`fold_words`: :func:`fold`, then only the words (``\\w+``) joined by single spaces: the comparison
  form used by the grounding check, span snapping, label matching and the prompt leakage check.

Normalisers reported *beside* the official SQuAD score (the official one, byte-for-byte the rule of the
SQuAD v1.1/v2.0 scripts, is :func:`promptkit.metrics.normalize_answer`):

* :func:`normalize_answer_pt` (``pt-v1``): Unicode punctuation and Portuguese articles removed;
* :func:`normalize_answer_pt_fold` (``pt-v1-fold``): the same with accents folded.

Abstentions: a generative model says "sem resposta", "não sei", "unanswerable"… in words.
:data:`ABSTENTION_PHRASES` is the one vocabulary (Portuguese and English) used both by the QA chains, to mark
an answer as abstained, and by the scorer, to turn a worded abstention into ``""``. The rule
(:func:`is_abstention`): after folding, dropping apostrophes and keeping only the words, the answer is empty,
equals a phrase, starts with one or ends with one, always at a word boundary.

This module imports nothing beyond the standard library, so every layer of promptkit may use it.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Iterable

# -- folding -------------------------------------------------------------------------------------------------


class _MarkTable(dict):
    """``str.translate`` table deleting combining marks, filled as characters are met (C-speed folding)."""

    def __missing__(self, codepoint: int) -> int | None:
        value = None if unicodedata.combining(chr(codepoint)) else codepoint
        self[codepoint] = value
        return value


_DROP_MARKS = _MarkTable()
_WORD = re.compile(r"\w+", re.UNICODE)


def strip_accents(text: str) -> str:
    """Compatibility-decompose and drop the combining marks; case is kept.

    >>> strip_accents("Atenção à posição")
    'Atencao a posicao'
    >>> strip_accents("ﬁm ①")  # compatibility forms decompose too
    'fim 1'
    """
    if text.isascii():
        return text
    return unicodedata.normalize("NFKD", text).translate(_DROP_MARKS)


def fold(text: str) -> str:
    """Caseless, accentless form: NFKD, ``casefold``, combining marks dropped; punctuation and spacing kept.

    >>> fold("Informação É ÚTIL")
    'informacao e util'
    >>> fold("Straße, ℂ e ™!")
    'strasse, c e tm!'
    """
    if text.isascii():
        return text.lower()  # casefold of ASCII text is lower()
    return unicodedata.normalize("NFKD", text).casefold().translate(_DROP_MARKS)


def fold_words(text: str) -> str:
    """:func:`fold`, keeping only the words (``\\w+``) joined by single spaces.

    >>> fold_words("  «Atenção», disse o Transformer!  ")
    'atencao disse o transformer'
    >>> fold_words("...")
    ''
    """
    return " ".join(_WORD.findall(fold(text)))


# -- normalisers beside the official score -------------------------------------------------------------------

_ASCII_PUNCT = frozenset(string.punctuation)
_ARTICLES_PT = re.compile(r"\b(o|a|os|as|um|uma|uns|umas)\b", re.UNICODE)


def is_punct(ch: str) -> bool:
    """ASCII punctuation (the official rule's set) or any Unicode punctuation character (category ``P*``).

    >>> is_punct("«"), is_punct("-"), is_punct("$"), is_punct("a")
    (True, True, True, False)
    """
    return ch in _ASCII_PUNCT or unicodedata.category(ch).startswith("P")


def normalize_answer_pt(s: str, *, fold: bool = False) -> str:
    """Portuguese-aware normalisation (``pt-v1``): Unicode punctuation, Portuguese articles, optional accents.

    NFC → optionally fold accents (:func:`strip_accents`) → lowercase → delete every punctuation character
    (:func:`is_punct`: ``« » “ ” — …`` included) → articles ``o|a|os|as|um|uma|uns|umas`` become a space →
    collapse whitespace.

    >>> normalize_answer_pt("O Brasil")
    'brasil'
    >>> normalize_answer_pt("«prompt»")
    'prompt'
    >>> normalize_answer_pt("“Atenção”", fold=True)
    'atencao'
    """
    text = unicodedata.normalize("NFC", s)
    if fold:  # before lowercasing: compatibility forms such as "𝕊" decompose to capitals
        text = strip_accents(text)
    text = text.lower()
    text = "".join(ch for ch in text if not is_punct(ch))
    text = _ARTICLES_PT.sub(" ", text)
    return " ".join(text.split())


def normalize_answer_pt_fold(s: str) -> str:
    """``pt-v1`` with accent folding (named ``pt-v1-fold``).

    >>> normalize_answer_pt_fold("As Redes Neurais")
    'redes neurais'
    """
    return normalize_answer_pt(s, fold=True)


# -- abstentions ---------------------------------------------------------------------------------------------

#: The course's own wording of "no answer": what the prompts ask the model to reply, and the continuation
#: whose log-probability gives a chain's no-answer probability when its prompt declares no phrase of its own.
ABSTENTION_PHRASE = "sem resposta"

#: how the course tutor declines a question the course material does not cover (Portuguese, English)
DECLINE_PHRASES = (
    "Não encontrei isso no material do curso.",
    "I could not find that in the course material.",
)

#: Phrases that mean "no answer" at the start or the end of an answer (matched by :func:`abstention_key`).
ABSTENTION_PHRASES: tuple[str, ...] = (
    # Portuguese
    ABSTENTION_PHRASE,
    "não há resposta",
    "não existe resposta",
    "nenhuma resposta",
    "não sei",
    "não é possível responder",
    "não é possível determinar",
    "não é possível saber",
    "não foi possível responder",
    "não dá para responder",
    "não consigo responder",
    "não posso responder",
    "impossível responder",
    "resposta não encontrada",
    "não há informação",
    "não há informações",
    "o contexto não informa",
    "o contexto não menciona",
    "o contexto não contém",
    "o contexto não diz",
    "o texto não informa",
    "o texto não menciona",
    "não consta",
    "não informado",
    "não mencionado",
    # English
    "unanswerable",
    "no answer",
    "not answerable",
    "cannot be answered",
    "cannot answer",
    "can not be answered",
    "i don't know",
    "i do not know",
    "not enough information",
    "the context does not",
)

_APOSTROPHES = str.maketrans("", "", "'\u2019\u2018\u02bc")


def abstention_key(text: str) -> str:
    """The form abstention phrases are matched in: :func:`fold_words` with apostrophes dropped first.

    >>> abstention_key("Não sei.   "), abstention_key("I don’t know")
    ('nao sei', 'i dont know')
    """
    return fold_words(text.translate(_APOSTROPHES))


_PHRASE_KEYS: tuple[str, ...] = tuple(dict.fromkeys(abstention_key(p) for p in ABSTENTION_PHRASES))


def is_abstention(text: str, extra_phrases: Iterable[str] = ()) -> bool:
    """True if ``text`` abstains in words, in Portuguese or English, ignoring case, accents and punctuation.

    An answer with no word at all abstains; otherwise it must equal, start with or end with one of
    :data:`ABSTENTION_PHRASES` (or of ``extra_phrases``, e.g. a prompt's own ``abstain_phrase``) at a word
    boundary, so "sem respostas" and "não seis" are answers.

    >>> is_abstention("Sem resposta."), is_abstention("Não é possível responder com base no contexto.")
    (True, True)
    >>> is_abstention("O texto não diz; sem resposta"), is_abstention("I don't know.")
    (True, True)
    >>> is_abstention("1943"), is_abstention("redes sem fio"), is_abstention(""), is_abstention("…")
    (False, False, True, True)
    >>> is_abstention("fora do escopo"), is_abstention("Fora do escopo!", ["fora do escopo"])
    (False, True)
    """
    key = abstention_key(text)
    if not key:
        return True
    extra = tuple(k for k in (abstention_key(p) for p in extra_phrases) if k)
    for phrase in _PHRASE_KEYS + extra:
        if key == phrase or key.startswith(phrase + " ") or key.endswith(" " + phrase):
            return True
    return False


def map_abstention(text: str, extra_phrases: Iterable[str] = ()) -> str:
    """The prediction to score: ``""`` for an abstention (:func:`is_abstention`), else the text unchanged.

    >>> map_abstention("Não há resposta no texto."), map_abstention("2017")
    ('', '2017')
    """
    return "" if is_abstention(text, extra_phrases) else text


# -- language ------------------------------------------------------------------------------------------------

_EN_WORDS = frozenset(
    "the what which who why how when where is are was were does do did can could should would of to and in "
    "on for with about from this that these those it its an a be been have has i you we they my your".split()
)
_PT_WORDS = frozenset(
    "o a os as um uma de do da dos das em no na nos nas que qual quais quem por porque pq como quando onde "
    "e é são foi eram para pra com sobre isso isto esse essa este esta ele ela eu vc você voce não nao "
    "mais se tem ter ou seu sua".split()
)


def guess_language(text: str) -> str:
    """``"en"`` when ``text`` reads as English, else ``"pt"`` (the course's language), by counting each
    language's commonest function words; a tie keeps Portuguese.

    >>> guess_language("What is the temperature of a language model?"), guess_language("O que é temperatura?")
    ('en', 'pt')
    >>> guess_language("RNN x Transformer"), guess_language("pq o perceptron nao resolve o XOR?")
    ('pt', 'pt')
    """
    tokens = re.findall(r"[a-zà-ú']+", text.lower())
    en = sum(t in _EN_WORDS for t in tokens)
    pt = sum(t in _PT_WORDS for t in tokens)
    return "en" if en > pt else "pt"
