"""Does retrieval find the course passage when a student asks in other words?

``eval/datasets/paraphrase_retrieval.jsonl`` holds questions that paraphrase a passage of the course (few
of its words, synonyms, periphrases) with the passage's file (``gold_source``). A question is a hit at k
when a chunk of that file is among the first k results. Compared: the BM25 tokenizer's stemming modes
(:mod:`promptkit.index.lexical`), a Snowball stemmer, the index's search modes (``bm25``, ``hybrid``,
``dense``, ``mmr``) and the RRF weight of the dense list in ``hybrid``.

    python benchmarks/bench_paraphrase_retrieval.py               # dev split
    python benchmarks/bench_paraphrase_retrieval.py --split test

Builds (or reuses) the course index with the default embeddings; no model calls.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KS = (1, 3, 4)


def load_questions(split: str) -> list[dict]:
    path = ROOT / "eval" / "datasets" / "paraphrase_retrieval.jsonl"
    rows = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    return [r for r in rows if split == "all" or r["split"] == split]


def hit_rates(questions: list[dict], rank: Callable[[str], list[str]]) -> dict[int, float]:
    hits = dict.fromkeys(KS, 0)
    for q in questions:
        names = rank(q["question"])
        for k in KS:
            hits[k] += q["gold_source"] in names[:k]
    return {k: v / len(questions) for k, v in hits.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="dev", choices=["dev", "test", "all"])
    args = ap.parse_args(argv)

    import snowballstemmer

    from promptkit.index import ensure_index
    from promptkit.index.lexical import DEFAULT_STEM, LexicalIndex, PortugueseTokenizer, fold

    questions = load_questions(args.split)
    index = ensure_index()
    texts = [c.index_text(index.context_header) for c in index.chunks]
    files = [Path(c.source).name for c in index.chunks]
    print(
        f"{len(questions)} {args.split} questions, {len(texts)} chunks; "
        "hit@k = the passage's file in the top k"
    )
    print(f"{'retrieval':44s} " + " ".join(f"hit@{k:<5d}" for k in KS))

    def show(label: str, rank: Callable[[str], list[str]]) -> None:
        rates = hit_rates(questions, rank)
        print(f"{label:44s} " + " ".join(f"{rates[k]:<9.3f}" for k in KS))

    def lexical(tokenizer: Callable[[str], list[str]]) -> Callable[[str], list[str]]:
        lex = LexicalIndex.build(texts, tokenizer)
        return lambda q: [files[i] for i, _ in lex.top(q, max(KS))]

    for mode in ("none", "light", "prefix5", "prefix6", "light+prefix5", "light+prefix6"):
        show(
            f"bm25 stem={mode}" + (" (default)" if mode == DEFAULT_STEM else ""),
            lexical(PortugueseTokenizer(mode)),
        )

    snowball = snowballstemmer.stemmer("portuguese")
    stop = PortugueseTokenizer("none").stopwords

    def snowball_tokens(text: str) -> list[str]:
        words = (w for w in re.findall(r"\w+", text.lower()) if fold(w) not in stop and len(w) > 1)
        return [fold(snowball.stemWord(w)) for w in words]

    show("bm25 stem=snowball", lexical(snowball_tokens))

    for mode in ("bm25", "hybrid", "dense", "mmr"):
        show(
            f"index.search mode={mode}",
            lambda q, m=mode: [Path(d.metadata["source"]).name for d in index.search(q, k=max(KS), mode=m)],
        )
    default_weights = index.rrf_weights
    for dense_weight in (0.2, 0.5):
        index.rrf_weights = (dense_weight, 1.0)
        show(
            f"hybrid, dense RRF weight {dense_weight}",
            lambda q: [Path(d.metadata["source"]).name for d in index.search(q, k=max(KS), mode="hybrid")],
        )
    index.rrf_weights = default_weights
    return 0


if __name__ == "__main__":
    sys.exit(main())
