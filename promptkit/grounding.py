"""Does a text support a sentence? Words, stems and sentences, shared by the chains that check their own
answers and by the metrics that score them (:mod:`promptkit.evaluation.longform`).

Words. Every comparison works on *stems*: the text is folded (accents and case, :func:`promptkit.text.fold`),
split into ``\\w+`` tokens, function words are dropped (:data:`STOPWORDS`, Portuguese and English articles,
prepositions, contractions, pronouns, conjunctions and forms of ser/estar/ter/to be; negations such as "não"
and "not" are kept, they change the meaning) and each remaining word is reduced by :func:`stem`, a light
*inflectional* stemmer: plural, gender and the commonest verb endings, never derivation, so "redes"/"rede",
"aleatória"/"aleatório" and "treinado"/"treinar" meet while "transformação" and "Transformer" stay apart.
Numbers are tokens like any word but are *decisive*: a sentence holding a number is only supported by text
that holds the same number.

* :func:`split_sentences`: an answer's sentences with the citations (``[n]``) each carries;
* :func:`sentence_support`: the share of a sentence's distinct content stems (citation markers removed) that
  occur in a text; :func:`is_supported`: support of at least :data:`SUPPORT_THRESHOLD` (0.6) *and* every
  number of the sentence present in the text;
* :func:`fact_found`: whether a short statement (a key fact of a tutor answer, a key point of a summary)
  occurs in a text: every number of it, and at least two thirds of its distinct content stems.

These two rules are the project's only definitions of "a text supports this sentence" and "a text states this
fact": the tutor's own checks, the long-form metrics (:mod:`promptkit.evaluation.longform`) and the summary
scorers (:mod:`promptkit.kind_metrics`) all call them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from promptkit.text import fold

#: share of a sentence's content stems its cited text must hold for the sentence to count as supported (the
#: reference answers of tutor_questions.jsonl: 94% of their sentences reach it against their gold file, 2%
#: against another corpus file)
SUPPORT_THRESHOLD = 0.6

#: function words dropped before matching (folded: no accents, lower case)
STOPWORDS = frozenset(
    """
    a o as os um uma uns umas de do da dos das em no na nos nas num numa nuns numas ao aos pelo pela pelos
    pelas por para pra pro pros com e ou mas que se como quando onde qual quais quem cujo cuja cujos cujas
    este esta estes estas isto esse essa esses essas isso aquele aquela aqueles aquelas aquilo ele ela
    eles elas seu sua seus suas lhe lhes me te se si vos meu minha meus minhas teu tua nosso nossa ja
    tambem mais muito muita muitos muitas sao foi foram ser sera serao sendo sido era eram ha tem ter
    tinha estar estao esteve estava entre sobre ate apos desde cada outro outra outros outras mesmo mesma
    so pode podem entao porque pois assim ainda ai aqui la isso tal tais
    an the of to in on at by for with from as and or but that this these those is are was were be been
    being it its they them their there which who whom what when where how into than then also such can may
    will would should do does did has have had i you he she we our your his her
    """.split()
)

WORD = re.compile(r"\w+", re.UNICODE)
MARKER = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")
_PLURALS = (("coes", "cao"), ("oes", "ao"), ("aes", "ao"), ("ais", "al"), ("eis", "el"), ("ois", "ol"),
            ("ies", "y"), ("res", "r"), ("zes", "z"), ("ses", "s"), ("ns", "n"))
_ENDINGS = ("ando", "endo", "indo", "ado", "ada", "ido", "ida", "ar", "ir")



def stem(word: str) -> str:
    """The light inflectional stem of one folded word: one plural rule, then one participle, gerund or
    infinitive ending (when 4 letters stay), then a final ``a``/``o``/``e`` and a final ``m`` (as ``n``, so
    "imagem"/"imagens" meet). Words of 3 letters or less and words with digits are kept whole. The infinitive
    ending ``-er`` is left alone: it would merge English terms such as "Transformer" with unrelated words.

    >>> [stem(w) for w in ("redes", "rede", "aleatoria", "aleatorio", "treinado", "treinar", "treina")]
    ['red', 'red', 'aleatori', 'aleatori', 'trein', 'trein', 'trein']
    >>> [stem(w) for w in ("previsoes", "previsao", "neurais", "neural", "lineares", "linear")]
    ['previsa', 'previsa', 'neural', 'neural', 'lin', 'lin']
    >>> [stem(w) for w in ("transformer", "transformers", "transformacao", "gpus", "tokens", "2017")]
    ['transformer', 'transformer', 'transformaca', 'gpu', 'token', '2017']
    """
    if len(word) <= 3 or not word.isalpha():
        return word
    for suffix, replacement in _PLURALS:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + replacement
            break
    else:
        if word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 4:
            word = word[: -len(ending)]
            break
    if len(word) >= 4 and word[-1] in "aoe":
        word = word[:-1]
    if len(word) >= 4 and word[-1] == "m":
        word = word[:-1] + "n"
    return word


def words(text: str) -> list[str]:
    """Folded word tokens, citation markers left out.

    >>> words("A Atenção [1] usa Query, Keys e Values [2, 3].")
    ['a', 'atencao', 'usa', 'query', 'keys', 'e', 'values']
    """
    return WORD.findall(fold(MARKER.sub(" ", text)))


def stems(text: str) -> set[str]:
    """The stems of every word of ``text`` (function words included): the haystack of facts and sentences."""
    return {stem(w) for w in words(text)}


def content_stems(text: str) -> set[str]:
    """The distinct stems of the content words of ``text`` (function words dropped; all words if only those).

    >>> sorted(content_stems("Os pesos das redes neurais"))
    ['neural', 'pes', 'red']
    >>> sorted(content_stems("não é linear"))
    ['lin', 'nao']
    """
    tokens = words(text)
    content = [w for w in tokens if w not in STOPWORDS] or tokens
    return {stem(w) for w in content}


def numbers(found: Iterable[str]) -> set[str]:
    return {s for s in found if any(ch.isdigit() for ch in s)}



# -- sentences and citations ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sentence:
    """One sentence of an answer and the citation numbers (``[n]``) it carries."""

    text: str
    cites: tuple[int, ...] = ()


_BREAK = re.compile(r"(?<=[.!?…:;])\s+|\n+")
#: abbreviations a full stop does not end a sentence after (folded, without the stop)
ABBREVIATIONS = frozenset("prof profa dr dra sr sra srta eng et al etc ex cap fig pag pp vol no nr vs cf ed eds "
                          "e.g i.e aprox obs".split())


def citation_numbers(text: str) -> tuple[int, ...]:
    """The citation numbers in ``text``, in order, without repeats.

    >>> citation_numbers("A [2] e B [1, 2][3].")
    (2, 1, 3)
    """
    out: dict[int, None] = {}
    for group in MARKER.findall(text):
        for part in re.split(r"[,;]", group):
            out[int(part)] = None
    return tuple(out)


def split_sentences(answer: str) -> list[Sentence]:
    """The sentences of an answer with their citations.

    A sentence ends at ``.``, ``!``, ``?``, ``…``, ``:`` or ``;`` followed by a space and a capital letter, a
    digit, a quote or a citation, or at a line break. Citation markers that open a piece (``"… token. [1] A
    seguir"``) belong to the sentence before.

    >>> [(s.text, s.cites) for s in split_sentences("A temperatura controla o sorteio [1]. Perto de 0 fica "
    ...                                               "previsível. [2] Vaswani et al. propuseram isso [3].")]
    [('A temperatura controla o sorteio [1].', (1,)), ('Perto de 0 fica previsível. [2]', (2,)), \
('Vaswani et al. propuseram isso [3].', (3,))]
    >>> [s.text for s in split_sentences("A reitoria cabe ao Prof. Eduardo Ramos. O curso tem 18 aulas.")]
    ['A reitoria cabe ao Prof. Eduardo Ramos.', 'O curso tem 18 aulas.']
    """
    pieces: list[str] = []
    for raw in _BREAK.split(answer.strip()):
        piece = raw.strip()
        if not piece:
            continue
        lead = re.match(r"^(?:\s*\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\])+", piece)
        if lead and pieces:
            pieces[-1] = f"{pieces[-1]} {lead.group(0).strip()}"
            piece = piece[lead.end():].strip()
            if not piece:
                continue
        if pieces and (not _opens_sentence(piece) or _abbreviated(pieces[-1])):
            pieces[-1] = f"{pieces[-1]} {piece}"
        else:
            pieces.append(piece)
    return [Sentence(p, citation_numbers(p)) for p in pieces]


def _abbreviated(piece: str) -> bool:
    """Whether a piece ends with an abbreviation's full stop ("… coordenado pelo Prof.", "Tom B."), not a
    sentence's."""
    last = piece.rsplit(None, 1)[-1] if piece.split() else ""
    word = last[:-1].lstrip("([\"'“")
    return last.endswith(".") and (fold(word) in ABBREVIATIONS or (len(word) == 1 and word.isupper()))


def _opens_sentence(piece: str) -> bool:
    first = piece[0]
    return first.isupper() or first.isdigit() or first in "\"'“«([-*•"


def sentence_support(sentence: str, text: str | set[str]) -> float:
    """Share of the sentence's distinct content stems found in ``text`` (its string or its :func:`stems`).

    >>> sentence_support("A temperatura controla a aleatoriedade [1].",
    ...                  "Com temperatura alta, a aleatoriedade aumenta; ela controla o sorteio.")
    1.0
    >>> round(sentence_support("A temperatura muda os pesos do modelo.", "A temperatura e o sorteio."), 2)
    0.25
    """
    wanted = content_stems(sentence)
    if not wanted:
        return 1.0
    found = stems(text) if isinstance(text, str) else text
    return len(wanted & found) / len(wanted)


def is_supported(sentence: str, text: str | set[str], threshold: float = SUPPORT_THRESHOLD) -> bool:
    """Support of at least ``threshold`` and every number of the sentence present in the text.

    >>> is_supported("O MMLU reúne 57 tarefas [1].", "O MMLU tem 57 tarefas de múltipla escolha.")
    True
    >>> is_supported("O MMLU reúne 75 tarefas [1].", "O MMLU tem 57 tarefas de múltipla escolha.")
    False
    """
    found = stems(text) if isinstance(text, str) else text
    if not numbers(content_stems(sentence)) <= found:
        return False
    return sentence_support(sentence, found) >= threshold


def fact_found(fact: str, answer: str | set[str]) -> bool:
    """Whether a key fact occurs in the answer (``answer``: its text, or its :func:`stems`): every number of
    the fact occurs in it and at least two thirds of the fact's distinct content stems do (all of them for
    facts of one or two content words, 2 of 3, 3 of 4, 4 of 5). Word order and contiguity do not matter,
    inflection does not, unrelated text does not count.

    >>> fact_found("rede discriminadora", "A rede discriminadora tenta separar os dados reais dos falsos.")
    True
    >>> fact_found("Redes discriminadoras", "as redes discriminadoras")  # inflection and case do not matter
    True
    >>> fact_found("57 tarefas", "O MMLU tem 56 tarefas.")               # numbers must match
    False
    >>> fact_found("erro de reconstrução alto", "quando o erro de reconstrução é alto")
    True
    >>> fact_found("erro de reconstrução alto", "um erro alto")           # 2 of 3 content words: enough
    True
    >>> fact_found("erro quadrático médio", "o erro é grande")            # 1 of 3: not enough
    False
    >>> fact_found("Ian Goodfellow", "Proposta por Goodfellow.")          # both words of a short fact
    False
    """
    found = stems(answer) if isinstance(answer, str) else answer
    wanted = content_stems(fact)
    if not wanted:
        return True
    if not numbers(wanted) <= found:
        return False
    hits = len(wanted & found)
    return 3 * hits >= 2 * len(wanted)


def document_frequencies(texts: Iterable[str]) -> tuple[dict[str, int], int]:
    """``(stem -> number of texts holding it, number of texts)``: what :func:`weighted_coverage` weighs by."""
    df: dict[str, int] = {}
    total = 0
    for text in texts:
        total += 1
        for s in stems(text):
            df[s] = df.get(s, 0) + 1
    return df, total


def weighted_coverage(wanted: set[str], found: set[str], df: dict[str, int], total: int) -> float:
    """The share of ``wanted`` stems in ``found``, each weighed by its rarity in a collection (inverse document
    frequency ``log((total + 1) / (df + 0.5))``; a stem the collection never holds weighs most). A question
    whose specific words the sources lack is poorly covered even when its common words are there.

    >>> df, n = {"curs": 40, "temperatur": 5}, 100
    >>> round(weighted_coverage({"temperatur", "curs"}, {"temperatur", "curs"}, df, n), 2)
    1.0
    >>> round(weighted_coverage({"mensalidad", "curs"}, {"curs"}, df, n), 2)
    0.15
    """
    if not wanted:
        return 1.0
    weight = {w: math.log((total + 1) / (df.get(w, 0) + 0.5)) for w in wanted}
    return sum(weight[w] for w in wanted & found) / sum(weight.values())
