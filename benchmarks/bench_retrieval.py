"""Retrieval benchmark for the course index: quality (hit@1, hit@4, MRR), build throughput and query latency.

Quality uses the answerable questions of the course QA parts (``eval/datasets/parts/*.json``): each paragraph
names the corpus file it was taken from (``source``), so a question counts as a hit at k when a chunk of that
file is among the first k results. ``answer@4`` is stricter: one of the first four chunks contains a gold
answer text.

Latency is measured per query, one query at a time, at corpus size and on synthetic indexes (random clustered
unit vectors of the embedding dimension) for flat and HNSW FAISS indexes, with HNSW recall@10 against flat.

    python benchmarks/bench_retrieval.py                 # quality + corpus latency + 100k synthetic
    python benchmarks/bench_retrieval.py --sweep         # also the tuning grid (stemming, chunk size, RRF weights)
    python benchmarks/bench_retrieval.py --sizes 10000 50000 100000 1000000 --hnsw-max 100000
    python benchmarks/bench_retrieval.py --fake          # hashing embeddings, no model (smoke run)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from promptkit.index import build_index, load_index  # noqa: E402
from langchain_core.embeddings import Embeddings  # noqa: E402

from promptkit.embeddings import model_id_of  # noqa: E402
from promptkit.index.lexical import fold  # noqa: E402
from promptkit.index.modes import MODES  # noqa: E402


class CachedQueries(Embeddings):
    """Wraps embeddings so each distinct question is embedded once across the tuning grid."""

    def __init__(self, inner):
        self.inner = inner
        self.model_id = model_id_of(inner)
        self._cache: dict[str, list[float]] = {}

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        if text not in self._cache:
            self._cache[text] = self.inner.embed_query(text)
        return self._cache[text]


def load_questions(parts_dir: Path) -> list[dict]:
    questions = []
    for path in sorted(parts_dir.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for article in data["data"]:
            for para in article["paragraphs"]:
                for qa in para["qas"]:
                    if qa.get("is_impossible"):
                        continue
                    answers = [a["text"] for a in qa.get("answers", []) if a.get("text")]
                    questions.append({"id": qa["id"], "question": qa["question"], "source": para["source"],
                                      "answers": answers, "split": qa.get("split", "")})
    return questions


def quality(index, questions: list[dict], mode: str, depth: int = 10) -> dict[str, float]:
    hit1 = hit4 = rr = ans4 = 0.0
    for q in questions:
        docs = index.search(q["question"], k=depth, mode=mode)
        sources = [d.metadata["source"] for d in docs]
        rank = next((i for i, s in enumerate(sources, start=1) if s == q["source"]), None)
        if rank is not None:
            rr += 1.0 / rank
            hit1 += rank == 1
            hit4 += rank <= 4
        golds = [fold(a) for a in q["answers"]]
        ans4 += any(g in fold(d.page_content) for d in docs[:4] for g in golds)
    n = len(questions)
    return {"hit@1": hit1 / n, "hit@4": hit4 / n, "mrr": rr / n, "answer@4": ans4 / n}


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return p50 * 1000, p95 * 1000


def latency(index, questions: list[dict], mode: str, k: int = 4, embed: bool = True) -> tuple[float, float]:
    """Per-query p50/p95 in ms; ``embed=False`` times the index alone (query vectors computed beforehand)."""
    vectors = {} if embed else {q["question"]: index.query_vector(q["question"]) for q in questions}
    index.search(questions[0]["question"], k=k, mode=mode)  # warm-up (model, BM25 postings)
    samples = []
    for q in questions:
        t = time.perf_counter()
        if embed:
            index.search(q["question"], k=k, mode=mode)
        elif mode == "dense":
            index.dense_ranking(q["question"], k, vector=vectors[q["question"]])
        elif mode == "hybrid":
            index.hybrid_ranking(q["question"], k, vector=vectors[q["question"]])
        elif mode == "mmr":
            index.mmr_ranking(index.hybrid_ranking(q["question"], 20, vector=vectors[q["question"]]), k, 0.5)
        else:
            index.bm25_ranking(q["question"], k)
        samples.append(time.perf_counter() - t)
    return percentiles(samples)


def print_quality_table(rows: list[tuple[str, dict[str, float]]]) -> None:
    print(f"{'setting':58s} {'hit@1':>6s} {'hit@4':>6s} {'MRR':>6s} {'ans@4':>6s}")
    for name, q in rows:
        print(f"{name:58s} {q['hit@1']:6.3f} {q['hit@4']:6.3f} {q['mrr']:6.3f} {q['answer@4']:6.3f}")


def synthetic_vectors(n: int, dim: int, seed: int = 0, clusters: int = 256) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    vecs = centres[rng.integers(0, clusters, n)] + 0.6 * rng.standard_normal((n, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs


def bench_synthetic(n: int, dim: int, queries: int, with_hnsw: bool) -> dict:
    from promptkit.index.store import make_faiss_index

    vecs = synthetic_vectors(n, dim)
    # queries: perturbed copies of stored vectors, as real questions sit near their answers
    rng = np.random.default_rng(1)
    qs = vecs[rng.integers(0, n, queries)] + 0.05 * rng.standard_normal((queries, dim)).astype(np.float32)
    qs /= np.linalg.norm(qs, axis=1, keepdims=True)
    out: dict = {"n": n}
    flat = make_faiss_index(vecs, "flat")
    samples, truth = [], []
    for q in qs:
        t = time.perf_counter()
        _, ids = flat.search(q[None, :], 10)
        samples.append(time.perf_counter() - t)
        truth.append(set(ids[0].tolist()))
    out["flat_p50_ms"], out["flat_p95_ms"] = percentiles(samples)
    if with_hnsw:
        t = time.perf_counter()
        hnsw = make_faiss_index(vecs, "hnsw")
        out["hnsw_build_s"] = time.perf_counter() - t
        out["hnsw"] = {}
        for ef in (32, 96, 256):
            hnsw.hnsw.efSearch = ef
            samples, recall = [], 0.0
            for q, gold in zip(qs, truth, strict=True):
                t = time.perf_counter()
                _, ids = hnsw.search(q[None, :], 10)
                samples.append(time.perf_counter() - t)
                recall += len(gold & set(ids[0].tolist())) / 10
            out["hnsw"][ef] = (*percentiles(samples), recall / len(qs))
    return out


def bench_bm25(n: int, corpus_texts: list[str], queries: list[str], seed: int = 0) -> dict:
    """BM25 at ``n`` synthetic chunks of ~150 words drawn from the corpus vocabulary (its word frequencies)."""
    from promptkit.index.lexical import LexicalIndex

    rng = np.random.default_rng(seed)
    words = np.array(" ".join(corpus_texts).split())
    texts = [" ".join(words[rng.integers(0, len(words), 150)]) for _ in range(n)]
    t = time.perf_counter()
    lex = LexicalIndex.build(texts)
    build_s = time.perf_counter() - t
    samples = []
    for q in queries:
        t = time.perf_counter()
        lex.top(q, 50)
        samples.append(time.perf_counter() - t)
    return {"n": n, "build_s": build_s, "p50_p95": percentiles(samples)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default=str(ROOT / "corpus"))
    ap.add_argument("--parts", default=str(ROOT / "eval" / "datasets" / "parts"))
    ap.add_argument("--fake", action="store_true", help="hashing embeddings instead of the real model")
    ap.add_argument("--sweep", action="store_true", help="run the tuning grid")
    ap.add_argument("--sizes", type=int, nargs="*", default=[100_000], help="synthetic index sizes")
    ap.add_argument("--hnsw-max", type=int, default=200_000, help="skip HNSW builds above this size")
    ap.add_argument("--queries", type=int, default=200, help="queries per synthetic latency run")
    ap.add_argument("--bm25-sizes", type=int, nargs="*", default=[100_000], help="synthetic BM25 sizes")
    ap.add_argument("--latency-questions", type=int, default=60, help="questions timed at corpus size")
    ap.add_argument("--threads", type=int, default=1,
                    help="FAISS/torch threads for latency runs (1 = stable single-query figures; 0 = library default)")
    args = ap.parse_args(argv)

    if args.fake:
        from promptkit.testing import FakeEmbeddings

        emb = FakeEmbeddings(384)
    else:
        from promptkit.embeddings import load_embeddings

        t = time.perf_counter()
        emb = load_embeddings()  # the model itself: latency figures must not come from the query cache
        emb.embed_query("aquecimento")
        print(f"embedding model loaded in {time.perf_counter() - t:.1f} s")
    raw_emb, emb = emb, CachedQueries(emb)
    questions = load_questions(Path(args.parts))
    print(f"{len(questions)} answerable questions over {len({q['source'] for q in questions})} files\n")

    tmp = Path(tempfile.mkdtemp(prefix="bench-index-"))
    report = build_index(args.corpus, tmp / "default", embeddings=emb, show_progress=False)
    print(report.summary())
    print(f"build throughput: {report.chunks_per_second:.1f} chunks/s end to end ({report.seconds:.2f} s), "
          f"{report.chunks_embedded / max(report.embed_seconds, 1e-9):.1f} chunks/s embedding alone "
          f"({report.embed_seconds:.2f} s)")
    again = build_index(args.corpus, tmp / "default", embeddings=emb, show_progress=False)
    print(f"no-change rebuild: {again.seconds:.2f} s ({again.chunks_reused} chunks reused, "
          f"{report.seconds / max(again.seconds, 1e-9):.0f}x faster)\n")

    index = load_index(tmp / "default", embeddings=emb)
    rows = []
    for mode in MODES:
        rows.append((f"{mode} (defaults), all", quality(index, questions, mode)))
        for split in sorted({q["split"] for q in questions} - {""}):
            subset = [q for q in questions if q["split"] == split]
            rows.append((f"{mode} (defaults), {split} ({len(subset)} q)", quality(index, subset, mode)))
    print_quality_table(rows)
    base = dict(rows)
    print(f"\nhybrid vs dense hit@4: {base['hybrid (defaults), all']['hit@4'] / base['dense (defaults), all']['hit@4']:.2f}x,"
          f" hybrid vs bm25 hit@4: {base['hybrid (defaults), all']['hit@4'] / base['bm25 (defaults), all']['hit@4']:.2f}x\n")

    if args.threads:
        import faiss
        import torch

        faiss.omp_set_num_threads(args.threads)
        torch.set_num_threads(args.threads)
    uncached = load_index(tmp / "default", embeddings=raw_emb)  # latency includes embedding each query
    timed = questions[: args.latency_questions]
    for mode in MODES:
        p50, p95 = latency(uncached, timed, mode)
        s50, s95 = latency(uncached, timed, mode, embed=False)
        print(f"corpus latency {mode:6s} ({len(index)} chunks): end-to-end p50 {p50:.2f} ms p95 {p95:.2f} ms;"
              f" index only p50 {s50:.3f} ms p95 {s95:.3f} ms")

    if args.sweep:
        print("\n# tuning grid (hybrid rows: dense:bm25 RRF weights and RRF k)")
        grid: list[tuple[str, dict[str, float]]] = []
        for tokens, overlap, header in ((200, 30, True), (200, 30, False), (120, 20, True), (300, 45, True),
                                        (400, 60, True)):
            out = tmp / f"c{tokens}-{header}"
            build_index(args.corpus, out, embeddings=emb, show_progress=False, chunk_tokens=tokens,
                        overlap_tokens=overlap, context_header=header)
            name = f"chunk={tokens}/{overlap}{'' if header else ' no-header'}"
            grid.append((f"{name} dense", quality(load_index(out, embeddings=emb), questions, "dense")))
            stems = ("none", "light", "prefix5", "prefix6", "light+prefix5", "light+prefix6") if tokens == 200 and header \
                else ("light+prefix6",)
            for stem in stems:
                grid.append((f"{name} bm25 stem={stem}",
                             quality(load_index(out, embeddings=emb, stem=stem), questions, "bm25")))
                for weights, rrf_k in (((1.0, 1.0), 60), ((0.5, 1.0), 60), ((0.2, 1.0), 60), ((1.0, 1.0), 20),
                                       ((0.5, 1.0), 20), ((0.2, 1.0), 20)):
                    ix = load_index(out, embeddings=emb, stem=stem, rrf_weights=weights, rrf_k=rrf_k)
                    grid.append((f"{name} hybrid stem={stem} w={weights[0]}:{weights[1]} k={rrf_k}",
                                 quality(ix, questions, "hybrid")))
        print_quality_table(grid)

    print(f"\n# synthetic FAISS indexes (dim {index.dimension}, k=10, one query at a time, "
          f"{args.threads or 'default'} thread(s))")
    for n in args.sizes:
        r = bench_synthetic(n, index.dimension, args.queries, with_hnsw=n <= args.hnsw_max)
        print(f"n={n:>9,d}: flat p50 {r['flat_p50_ms']:.3f} ms p95 {r['flat_p95_ms']:.3f} ms", flush=True)
        if "hnsw" in r:
            print(f"             hnsw build {r['hnsw_build_s']:.1f} s (M=32, efConstruction=80)")
            for ef, (p50, p95, recall) in r["hnsw"].items():
                print(f"             hnsw efSearch={ef:<3d} p50 {p50:.3f} ms p95 {p95:.3f} ms recall@10 {recall:.3f}"
                      f" | flat/hnsw p50 {r['flat_p50_ms'] / p50:.1f}x", flush=True)
    if args.bm25_sizes:
        print("\n# synthetic BM25 (150-word chunks from the corpus vocabulary, top 50)")
        texts = [c.text for c in index.chunks]
        for n in args.bm25_sizes:
            r = bench_bm25(n, texts, [q["question"] for q in questions[:100]])
            print(f"n={n:>9,d}: build {r['build_s']:.1f} s, query p50 {r['p50_p95'][0]:.2f} ms p95 {r['p50_p95'][1]:.2f} ms",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
