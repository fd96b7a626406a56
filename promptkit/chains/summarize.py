"""Summarisation: one pass when the text fits the model's window, map-reduce over token-sized chunks otherwise.

Shape: ``prepare | map_chunks | BatchAssign("raw", model | StrOutputParser()) | finish``.

* the source is cleaned first (:func:`promptkit.chains.summary_text.cleaned_text`: slide Markdown, PDF headers,
  footers, hyphenation and line breaks, announced examples), so the model reads plain sections;
* extract-then-rewrite: when the prompt declares a ``sentences`` variable, the chain gives it the central
  sentences of each section (:func:`promptkit.chains.summary_text.extract`, about twice the word budget, under
  their section titles) instead of the whole text, and the model rewrites them within ``max_words``; such a
  prompt never needs map-reduce, since the extract is short;

* ``prepare`` counts the text's tokens with the model's tokenizer (``llm.get_num_tokens``) and decides: it fits
  when text + prompt + answer fit in ``min(context window, summarize.max_input_tokens)``.
* ``map_chunks`` splits the long texts with langchain-text-splitters (chunk size measured in tokens), summarises
  every chunk of every long text in one ``model.batch`` call, and repeats on the joined partial summaries until
  they fit; short texts pass through untouched.
* the final pass renders the single-pass prompt (or the reduce prompt over the partial summaries) and the
  answer is capped at ``max_words`` words, cutting at a sentence end when one is close.
"""

from __future__ import annotations

import re
from typing import Any

from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import Runnable, RunnableLambda

from promptkit.chains.classify import as_text_input
from promptkit.chains.parts import LANGUAGE_NAMES, Parts
from promptkit.chains.runnables import BatchAssign, BatchLambda, finisher
from promptkit.chains.summary_text import cleaned_text, extract, extract_outline, shorten
from promptkit.errors import ValidationError

_SUMMARY_PREFIX = re.compile(
    r"^\s*(?:\*\*)?(?:resumo(?: final| do trecho)?|summary)\s*(?:\*\*)?\s*:\s*", re.IGNORECASE
)
TEMPLATE_MARGIN = 24
EXTRACT_FACTOR = 2  # an extract-then-rewrite prompt gets central sentences worth twice the word budget
# an extract-then-rewrite summary shorter than this share of max_words is completed with the extracted sentences
# it does not already state (the small model often copies one sentence and stops); 1.0: use the whole budget
# (0.6, 0.8 and 1.0 tied on dev)
FILL_AT = 1.0


def _lang(language: str) -> str:
    return "en" if language.startswith("en") or language in ("inglês", "english") else "pt"


def limit_words(text: str, max_words: int) -> tuple[str, bool]:
    """Cap ``text`` at ``max_words`` words, ending at a sentence boundary when one is in the last 40%.

    >>> limit_words("Um dois três. Quatro cinco seis sete.", 5)
    ('Um dois três.', True)
    """
    words = text.split()
    if len(words) <= max_words:
        return text.strip(), False
    kept = " ".join(words[:max_words])
    if kept.endswith((".", "!", "?")):
        return kept, True
    end = max(kept.rfind(". "), kept.rfind("! "), kept.rfind("? "))
    if end != -1 and len(kept[: end + 1].split()) >= max_words * 0.5:
        return kept[: end + 1], True
    return kept.rstrip(",;:") + "…", True


_MARKUP = re.compile(r"(?:^|\s)(?:#{1,6}|[-*•])\s+|\*\*|__")


def fill_from_extract(summary: str, extracted: list[str], max_words: int, lang: str) -> tuple[str, int]:
    """``(summary, sentences added)``: a summary shorter than :data:`FILL_AT` of ``max_words`` gets the extracted
    sentences whose content it does not already state (half of their stems or more absent), in source order,
    while they fit the budget (a sentence longer than what is left is cut at a clause boundary when it can be).

    >>> fill_from_extract("Um.", ["O modelo busca trechos.", "Depois responde com eles."], 10, "pt")
    ('Um. O modelo busca trechos. Depois responde com eles.', 2)
    """
    from promptkit.chains.summary_terms import content_stems

    if not extracted or len(summary.split()) >= FILL_AT * max_words:
        return summary, 0
    said = content_stems(summary, lang)
    out, added = summary.strip(), 0
    for sentence in extracted:
        stems = content_stems(sentence, lang)
        if not stems or len(stems & said) / len(stems) >= 0.5:
            continue
        sentence = sentence.strip()
        sentence = sentence if sentence[-1:] in ".!?…" else sentence + "."
        room = max_words - len(out.split())
        if len(sentence.split()) > room:
            sentence = shorten(sentence, room) or ""
            if not sentence:
                continue
        out = f"{out} {sentence}".strip()
        said |= stems
        added += 1
    return out, added


def clean_summary(text: str) -> str:
    """The model's summary without a "Resumo:" prefix, surrounding quotes, Markdown heading marks, bullets or
    emphasis (a small model rewriting an outline tends to copy its markup).

    >>> clean_summary('Resumo: "## RAG - Busca trechos **relevantes**"')
    'RAG Busca trechos relevantes'
    """
    out = _SUMMARY_PREFIX.sub("", text.strip())
    out = out.strip().strip('"“”«»').strip()
    return " ".join(_MARKUP.sub(" ", out).split())


def build_summarize(parts: Parts) -> Runnable:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from promptkit.chains.parts import resolve_prompt

    definition = parts.definition
    cfg = definition.summarize_settings
    main_prompt = parts.prompt
    map_prompt, map_spec = (
        resolve_prompt(cfg.map_prompt, parts.embeddings) if cfg.map_prompt else (main_prompt, parts.spec)
    )
    reduce_prompt, _ = (
        resolve_prompt(cfg.reduce_prompt, parts.embeddings) if cfg.reduce_prompt else (main_prompt, None)
    )
    map_max_new = (
        map_spec.generation.get("max_new_tokens") if map_spec is not None else None
    ) or parts.max_new_tokens
    map_model = parts.llm.bind(**{**parts.generation, "max_new_tokens": int(map_max_new)})
    mapper = map_prompt | map_model | StrOutputParser()

    def limit() -> int:
        window = parts.context_window
        return min(window, cfg.max_input_tokens) if cfg.max_input_tokens else window

    def fits(text: str, values: dict[str, Any], prompt: Any) -> bool:
        overhead = parts.render_length(_vars(prompt, {**values, "text": ""}), prompt)
        return parts.count_tokens(text) + overhead + parts.max_new_tokens + TEMPLATE_MARGIN <= limit()

    def _vars(prompt: Any, values: dict[str, Any]) -> dict[str, Any]:
        return parts.variables(values, prompt)

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=cfg.chunk_tokens,
        chunk_overlap=cfg.chunk_overlap,
        length_function=parts.count_tokens,
        separators=["\n## ", "\n\n", "\n", ". ", " ", ""],
    )

    extractive = "sentences" in main_prompt.input_variables

    def prepare(value: Any) -> dict[str, Any]:
        inp = as_text_input(value, definition.name)
        text = inp.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ValidationError("a summarisation chain needs a non-empty 'text' string")
        max_words = int(inp.get("max_words") or cfg.max_words)
        if max_words < 5:
            raise ValidationError(f"max_words must be at least 5, got {max_words}")
        language = str(inp.get("language") or cfg.language)
        values = {k: v for k, v in inp.items() if isinstance(v, str)}
        cleaned = cleaned_text(text) or text.strip()
        values.update(
            text=cleaned, max_words=str(max_words), language=LANGUAGE_NAMES.get(language, language)
        )
        extracted: list[str] = []
        if extractive:
            values["sentences"] = extract_outline(text, int(EXTRACT_FACTOR * max_words), _lang(language))
            extracted = extract(text, int(EXTRACT_FACTOR * max_words), _lang(language))
        single = extractive or fits(values["text"], values, main_prompt)
        return {
            "values": values,
            "max_words": max_words,
            "language": language,
            "input_tokens": parts.count_tokens(values["text"]),
            "mode": "single" if single else "map_reduce",
            "chunks": 0,
            "partials": [],
            "extracted": extracted,
        }

    def map_chunks(states: list[dict[str, Any]]) -> list[dict[str, Any]]:
        long_ones = [s for s in states if s["mode"] == "map_reduce"]
        pending = {id(s): s["values"]["text"] for s in long_ones}
        for _round in range(cfg.max_rounds):
            if not pending:
                break
            jobs: list[tuple[int, str]] = []
            for key, text in pending.items():
                jobs.extend((key, chunk) for chunk in splitter.split_text(text))
            by_id = {id(s): s for s in long_ones}
            outs = mapper.batch([_vars(map_prompt, {**by_id[k]["values"], "text": c}) for k, c in jobs])
            partials: dict[int, list[str]] = {}
            for (key, _chunk), out in zip(jobs, outs, strict=True):
                partials.setdefault(key, []).append(clean_summary(out))
            still: dict[int, str] = {}
            for key, texts in partials.items():
                state = by_id[key]
                state["chunks"] = state["chunks"] or len(texts)
                state["partials"] = texts
                joined = "\n\n".join(t for t in texts if t)
                if fits(joined, state["values"], reduce_prompt) or _round == cfg.max_rounds - 1:
                    state["reduce_text"] = joined
                else:
                    still[key] = joined
            pending = still
        for state in states:
            if state["mode"] == "single":
                state["prompt_value"] = main_prompt.invoke(_vars(main_prompt, state["values"]))
            else:
                values = {**state["values"], "text": state.get("reduce_text", "")}
                state["prompt_value"] = reduce_prompt.invoke(_vars(reduce_prompt, values))
        return states

    def finish(state: dict[str, Any]) -> dict[str, Any]:
        raw = state.get("raw", "")
        summary, cut = limit_words(clean_summary(raw), state["max_words"])
        summary, filled = fill_from_extract(summary, state.get("extracted") or [], state["max_words"],
                                            _lang(state["language"]))
        return {
            "answer": summary,
            "filled_sentences": filled,
            "abstained": not summary,
            "raw": raw,
            "mode": state["mode"],
            "chunks": state["chunks"],
            "partials": state["partials"],
            "input_tokens": state["input_tokens"],
            "words": len(summary.split()),
            "max_words": state["max_words"],
            "cut_to_max_words": cut,
            "language": state["language"],
            **parts.provenance(),
            "stage_prompts": (
                {"map": map_prompt.metadata.get("ref"), "reduce": reduce_prompt.metadata.get("ref")}
                if state["mode"] == "map_reduce"
                else {}
            ),
            "sources": [],
            "contexts": [],
            "examples": [],
            "moderation": None,
        }

    return (
        RunnableLambda(prepare, name="prepare")
        | BatchLambda(map_chunks, name="map_chunks")
        | BatchAssign("raw", parts.model | StrOutputParser(), select=lambda s: s["prompt_value"])
        | finisher(finish)
    )
