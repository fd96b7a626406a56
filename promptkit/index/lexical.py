"""Portuguese-aware lexical retrieval: a tokenizer and a BM25 scorer built on ``rank_bm25``.

The tokenizer lowercases, folds accents (``informação`` -> ``informacao``), drops Portuguese (and the most common
English) stopwords and applies a light stemmer. Stemming modes, measured in ``benchmarks/bench_retrieval.py``:

* ``none``: folded words as they are;
* ``light``: plural and a few derivational suffixes removed (``redes`` -> ``rede``, ``neurais`` -> ``neural``);
* ``prefixN``: words truncated to their first N characters;
* ``light+prefixN``: both (the default, ``light+prefix6``).
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_STEM = "light+prefix6"

_WORD = re.compile(r"[a-z0-9]+")

_STOPWORDS_RAW = """
a à às ao aos as o os um uma uns umas de da das do dos d em na nas no nos num numa nuns numas por pela pelas
pelo pelos para pra com sem sob sobre entre ate até apos após desde contra perante e ou mas nem que quem qual
quais quando onde como porque porquê por que se é ser são sao foi foram era eram sera será seria estar esta
está estao estão estava este estes estas isto essa esse essas esses isso aquela aquele aquelas aqueles aquilo
seu sua seus suas ele ela eles elas lhe lhes me te se nós nos vós voce você voces vocês eu tu meu minha já ja
não nao sim mais menos muito muita muitos muitas tambem também só so ter tem têm tinha tinham há ha haver
cada outro outra outros outras mesmo mesma todo toda todos todas tal tais qualquer quanto quanta quantos quantas
algum alguma alguns algumas nenhum nenhuma assim entao então pois ainda lo la los las
the of and to in is are was were be by for on with as at from that this these those it its an or which what who
"""


def fold(text: str) -> str:
    """Lowercase and strip accents (NFKD, combining marks removed)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


STOPWORDS: frozenset[str] = frozenset(fold(w) for w in _STOPWORDS_RAW.split())

# (suffix, replacement, minimum stem length left), first match wins; applied to folded words
_PLURAL_RULES: tuple[tuple[str, str, int], ...] = (
    ("oes", "ao", 2),
    ("aes", "ao", 2),
    ("ais", "al", 2),
    ("eis", "el", 2),
    ("ois", "ol", 2),
    ("ns", "m", 2),
    ("res", "r", 2),
    ("zes", "z", 2),
    ("ses", "s", 3),
    ("s", "", 3),
)
_SUFFIX_RULES: tuple[tuple[str, str, int], ...] = (
    ("amente", "", 4),
    ("mente", "", 4),
    ("idade", "", 4),
    ("acao", "", 3),
    ("icao", "", 3),
    ("cao", "", 3),
    ("ismo", "", 3),
    ("ista", "", 3),
    ("avel", "", 3),
    ("ivel", "", 3),
    ("ncia", "nt", 3),
)


def light_stem(word: str) -> str:
    """A small RSLP-inspired stemmer for folded Portuguese words: plural first, then one derivational suffix."""
    if len(word) <= 3 or word.isdigit():
        return word
    if not word.endswith(("ss", "us", "is")) or word.endswith(("ais", "eis", "ois")):
        for suffix, repl, keep in _PLURAL_RULES:
            if word.endswith(suffix) and len(word) - len(suffix) >= keep:
                word = word[: -len(suffix)] + repl
                break
    for suffix, repl, keep in _SUFFIX_RULES:
        if word.endswith(suffix) and len(word) - len(suffix) >= keep:
            word = word[: -len(suffix)] + repl
            break
    if len(word) > 4 and word[-1] in "aeo":  # gender / theme vowel: modelo ~ modela, neural ~ neurais
        word = word[:-1]
    return word


def _parse_stem(mode: str) -> tuple[bool, int | None]:
    light = False
    prefix: int | None = None
    for part in mode.split("+"):
        part = part.strip()
        if part == "none":
            continue
        if part == "light":
            light = True
        elif part.startswith("prefix") and part[6:].isdigit():
            prefix = int(part[6:])
        else:
            raise ValueError(f"unknown stemming mode {mode!r}; use none, light, prefixN or light+prefixN")
    return light, prefix


class PortugueseTokenizer:
    """Callable turning text into BM25 terms (see the module docstring for the modes)."""

    def __init__(self, stem: str = DEFAULT_STEM, stopwords: frozenset[str] = STOPWORDS):
        self.stem = stem
        self._light, self._prefix = _parse_stem(stem)
        self.stopwords = stopwords
        # a corpus repeats its words many times: stem each distinct word once
        self._term = functools.lru_cache(maxsize=1 << 17)(self._make_term)

    def _make_term(self, word: str) -> str | None:
        if word in self.stopwords or (len(word) == 1 and not word.isdigit()):
            return None
        if self._light:
            word = light_stem(word)
        if self._prefix and not word.isdigit():
            word = word[: self._prefix]
        return word

    def __call__(self, text: str) -> list[str]:
        term = self._term
        return [t for t in map(term, _WORD.findall(fold(text))) if t is not None]


@dataclass
class LexicalIndex:
    """BM25 (Okapi, k1=1.5, b=0.75) over a list of texts, precomputed into postings for fast queries.

    ``rank_bm25.BM25Okapi`` counts term and document frequencies and lengths; its ``get_scores`` walks every
    document in Python for each query term, so the term weights are folded once into per-term posting arrays.
    The IDF is Lucene's ``ln(1 + (N - n + 0.5) / (n + 0.5))``, which stays positive: Okapi's plain IDF is zero
    or negative for a term found in half the documents or more, which silences every term in a two-file corpus.
    """

    tokenizer: PortugueseTokenizer
    size: int
    _postings: dict[str, tuple[np.ndarray, np.ndarray]]

    @classmethod
    def build(cls, texts: Sequence[str], tokenizer: PortugueseTokenizer | None = None) -> LexicalIndex:
        from rank_bm25 import BM25Okapi

        tok = tokenizer or PortugueseTokenizer()
        corpus = [tok(t) or ["\x00empty"] for t in texts]
        if not corpus:
            return cls(tok, 0, {})
        bm25 = BM25Okapi(corpus)
        k1, b = bm25.k1, bm25.b
        doc_len = np.asarray(bm25.doc_len, dtype=np.float64)
        norm = k1 * (1 - b + b * doc_len / bm25.avgdl)
        ids: dict[str, list[int]] = {}
        tfs: dict[str, list[int]] = {}
        for i, freqs in enumerate(bm25.doc_freqs):
            for term, tf in freqs.items():
                ids.setdefault(term, []).append(i)
                tfs.setdefault(term, []).append(tf)
        postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for term, doc_ids in ids.items():
            d = np.asarray(doc_ids, dtype=np.int64)
            tf = np.asarray(tfs[term], dtype=np.float64)
            idf = math.log(1.0 + (bm25.corpus_size - len(d) + 0.5) / (len(d) + 0.5))
            weight = idf * tf * (k1 + 1) / (tf + norm[d])
            postings[term] = (d, weight.astype(np.float32))
        return cls(tok, len(corpus), postings)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for ``query`` (zeros when no query term occurs)."""
        out = np.zeros(self.size, dtype=np.float32)
        for term in self.tokenizer(query):
            posting = self._postings.get(term)
            if posting is not None:
                out[posting[0]] += posting[1]
        return out

    def top(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The ``k`` best (document position, score) pairs with a positive score, best first; with ``allowed``
        (a boolean mask over positions), only among those documents."""
        if self.size == 0 or k <= 0:
            return []
        scores = self.scores(query)
        if allowed is not None:
            scores[~allowed] = 0.0
        k = min(k, self.size)
        cand = np.argpartition(-scores, k - 1)[:k]
        cand = cand[np.argsort(-scores[cand], kind="stable")]
        return [(int(i), float(scores[i])) for i in cand if scores[i] > 0]
