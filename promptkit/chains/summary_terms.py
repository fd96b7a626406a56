"""Terms of the summarize chain's extractive step: folded words, function words dropped, Snowball stems.

The extractive step (:mod:`promptkit.chains.summary_text`) ranks a source's sentences by how central they are
(stem counts compared with the whole text's), and :func:`promptkit.chains.summarize.fill_from_extract` skips
an extracted sentence whose terms a summary already holds; both read a sentence as the terms below. This is a
*ranking* representation, aggressive on purpose (Snowball merges derivations, so "classificação" and
"classificar" count as one term of a topic). Whether a text *supports* a sentence or *states* a fact is
another question, answered for every kind by :mod:`promptkit.grounding` (light inflectional stems) and never
by this module: the summary scorers (:mod:`promptkit.kind_metrics`) do not use it. It stays apart because the
extracts, and so the shipped chain's model inputs and the figures measured on them, depend on these
exact terms.

Words are lowercased, stemmed with the Snowball stemmer of the text's language (``snowballstemmer``), and the
stem folded with :func:`promptkit.text.fold` (accents dropped); numbers are kept as written. ``redes neurais``
→ ``red neur``; ``aprendem``/``aprendia`` → ``aprend``.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Any

from promptkit.text import fold

# Function words left out of the content stems (folded, so without accents).
STOPWORDS = frozenset(
    """
    a o as os um uma uns umas de do da dos das em no na nos nas por pelo pela pelos pelas para pra pro com sem
    sob sobre entre ate e ou mas nem que se ja nao sim mais menos muito muita muitos muitas pouco tambem so
    como quando onde porque pois entao assim isso isto esse essa esses essas este esta estes estas aquele
    aquela aqueles aquelas ele ela eles elas eu tu voce voces nos vos me te lhe lhes seu sua seus suas meu
    minha meus minhas nosso nossa cada todo toda todos todas outro outra outros outras qual quais quem ao aos
    ser sao era foi foram sera ter tem tinha teve ha havia estar estao estava fica ficam pode podem deve
    devem vai vao faz fazem depois antes ainda sempre nunca la aqui ali mesmo mesma apenas
    the an of in on at to for from by with without and or but not no nor so is are was were be been being it
    its this that these those there their they them he she his her we our you your i my which who whom what
    when where why how than then also only just very more most less can could should would will may might
    must do does did done has have had into over under about after before each every any all some such other
    both either neither if while up out own same too
    """.split()
)

LANGUAGES = {"pt": "portuguese", "pt-BR": "portuguese", "en": "english"}
_WORD = re.compile(r"\w+")
_LOCK = threading.Lock()  # a Snowball stemmer object keeps state while it stems: one word at a time


@lru_cache(maxsize=4)
def _stemmer(lang: str) -> Any:
    import snowballstemmer

    return snowballstemmer.stemmer(LANGUAGES.get(lang, "portuguese"))


@lru_cache(maxsize=50000)
def stem(word: str, lang: str = "pt") -> str:
    """The folded Snowball stem of one lowercase word (numbers unchanged).

    >>> stem("neurais"), stem("networks", "en"), stem("2017")
    ('neur', 'network', '2017')
    """
    if word.isdigit():
        return word
    with _LOCK:
        return fold(_stemmer(lang).stemWord(word))


def content_words(text: str) -> list[str]:
    """The lowercase words of ``text`` that are not function words, in order (repeats kept).

    >>> content_words("O modelo e os dados do modelo")
    ['modelo', 'dados', 'modelo']
    """
    return [
        w for w in _WORD.findall(text.lower()) if fold(w) not in STOPWORDS and (len(w) > 1 or w.isdigit())
    ]


def content_stems(text: str, lang: str = "pt") -> set[str]:
    """The distinct content stems of ``text``.

    >>> sorted(content_stems("As redes neurais aprendem com exemplos em 1958."))
    ['1958', 'aprend', 'exempl', 'neur', 'red']
    """
    return {stem(w, lang) for w in content_words(text)}


def stem_list(text: str, lang: str = "pt") -> list[str]:
    """The content stems of ``text`` in order, repeats kept (for term frequencies)."""
    return [stem(w, lang) for w in content_words(text)]
