"""Cleaning a source before it is summarised, and picking its central sentences (the extractive step).

:func:`clean_source` turns slide-style Markdown and text extracted from PDF into plain sections of sentences:

* front matter, horizontal rules, page footers (``Página 3 de 8``, ``Page 2``) and any line of three words or more that repeats
  (running headers and footers of a PDF) are dropped;
* a word hyphenated across a line break is joined (``pre-\\ncisa`` → ``precisa``) and the lines of one paragraph
  are joined into one; bullets, numbered items and headings keep their own line;
* Markdown emphasis (``**``, ``__``, backticks) is removed; a heading starts a new section (its text is the
  section's title, not a sentence); a block quote or paragraph that announces an example (``Exemplo:``,
  ``Exemplo rápido``, ``Example:``) is left out, since an illustration is not a main point.

:func:`extract` scores every sentence by how central it is (cosine similarity between its stem counts and the
whole text's, stems from :mod:`promptkit.chains.summary_terms`, with an inverse sentence frequency weight), then
picks, within the word budget, first the best sentence of each section (sections in order of their best score),
then the next best sentences, skipping one that repeats most of the stems already chosen. The chosen sentences are
returned in the order of the source. A sentence longer than what is left of the budget is cut at a clause
boundary (``;``, ``:``, `` — ``, a comma) when its first clause fits.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

from promptkit.chains.summary_terms import stem_list

_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)
_RULE = re.compile(r"^\s*(?:[-_=*]\s*){3,}$")
_PAGE = re.compile(
    r"^\s*(?:.*\b(?:p[áa]gina|page|p\.)\s*\d+(?:\s*(?:de|of|/)\s*\d+)?|\d{1,3})\s*$", re.IGNORECASE
)
_HEADING = re.compile(r"^\s*#{1,6}\s+(.*)$")
_BULLET = re.compile(r"^\s*(?:[-*•+]|\d{1,2}[.)])\s+(.*)$")
_QUOTE = re.compile(r"^\s*>\s?(.*)$")
_EXAMPLE = re.compile(r"^\W*(?:exemplo|example|por exemplo|for example|e\.g\.)\b", re.IGNORECASE)
_EMPHASIS = re.compile(r"(\*\*|__|`)")
_SENTENCE = re.compile(r"(?<=[.!?…])[\"”»)]?\s+(?=[\"“«(]?[A-ZÁÉÍÓÚÂÊÔÃÕÇ0-9])")
_CLAUSE = re.compile(r"(?:;|:|\s[—–-]\s|,)\s")
_NUMBERED_TITLE = re.compile(r"^\s*(?:\d+(?:\.\d+)*\.?|[IVX]+\.)\s+[A-ZÁÉÍÓÚ][^.!?]{0,80}$")


@dataclass
class Section:
    """A titled part of a cleaned source and its sentences."""

    title: str
    sentences: list[str] = field(default_factory=list)


def _lines(text: str) -> list[str]:
    text = _FRONT_MATTER.sub("", text.replace("\r\n", "\n"))
    lines = text.split("\n")
    counts = Counter(line.strip() for line in lines if len(line.split()) >= 3)
    kept = []
    for line in lines:
        stripped = line.strip()
        if _RULE.match(stripped) or (stripped and _PAGE.match(stripped)) or counts.get(stripped, 0) >= 2:
            continue
        kept.append(line.rstrip())
    return kept


def _blocks(lines: list[str]) -> list[tuple[str, str]]:
    """``(kind, text)`` blocks: ``heading``, ``item`` (a bullet), ``quote`` or ``para`` (joined lines)."""
    blocks: list[tuple[str, str]] = []
    para: list[str] = []

    def flush() -> None:
        if para:
            joined = para[0]
            for nxt in para[1:]:
                if re.search(r"\w-$", joined) and nxt[:1].islower():
                    joined = joined[:-1] + nxt
                else:
                    joined = f"{joined} {nxt}"
            blocks.append(("para", joined))
            para.clear()

    for line in lines:
        stripped = line.strip()
        if not stripped:
            flush()
            continue
        heading = _HEADING.match(stripped)
        if heading:
            flush()
            blocks.append(("heading", heading.group(1)))
            continue
        quote = _QUOTE.match(stripped)
        if quote:
            flush()
            if blocks and blocks[-1][0] == "quote":
                blocks[-1] = ("quote", f"{blocks[-1][1]} {quote.group(1)}".strip())
            else:
                blocks.append(("quote", quote.group(1)))
            continue
        bullet = _BULLET.match(stripped)
        if bullet:
            flush()
            blocks.append(("item", bullet.group(1)))
            continue
        if blocks and blocks[-1][0] == "item" and not para and line[:1].isspace():
            blocks[-1] = ("item", f"{blocks[-1][1]} {stripped}")  # a bullet continued on an indented line
            continue
        para.append(stripped)
    flush()
    return blocks


def split_sentences(text: str) -> list[str]:
    """Sentences of one paragraph.

    >>> split_sentences("O modelo tem 7 bilhões de parâmetros. Ele roda em CPU! Veja a tabela 2.")
    ['O modelo tem 7 bilhões de parâmetros.', 'Ele roda em CPU!', 'Veja a tabela 2.']
    """
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()]


def clean_source(text: str) -> list[Section]:
    """The source as titled sections of plain sentences (see the module docstring).

    >>> [(s.title, s.sentences) for s in clean_source("# RAG\\n- **Busca** os trechos\\n> Exemplo: x\\n")]
    [('RAG', ['Busca os trechos'])]
    """
    sections = [Section(title="")]
    for kind, raw in _blocks(_lines(text)):
        body = _EMPHASIS.sub("", raw).strip()
        if not body:
            continue
        if kind == "heading" or (kind == "para" and _NUMBERED_TITLE.match(body) and len(body.split()) <= 8):
            sections.append(Section(title=body))
            continue
        if _EXAMPLE.match(body):
            continue
        if kind == "item":
            sections[-1].sentences.append(body)
        else:
            sections[-1].sentences.extend(split_sentences(body))
    return [s for s in sections if s.sentences]


def cleaned_text(text: str) -> str:
    """The cleaned source as plain text: one paragraph per section, the title as its first line."""
    parts = []
    for s in clean_source(text):
        parts.append("\n".join(([s.title] if s.title else []) + [" ".join(s.sentences)]))
    return "\n\n".join(parts)


def _cosine(a: Counter, b: Counter) -> float:
    dot = sum(v * b.get(k, 0.0) for k, v in a.items())
    na = math.sqrt(sum(v * v for v in a.values()))
    nb = math.sqrt(sum(v * v for v in b.values()))
    return dot / (na * nb) if na and nb else 0.0


def shorten(sentence: str, budget: int) -> str | None:
    """The longest clause-bounded prefix of ``sentence`` within ``budget`` words (at least 6), or ``None``."""
    best = None
    for m in _CLAUSE.finditer(sentence):
        head = sentence[: m.start()].rstrip(" ,;:—–-")
        if 6 <= len(head.split()) <= budget:
            best = head + "."
    return best


def extract(text: str, max_words: int, lang: str = "pt") -> list[str]:
    """The central sentences of ``text`` within ``max_words`` words, in source order (module docstring)."""
    return [s for _, s in _extract(text, max_words, lang)]


def extract_outline(text: str, max_words: int, lang: str = "pt") -> str:
    """The extracted sentences under their section titles, as lines (``## title`` then ``- sentence``): what an
    extract-then-rewrite prompt reads."""
    sections = clean_source(text)
    lines: list[str] = []
    current = None
    for si, sentence in _extract(text, max_words, lang):
        if si != current:
            current = si
            if sections[si].title:
                lines.append(f"## {sections[si].title}")
        lines.append(f"- {sentence}")
    return "\n".join(lines)


def _extract(text: str, max_words: int, lang: str) -> list[tuple[int, str]]:
    sections = clean_source(text)
    flat: list[tuple[int, int, str]] = [
        (si, k, s) for si, sec in enumerate(sections) for k, s in enumerate(sec.sentences)
    ]
    if not flat:
        return []
    bags = [Counter(stem_list(s, lang)) for _, _, s in flat]
    df = Counter(k for bag in bags for k in bag)
    n = len(bags)
    idf = {k: math.log((n + 1) / (v + 0.5)) for k, v in df.items()}
    weighted = [Counter({k: v * idf[k] for k, v in bag.items()}) for bag in bags]
    whole: Counter = Counter()
    for bag in weighted:
        whole.update(bag)
    sections_bag: dict[int, Counter] = {}
    for (si, _, _), bag in zip(flat, weighted, strict=True):
        sections_bag.setdefault(si, Counter()).update(bag)
    scores = [
        0.5 * _cosine(w, whole) + 0.5 * _cosine(w, sections_bag[si])
        for (si, _, _), w in zip(flat, weighted, strict=True)
    ]
    best_of: dict[int, int] = {}
    for i, (si, _, _) in enumerate(flat):
        if si not in best_of or scores[i] > scores[best_of[si]]:
            best_of[si] = i
    order = sorted(best_of.values(), key=lambda i: -scores[i])
    order += [i for i in sorted(range(n), key=lambda i: -scores[i]) if i not in order]
    chosen: dict[int, str] = {}
    used = 0
    seen: set[str] = set()
    for i in order:
        sentence = flat[i][2]
        stems = set(bags[i])
        if stems and len(stems & seen) / len(stems) > 0.6:
            continue
        left = max_words - used
        words = len(sentence.split())
        if words > left:
            short = shorten(sentence, left)
            if short is None:
                continue
            sentence, words = short, len(short.split())
        chosen[i] = sentence
        used += words
        seen |= stems
        if max_words - used < 6:
            break
    return [(flat[i][0], chosen[i]) for i in sorted(chosen)]


def extractive_summary(text: str, max_words: int, lang: str = "pt") -> str:
    """The extracted sentences joined as one paragraph, each ending with punctuation."""
    out = []
    for s in extract(text, max_words, lang):
        s = s.strip()
        out.append(s if s[-1:] in ".!?…" else s + ".")
    return " ".join(out)
