"""Metrics of long-form, cited answers (the course tutor's), each a small pure function.

Words. Every comparison below works on *stems*: the text is folded (accents and case,
:func:`promptkit.text.fold`), split into ``\\w+`` tokens, function words are dropped (:data:`STOPWORDS`,
Portuguese and English articles, prepositions, contractions, pronouns, conjunctions and forms of
ser/estar/ter/to be; negations such as "não" and "not" are kept, they change the meaning) and each remaining
word is reduced by :func:`stem`, a light *inflectional* stemmer: plural, gender and the commonest verb
endings, never derivation, so "redes"/"rede", "aleatória"/"aleatório" and "treinado"/"treinar" meet while
"transformação" and "Transformer" stay apart. Numbers are tokens like any word but are *decisive*: a fact or a
sentence holding a number only matches text that holds the same number.

Metrics (per answer; ``None`` where a metric does not apply, and the run's figure is the mean over the answers
where it does):

* :func:`fact_found` (defined in :mod:`promptkit.grounding`, the rule the summary scorers use for key points
  too) / :func:`key_fact_recall`: a key fact is found in the answer when every number of the fact occurs in
  the answer and at least two thirds of the fact's distinct content stems do (all of them for facts of one or
  two content words, 2 of 3, 3 of 4, 4 of 5); the recall is the share of the item's facts found. Word order
  and contiguity do not matter, inflection does not, unrelated text does not count.
* :func:`sentence_support`: the share of a sentence's distinct content stems (citation markers removed) that
  occur in a text; :func:`is_supported`: support of at least :data:`SUPPORT_THRESHOLD` (0.6) *and* every
  number of the sentence present in the text.
* :func:`faithfulness`: the share of the answer's sentences (:func:`split_sentences`; a sentence of citation
  markers only is not counted) supported by the text of the chunks they cite; a sentence citing nothing, or
  citing only numbers that match no citation, is unsupported.
* :func:`citation_precision`: the share of the distinct citations used in the answer that support at least one
  sentence citing them. A citation supports a sentence when its chunk alone supports it, or when the sentence
  is supported by all its citations but no longer without this one (the rule of the ALCE benchmark, with the
  lexical support above in place of an entailment model).
* :func:`citation_recall`: the share of the item's gold source files among the files of the citations used in
  the answer.
* :func:`context_recall`: 1 when at least one gold source file is among the retrieved sources, else 0.
* :func:`answer_words`: the answer's length in words (``\\w+`` tokens, citation markers not counted).

Declines (:func:`is_decline`) are read from the chain's ``declined`` flag; for a plain-text output, from the
wording (the tutor's decline sentences and the abstention vocabulary of :mod:`promptkit.text`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePosixPath

from promptkit.grounding import (
    MARKER,
    SUPPORT_THRESHOLD,
    WORD,
    Sentence,
    fact_found,
    is_supported,
    sentence_support,
    split_sentences,
    stems,
    words,
)
from promptkit.text import DECLINE_PHRASES, is_abstention

# -- key facts -----------------------------------------------------------------------------------------------


def key_fact_recall(facts: Sequence[str], answer: str) -> float | None:
    """Share of ``facts`` found in ``answer`` (``None`` without facts).

    >>> key_fact_recall(["Ian Goodfellow", "2014"], "As GANs foram propostas por Ian Goodfellow em 2014 [1].")
    1.0
    >>> key_fact_recall(["Ian Goodfellow", "2014"], "As GANs surgiram em 2015.")
    0.0
    >>> key_fact_recall(["1958", "Frank Rosenblatt"], "Rosenblatt criou o Perceptron em 1958.")
    0.5
    >>> key_fact_recall([], "qualquer coisa") is None
    True
    """
    if not facts:
        return None
    found = stems(answer)
    return sum(fact_found(f, found) for f in facts) / len(facts)


# -- sentences and citations ---------------------------------------------------------------------------------


def _counted(answer: str) -> list[Sentence]:
    """The sentences that carry a claim (at least one word besides citation markers)."""
    return [s for s in split_sentences(answer) if words(s.text)]


def _cited_stems(cites: Iterable[int], chunks: Mapping[int, str]) -> set[str]:
    found: set[str] = set()
    for n in cites:
        found |= stems(chunks.get(n, ""))
    return found


def sentence_verdicts(answer: str, chunks: Mapping[int, str],
                      threshold: float = SUPPORT_THRESHOLD) -> list[tuple[Sentence, float, bool]]:
    """Each counted sentence with its support against the chunks it cites and whether it is supported."""
    out = []
    for s in _counted(answer):
        cited = _cited_stems(s.cites, chunks)
        if not s.cites or not any(n in chunks for n in s.cites):
            out.append((s, 0.0, False))
            continue
        out.append((s, sentence_support(s.text, cited), is_supported(s.text, cited, threshold)))
    return out


def faithfulness(answer: str, chunks: Mapping[int, str],
                 threshold: float = SUPPORT_THRESHOLD) -> float | None:
    """Share of the answer's sentences supported by the chunks they cite (``chunks``: citation number → chunk
    text); ``None`` for an answer without a sentence.

    >>> chunks = {1: "O Transformer foi apresentado em 2017 por Vaswani e colegas.",
    ...           2: "A atenção compara cada consulta com todas as chaves."}
    >>> faithfulness("O Transformer foi apresentado em 2017 [1]. A atenção compara consultas com chaves [2].",
    ...              chunks)
    1.0
    >>> faithfulness("O Transformer foi apresentado em 2017 [2]. Ele é muito usado.", chunks)
    0.0
    >>> faithfulness("", chunks) is None
    True
    """
    verdicts = sentence_verdicts(answer, chunks, threshold)
    if not verdicts:
        return None
    return sum(ok for _, _, ok in verdicts) / len(verdicts)


def citation_precision(answer: str, chunks: Mapping[int, str],
                       threshold: float = SUPPORT_THRESHOLD) -> float | None:
    """Share of the distinct citations used in the answer that support at least one sentence citing them
    (alone, or as the citation without which the sentence is no longer supported); ``None`` when the answer
    cites nothing.

    >>> chunks = {1: "O Transformer foi apresentado em 2017.",
    ...           2: "O BERT usa modelagem de linguagem mascarada."}
    >>> citation_precision("O Transformer foi apresentado em 2017 [1][2].", chunks)   # [2] is not needed
    0.5
    >>> citation_precision("O Transformer surgiu em 2017 [1]. O BERT usa linguagem mascarada [2].", chunks)
    1.0
    >>> citation_precision("Sem citações aqui.", chunks) is None
    True
    """
    used: dict[int, bool] = {}
    for s in _counted(answer):
        if not s.cites:
            continue
        together = is_supported(s.text, _cited_stems(s.cites, chunks), threshold)
        for n in s.cites:
            alone = n in chunks and is_supported(s.text, stems(chunks[n]), threshold)
            rest = [m for m in s.cites if m != n]
            needed = together and not (rest and is_supported(s.text, _cited_stems(rest, chunks), threshold))
            used[n] = used.get(n, False) or alone or needed
    if not used:
        return None
    return sum(used.values()) / len(used)


def source_file(name: str) -> str:
    """The file name of a source (``corpus/10-x.md`` and ``10-x.md`` are the same source).

    >>> source_file("corpus/10-saida-do-llm-e-temperatura.md")
    '10-saida-do-llm-e-temperatura.md'
    """
    return PurePosixPath(str(name).replace("\\", "/")).name


def citation_recall(cited_sources: Iterable[str], gold_sources: Sequence[str]) -> float | None:
    """Share of the gold source files among the cited sources (``None`` without gold sources).

    >>> citation_recall(["corpus/08-transformers.md"], ["08-transformers.md", "09-atencao.md"])
    0.5
    >>> citation_recall([], []) is None
    True
    """
    gold = {source_file(g) for g in gold_sources}
    if not gold:
        return None
    cited = {source_file(s) for s in cited_sources}
    return len(gold & cited) / len(gold)


def context_recall(retrieved_sources: Iterable[str], gold_sources: Sequence[str]) -> float | None:
    """1.0 when a gold source file is among the retrieved sources, else 0.0 (``None`` without gold sources).

    >>> context_recall(["08-transformers.md", "15-rag.md"], ["15-rag.md"]), context_recall([], ["15-rag.md"])
    (1.0, 0.0)
    """
    gold = {source_file(g) for g in gold_sources}
    if not gold:
        return None
    return 1.0 if gold & {source_file(s) for s in retrieved_sources} else 0.0


def answer_words(answer: str) -> int:
    """The answer's length in words (citation markers not counted).

    >>> answer_words("A temperatura controla o sorteio do próximo token [1].")
    8
    """
    return len(WORD.findall(MARKER.sub(" ", answer)))


def is_decline(answer: str, declined: bool | None = None) -> bool:
    """Whether the answer declines: the chain's ``declined`` flag when it gives one, else the wording.

    >>> is_decline("Não encontrei isso no material do curso.")
    True
    >>> is_decline("I could not find that in the course material.")
    True
    >>> is_decline("A temperatura controla o sorteio [1]."), is_decline("qualquer texto", declined=True)
    (False, True)
    """
    if declined is not None:
        return bool(declined)
    return is_abstention(answer, DECLINE_PHRASES)
