"""The course tutor: what ``promptkit ask`` answers, a grounded explanation with numbered citations.

``start`` → ``retrieve`` → ``compose`` → :class:`TutorOutput`

* ``retrieve``: the question's chunks from the course index; chunks that give orders to an assistant
  (:mod:`promptkit.chains.injection`) are left out and reported; a Portuguese question whose content words the
  chunks barely contain (``min_coverage``) is outside the course: the tutor declines without a model call.
* ``compose``: the model answers from the numbered sources, in the question's language. Each sentence of its
  answer, as soon as it is complete, is checked against the sources (:mod:`promptkit.grounding`: its content
  words and every number must be in one source): a supported sentence is kept and cited with the source that
  supports it (``[n]``, the model's own citation when that source supports it), an unsupported one is dropped, a
  repeat or a sentence that only restates the question is dropped. When nothing is left, the tutor answers with
  the sources' sentences that best match the question (``fallback: extract``) or declines. ``stream`` yields the
  kept sentences one by one, so what is shown is never taken back.

The output (:class:`TutorOutput`) carries the answer, the numbered citations it uses, each kept sentence with
its support, what was declined and why, the retrieved sources and timings.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import BaseModel, Field

from promptkit.chains.injection import hidden_instructions
from promptkit.chains.parts import Parts
from promptkit.chains.pipeline import Pipeline, Stage
from promptkit.chains.qa import IndexHolder, as_question
from promptkit.grounding import (
    content_stems,
    document_frequencies,
    numbers,
    sentence_support,
    split_sentences,
    stems,
)
from promptkit.text import DECLINE_PHRASES, guess_language, is_abstention

LANGUAGE_NAMES = {"pt": "português", "en": "inglês"}
DECLINE = {"pt": DECLINE_PHRASES[0], "en": DECLINE_PHRASES[1]}


class Citation(BaseModel):
    """One numbered source printed after the answer (``n`` matches ``[n]`` in the answer)."""

    n: int
    chunk_id: str | None = None
    source: str
    chunk: int | None = Field(default=None, description="the chunk's position in its file")
    title: str = ""
    text: str


class SentenceCheck(BaseModel):
    """One sentence of the answer: what it cites and how well that source supports it."""

    text: str
    cites: list[int]
    support: float
    supported: bool
    origin: str = Field(default="model", description="model (the model's own words) or source (a sentence of "
                        "the cited source, shown as the course writes it)")


class TutorOutput(BaseModel):
    """What the tutor returns (as a dict)."""

    question: str
    answer: str = Field(description="the answer with inline citations [n], or the decline sentence")
    declined: bool
    decline_reason: str | None = Field(
        default=None, description="out_of_scope, no_support or instructions_in_sources"
    )
    language: str = Field(description="pt or en: the language of the question and of the answer")
    citations: list[Citation] = Field(default_factory=list)
    sentences: list[SentenceCheck] = Field(default_factory=list)
    contexts: list[str] = Field(default_factory=list, description="the sources' texts, numbered from 1")
    sources: list[dict[str, Any]] = Field(default_factory=list, description="what was retrieved, in rank order")
    flagged_sources: list[dict[str, Any]] = Field(
        default_factory=list, description="retrieved chunks left out because they give orders to the assistant"
    )
    coverage: float | None = Field(default=None, description="share of the question's words in the sources")
    raw: str = Field(default="", description="the model's text before the sentence check")
    chain: str
    prompt: str
    prompt_hash: str
    model: str
    timings: dict[str, float] = Field(default_factory=dict)
    moderation: dict[str, Any] | None = None


@dataclass
class TutorState:
    question: str
    config: RunnableConfig
    language: str = "pt"
    started: float = field(default_factory=time.perf_counter)
    docs: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    flagged: list[dict[str, Any]] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    coverage: float | None = None
    vars: dict[str, Any] = field(default_factory=dict)
    raw: str = ""
    kept: list[SentenceCheck] = field(default_factory=list)
    pointed: bool = False  # some model sentence was backed by a source
    declined: bool = False
    reason: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    done: bool = False

    def decline(self, reason: str) -> None:
        self.declined, self.reason, self.done = True, reason, True


def format_sources(docs: list[tuple[str, dict[str, Any]]]) -> str:
    """The numbered sources as the prompt shows them: ``[n] (file — title)`` then the text."""
    blocks = []
    for n, (text, meta) in enumerate(docs, start=1):
        name = PurePosixPath(str(meta.get("source", ""))).name
        title = str(meta.get("title") or "")
        label = f"{name} — {title}" if title and title not in name else name
        blocks.append(f"[{n}] ({label})\n{text.strip()}")
    return "\n\n".join(blocks)


class Retrieve(Stage[TutorState]):
    """The question's chunks, the ones that give orders left out, and the decision to answer at all."""

    name = "retrieve"

    def __init__(self, parts: Parts):
        self.parts = parts
        self.settings = parts.definition.retriever_settings
        self.tutor = parts.definition.tutor_settings
        self.holder = IndexHolder(parts.index, parts.embeddings)
        self._rarity: Callable[[str], float] | None = None

    def rarity(self) -> Callable[[str], float]:
        """How rare a stem is in the course: inverse document frequency over the index's chunks."""
        if self._rarity is None:
            df, total = document_frequencies(chunk.text for chunk in self.holder.get().chunks)
            self._rarity = lambda stem: math.log((total + 1) / (df.get(stem, 0) + 0.5))
        return self._rarity

    def run(self, states: list[TutorState]) -> None:
        for state in states:
            t0 = time.perf_counter()
            found = self.holder.get().search(state.question, k=self.settings.k, mode=self.settings.mode)
            kept, budget = [], self.settings.max_context_tokens
            for rank, doc in enumerate(found, start=1):
                meta = {**doc.metadata, "rank": rank}
                entry = {"source": str(meta.get("source", "")), "title": meta.get("title", ""),
                         "chunk": meta.get("chunk"), "id": meta.get("id") or doc.id, "score": meta.get("score")}
                flags = hidden_instructions(doc.page_content) if self.tutor.drop_instructions else []
                if flags:
                    state.flagged.append({**entry, "reasons": [f.rule for f in flags]})
                    continue
                tokens = self.parts.count_tokens(doc.page_content)
                if kept and tokens > budget:
                    break
                budget -= tokens
                kept.append((doc.page_content, entry))
            state.docs = kept
            state.sources = [meta for _, meta in kept]
            state.timings["retrieve_s"] = round(time.perf_counter() - t0, 3)
            if not kept:
                state.decline("instructions_in_sources" if state.flagged else "out_of_scope")
                continue
            wanted = content_stems(state.question)
            have = stems(" ".join(text for text, _ in kept))
            state.coverage = round(len(wanted & have) / len(wanted), 3) if wanted else 1.0
            # the sources are Portuguese: an English question's words say nothing about them
            if state.language == "pt" and state.coverage < self.tutor.min_coverage:
                state.decline("out_of_scope")
                continue
            state.vars = self.parts.variables({"question": state.question, "sources": format_sources(kept),
                                               "language": LANGUAGE_NAMES[state.language]})


_MARKUP = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+|\*\*|^\s*(?:resposta|answer)\s*:\s*", re.IGNORECASE)
#: a name, an acronym or a number: words that start with a capital letter or hold a digit
_ANCHOR = re.compile(r"\b(?:[A-Z][\w-]*|\w*\d[\w-]*)")
_SOURCE_LINE = re.compile(r"^\s*(?:\[\d+\]\s*)?\(?[\w.-]+\.md\b.*$|^\s*(?:fonte|fontes|source|sources)\s*:",
                          re.IGNORECASE)


class SentenceChecker:
    """Keeps the supported sentences of an answer, each cited with the source that supports it."""

    def __init__(self, state: TutorState, support: float, limit: int):
        self.state, self.support, self.limit = state, support, limit
        self.chunks = [stems(text) for text, _ in state.docs]
        self.question = content_stems(state.question)
        self.seen: list[set[str]] = []

    @property
    def full(self) -> bool:
        return len(self.state.kept) >= self.limit

    def check_translated(self, raw_sentence: str, cites: tuple[int, ...]) -> SentenceCheck | None:
        """A sentence in another language than the sources (an English answer over Portuguese sources): the
        word-overlap check cannot read it, so its anchors are checked instead: every name, acronym and number it
        states must be in the sources, and it must share at least two content words with one source, which it
        then cites."""
        if self.full:
            return None
        text = _MARKUP.sub("", re.sub(r"\s*\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\]", "", raw_sentence)).strip()
        wanted = content_stems(text)
        if len(wanted) < 2 or wanted <= self.question:
            return None
        everything = set().union(*self.chunks) if self.chunks else set()
        if not {stem for word in _ANCHOR.findall(text[1:]) for stem in content_stems(word)} <= everything:
            return None  # a name or a number the sources never state
        overlap, n = max(((len(wanted & chunk), n) for n, chunk in enumerate(self.chunks, start=1)),
                         default=(0, 0))
        if overlap < 2 or any(len(wanted & seen) >= 0.8 * len(wanted) for seen in self.seen):
            return None
        self.seen.append(wanted)
        body, end = (text[:-1], text[-1]) if text[-1:] in ".!?" else (text, ".")
        kept = SentenceCheck(text=f"{body} [{n}]{end}", cites=[n], support=round(sentence_support(text, self.chunks[n - 1]), 3),
                             supported=True, origin="model")
        self.state.kept.append(kept)
        return kept

    def best_support(self, sentence: str) -> float:
        """How well the best source supports ``sentence`` (0 when one of its numbers is in no source)."""
        wanted = content_stems(sentence)
        return max((sentence_support(sentence, chunk) if numbers(wanted) <= chunk else 0.0
                    for chunk in self.chunks), default=0.0)

    def check(self, raw_sentence: str, cites: tuple[int, ...], origin: str = "model") -> SentenceCheck | None:
        """The sentence as kept (cleaned, cited), or ``None`` when it is dropped."""
        if self.full or _SOURCE_LINE.match(raw_sentence):
            return None
        text = _MARKUP.sub("", re.sub(r"\s*\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\]", "", raw_sentence)).strip()
        wanted = content_stems(text)
        if len(wanted) < 2 or wanted <= self.question:  # empty, or only the question's own words again
            return None
        if any(len(wanted & seen) >= 0.8 * len(wanted) for seen in self.seen):  # a repeat
            return None
        scores = [(sentence_support(text, chunk) if numbers(wanted) <= chunk else 0.0, n)
                  for n, chunk in enumerate(self.chunks, start=1)]
        own = [s for s in scores if s[1] in cites]
        best = max(own, default=(0.0, 0))
        if best[0] < self.support:
            best = max(scores, default=(0.0, 0))
        if best[0] < self.support:
            return None
        self.seen.append(wanted)
        if text and text[-1] in ".!?":
            body, end = text[:-1], text[-1]
        else:
            body, end = text, "."
        kept = SentenceCheck(text=f"{body} [{best[1]}]{end}", cites=[best[1]], support=round(best[0], 3),
                             supported=True, origin=origin)
        self.state.kept.append(kept)
        return kept


@dataclass(frozen=True)
class Candidate:
    """A complete sentence of a source, as the tutor may show it."""

    n: int
    position: int
    text: str
    words: frozenset[str]


class SourceSentences:
    """The sources' complete sentences (a sentence cut by a chunk boundary is not one), ranked against a query
    of content stems: each stem they share counts its rarity in the course (inverse document frequency over the
    index's chunks), the total is divided by the square root of the sentence's length, and a source ranked lower
    costs a little."""

    def __init__(self, docs: list[tuple[str, dict[str, Any]]], rarity: Callable[[str], float]):
        self.rarity = rarity
        self.items = [Candidate(n, position, sentence.text.strip(), frozenset(content_stems(sentence.text)))
                      for n, (text, _) in enumerate(docs, start=1)
                      for position, sentence in enumerate(split_sentences(text))
                      if sentence.text.strip()[-1:] in ".!?" and len(content_stems(sentence.text)) >= 4]
        self.used: set[tuple[int, int]] = set()

    def ranked(self, query: set[str]) -> list[tuple[float, Candidate]]:
        """Unused sentences by their share of ``query``, best first (weighing the question's stems twice measured
        worse on dev: key-fact recall 0.588 -> 0.575)."""
        scored = [(sum(self.rarity(w) for w in query & c.words) / math.sqrt(len(c.words)) - 0.1 * (c.n - 1), c)
                  for c in self.items if (c.n, c.position) not in self.used]
        return sorted([s for s in scored if s[0] > 0], key=lambda s: -s[0])

    def take(self, query: set[str], checker: SentenceChecker, within: set[int] | None = None) -> SentenceCheck | None:
        """The best unused sentence for ``query`` that passes the checker (from the sources ``within``)."""
        for _, candidate in self.ranked(query):
            if within is not None and candidate.n not in within:
                continue
            self.used.add((candidate.n, candidate.position))
            kept = checker.check(candidate.text, (candidate.n,), origin="source")
            if kept is not None:
                return kept
        return None


class Compose(Stage[TutorState]):
    """The answer, sentence by sentence: the model reads the sources and answers; each sentence it completes is
    either shown (``answer: model``, when the check finds it supported) or points to the course's own sentence
    that says it best (``answer: sources``: the sentence of the sources sharing the most rare words with the
    question and that model sentence); the answer is then filled up to ``fill`` sentences with the source
    sentences that best match the question and the model's whole answer."""

    name = "compose"

    def __init__(self, parts: Parts, core: Runnable, rarity: Callable[[], Callable[[str], float]]):
        self.parts, self.core, self.rarity = parts, core, rarity
        self.settings = parts.definition.tutor_settings

    def _start(self, state: TutorState) -> tuple[SentenceChecker, SourceSentences]:
        return (SentenceChecker(state, self.settings.support, self.settings.max_sentences),
                SourceSentences(state.docs, self.rarity()))

    def _sentence(self, state: TutorState, sentence: Any, checker: SentenceChecker,
                  pool: SourceSentences) -> SentenceCheck | None:
        if checker.full or is_abstention(sentence.text, DECLINE_PHRASES):
            return None
        # an English question over Portuguese sources: the model's own (English) sentences are the answer
        if state.language != "pt":
            return checker.check_translated(sentence.text, sentence.cites)
        if self.settings.answer == "model":
            return checker.check(sentence.text, sentence.cites)
        said = content_stems(sentence.text)
        if len(said) < 2 or checker.best_support(sentence.text) < self.settings.point_support:
            return None  # a sentence the sources do not back points to nothing
        if not said & checker.question:
            return None  # nor does one that has nothing to do with the question (a source copied at random)
        state.pointed = True
        return pool.take(checker.question | said, checker)

    def _finish(self, state: TutorState, checker: SentenceChecker, pool: SourceSentences) -> list[SentenceCheck]:
        """Fill the answer up to ``fill`` sentences; decline when nothing is left. The added sentences."""
        added = []
        query = checker.question | content_stems(state.raw)
        # filling needs a model sentence the sources back (a question the course does not answer gets none), and
        # takes its sentences from the sources the answer already cites
        cited = {n for s in state.kept for n in s.cites}
        while state.pointed and len(state.kept) < min(self.settings.fill, self.settings.max_sentences):
            kept = pool.take(query, checker, within=cited)
            if kept is None:
                break
            added.append(kept)
        if not state.kept:
            state.decline("no_support")
        return added

    def run(self, states: list[TutorState]) -> None:
        t0 = time.perf_counter()
        outs = self.core.batch([s.vars for s in states], [s.config for s in states])
        spent = round((time.perf_counter() - t0) / max(1, len(states)), 3)
        for state, raw in zip(states, outs, strict=True):
            state.raw = raw
            state.timings["generate_s"] = spent
            checker, pool = self._start(state)
            for sentence in split_sentences(raw)[: self.settings.model_sentences]:
                self._sentence(state, sentence, checker, pool)
            self._finish(state, checker, pool)

    def stream(self, state: TutorState) -> Iterator[str]:
        t0 = time.perf_counter()
        checker, pool = self._start(state)
        buffer, read = "", 0
        limit = self.settings.model_sentences

        def shown(kept: SentenceCheck | None) -> Iterator[str]:
            if kept is not None:
                state.timings.setdefault("first_sentence_s", round(time.perf_counter() - state.started, 3))
                yield ("" if len(state.kept) == 1 else " ") + kept.text

        for piece in self.core.stream(state.vars, state.config):
            buffer += piece
            state.raw += piece
            sentences = split_sentences(buffer)
            if len(sentences) < 2:
                continue
            for sentence in sentences[:-1]:  # all but the last are complete
                yield from shown(self._sentence(state, sentence, checker, pool))
                read += 1
            buffer = sentences[-1].text
            if limit is not None and read >= limit:
                buffer = ""
                break  # leaving the stream stops the model: the rest of its answer would not be read
        for sentence in split_sentences(buffer)[: None if limit is None else max(0, limit - read)]:
            yield from shown(self._sentence(state, sentence, checker, pool))
        state.timings["generate_s"] = round(time.perf_counter() - t0, 3)
        for kept in self._finish(state, checker, pool):
            yield from shown(kept)


def build_tutor(parts: Parts) -> Pipeline:
    """The tutor pipeline for a ``kind: tutor`` chain definition."""
    definition = parts.definition

    def start(value: Any, config: RunnableConfig) -> TutorState:
        question = as_question(value)["question"].strip()
        return TutorState(question=question, config=config, language=guess_language(question))

    core = parts.prompt | parts.model | StrOutputParser()
    retrieve = Retrieve(parts)
    provenance = {k: v for k, v in parts.provenance().items() if k in ("chain", "prompt", "prompt_hash", "model")}

    def finish(state: TutorState) -> TutorOutput:
        used = sorted({n for s in state.kept for n in s.cites})
        citations = [Citation(n=n, chunk_id=meta.get("id"), source=meta["source"], chunk=meta.get("chunk"),
                              title=str(meta.get("title") or ""), text=text)
                     for n in used for text, meta in [state.docs[n - 1]]]
        state.timings["total_s"] = round(time.perf_counter() - state.started, 3)
        answer = DECLINE[state.language] if state.declined else " ".join(s.text for s in state.kept)
        return TutorOutput(question=state.question, answer=answer, declined=state.declined,
                           decline_reason=state.reason, language=state.language, citations=citations,
                           sentences=state.kept, contexts=[text for text, _ in state.docs], sources=state.sources,
                           flagged_sources=state.flagged, coverage=state.coverage, raw=state.raw, **provenance,
                           timings=state.timings)

    return Pipeline(definition.name, start, [retrieve, Compose(parts, core, retrieve.rarity)], finish,
                    streams="compose")
