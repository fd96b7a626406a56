"""Query-embedding cache round trip, and a replayed RAG evaluation that loads neither the embedding model nor
the LLM weights."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from corpus_support import write_corpus

from promptkit.index.query_cache import CachedQueryEmbeddings, QueryEmbeddingCache
from promptkit.testing import FakeEmbeddings


def test_vectors_round_trip_bit_for_bit(tmp_path):
    cache = QueryEmbeddingCache(tmp_path / "q.sqlite")
    vec = np.random.default_rng(0).standard_normal(384).astype(np.float32)
    assert cache.get("m", "olá?") is None
    cache.put("m", "olá?", vec)
    back = cache.get("m", "olá?")
    assert back.dtype == np.float32 and np.array_equal(back, vec)
    assert cache.get("other-model", "olá?") is None, "keyed by model id"
    assert cache.get("m", "olá") is None, "keyed by the exact text"
    cache.close()
    assert np.array_equal(QueryEmbeddingCache(tmp_path / "q.sqlite").get("m", "olá?"), vec), "persists"


def test_values_are_raw_float32_never_pickle(tmp_path):
    import sqlite3

    cache = QueryEmbeddingCache(tmp_path / "q.sqlite")
    cache.put("m", "q", [0.5, -1.0])
    cache.close()
    blob = sqlite3.connect(tmp_path / "q.sqlite").execute("SELECT vector FROM vectors").fetchone()[0]
    assert blob == np.array([0.5, -1.0], dtype="<f4").tobytes()


class Counter:
    def __init__(self, inner: Any = None):
        self.inner = inner or FakeEmbeddings(64)
        self.loads = 0

    def __call__(self) -> Any:
        self.loads += 1
        return self.inner


def test_the_model_loads_only_on_a_miss(tmp_path):
    cache = QueryEmbeddingCache(tmp_path / "q.sqlite")
    factory = Counter()
    emb = CachedQueryEmbeddings(factory, "fake-hashing-64", cache=cache)
    assert factory.loads == 0 and emb.model_id == "fake-hashing-64"
    first = emb.embed_query("o que é RAG?")
    assert factory.loads == 1 and first == pytest.approx(FakeEmbeddings(64).embed_query("o que é RAG?"), abs=1e-7)
    again = CachedQueryEmbeddings(Counter(), "fake-hashing-64", cache=cache)  # a new process, same cache file
    assert again.embed_query("o que é RAG?") == first
    assert not again.loaded and again.hits == 1


def test_a_broken_cache_file_still_answers(tmp_path):
    path = tmp_path / "q.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    factory = Counter()
    emb = CachedQueryEmbeddings(factory, "fake-hashing-64", cache=QueryEmbeddingCache(path))
    assert len(emb.embed_query("pergunta")) == 64 and factory.loads == 1


def test_documents_are_cached_text_by_text_only_when_asked(tmp_path):
    cache = QueryEmbeddingCache(tmp_path / "q.sqlite")
    plain = CachedQueryEmbeddings(Counter(), "fake-hashing-64", cache=cache)
    plain.embed_documents(["a", "b"])
    assert len(cache) == 0  # index builds do not fill the query cache
    factory = Counter()
    emb = CachedQueryEmbeddings(factory, "fake-hashing-64", cache=cache, cache_documents=True)
    first = emb.embed_documents(["a", "b"])
    assert factory.loads == 1 and len(cache) == 2
    again = CachedQueryEmbeddings(Counter(), "fake-hashing-64", cache=cache, cache_documents=True)
    assert again.embed_documents(["b", "a"]) == [first[1], first[0]]
    assert not again.loaded and again.hits == 2
    mixed = again.embed_documents(["a", "c"])  # only the new text goes to the model
    assert again.loads == 1 and mixed[0] == first[0] and again.misses == 1
    # a document's vector is not served for the same text as a query (models may embed them differently)
    assert not CachedQueryEmbeddings(Counter(), "fake-hashing-64", cache=cache).cache.get("fake-hashing-64", "a")


def test_few_shot_selection_replays_its_embeddings_without_the_model(monkeypatch):
    from promptkit import embeddings
    from promptkit.prompts import fewshot, select_examples

    loads = Counter()
    monkeypatch.setattr(embeddings, "load_embeddings", loads)
    inputs = {"question": "Quem propôs o perceptron?", "context": "x"}

    def fresh_process() -> list[str]:
        monkeypatch.setattr(fewshot, "_DEFAULT_EMBEDDINGS", [])
        monkeypatch.setattr(fewshot, "_STORES", {})
        return [e["id"] for e in select_examples("rag_qa@3", inputs)]

    first = fresh_process()
    assert loads.loads == 1 and len(first) == 3
    assert fresh_process() == first and loads.loads == 1  # pool and question come from the on-disk cache


# -- a whole replayed evaluation ---------------------------------------------------------------------------------
DOCS = {
    "transformers.md": "---\ntitle: Transformers\n---\n\n## Origem\n\nO Transformer foi apresentado em 2017 no "
    "artigo Attention Is All You Need, de Vaswani e colegas do Google.\n",
    "rag.md": "---\ntitle: RAG\n---\n\n## Recuperação\n\nA geração aumentada por recuperação busca trechos num "
    "índice antes de responder. O termo RAG foi popularizado por Patrick Lewis em 2020.\n",
}
QUESTIONS = [("q1", "Em que ano saiu o Transformer?", "2017"), ("q2", "Quem popularizou o termo RAG?",
                                                                  "Patrick Lewis")]


def tiny_tokenizer_folder(folder: Path) -> Path:
    """A word-level tokenizer with a chat template: enough for LocalChatModel to render and count, no weights."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = sorted({w for text in DOCS.values() for w in text.split()})
    vocab = {"<unk>": 0, "<pad>": 1, "</s>": 2, **{w: i + 3 for i, w in enumerate(words)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    folder.mkdir(parents=True)
    tok.save(str(folder / "tokenizer.json"))
    template = ("{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}</s>{% endfor %}"
                "{% if add_generation_prompt %}<assistant>{% endif %}")
    (folder / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "PreTrainedTokenizerFast", "unk_token": "<unk>", "pad_token": "<pad>",
         "eos_token": "</s>", "chat_template": template}))
    return folder


def test_a_cached_rag_run_loads_no_embedding_model_and_no_llm_weights(tmp_path, monkeypatch):
    pytest.importorskip("transformers")
    from promptkit.cache import ReplayCache
    from promptkit.chains import load_chain
    from promptkit.evaluation import evaluate
    from promptkit.index import build_index, load_index
    from promptkit.llm.base import Completion
    from promptkit.llm.local import LocalChatModel
    from promptkit.llm.runtime import Backend, clear_backends

    corpus = write_corpus(tmp_path / "corpus", DOCS)
    context = DOCS["transformers.md"] + DOCS["rag.md"]
    qas = [{"id": i, "question": q, "is_impossible": False, "answers": [{"text": a, "answer_start": context.find(a)}]}
           for i, q, a in QUESTIONS]
    data = {"version": "v2.0", "data": [{"title": "t", "paragraphs": [{"context": context, "qas": qas}]}]}
    dataset = tmp_path / "qa.json"
    dataset.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    folder = tiny_tokenizer_folder(tmp_path / "tok")
    queries = QueryEmbeddingCache(tmp_path / "queries.sqlite")
    build_index(corpus, tmp_path / "idx", embeddings=FakeEmbeddings(64), show_progress=False)
    weight_loads: list[int] = []

    class Answering(LocalChatModel):
        def _complete_stream(self, prompts: list[str], params: dict[str, Any]):
            self.backend  # noqa: B018 - a real model needs its weights here
            for i, p in enumerate(prompts):
                yield i, Completion("2017" if "Transformer?" in p else "Patrick Lewis", 1, 1)

    import promptkit.llm.local as local

    monkeypatch.setattr(local, "load_backend", lambda *a, **k: weight_loads.append(1) or Backend(
        model=None, tokenizer=None, dtype="bf16", context_window=4096, eos_ids=[2]))

    def run() -> tuple[Any, CachedQueryEmbeddings, Counter]:
        clear_backends()  # every run starts with no weights in memory
        factory = Counter(FakeEmbeddings(64))
        emb = CachedQueryEmbeddings(factory, "fake-hashing-64", cache=queries)
        llm = Answering(model=str(folder), context_window=4096)
        # hybrid retrieval, so that the questions need embedding (the shipped rag_course retrieves with BM25 only)
        chain = load_chain("rag_course", llm=llm, index=load_index(tmp_path / "idx", embeddings=emb), mode="hybrid")
        with ReplayCache(tmp_path / "replay.sqlite", mode="use") as cache:
            result = evaluate(chain=chain, dataset=dataset, mode="rag", cache=cache, show_progress=False)
        return result, emb, factory

    first, emb1, factory1 = run()
    assert factory1.loads == 1 and weight_loads == [1], "the first run embeds the questions and generates"
    assert first.metrics["exact"] == 100.0
    second, emb2, factory2 = run()
    assert factory2.loads == 0, "the replay must not load the embedding model"
    assert weight_loads == [1], "the replay must not load the LLM weights"
    # every call of the first run (the cross-check prompt's and the main prompt's) is replayed, none generated
    assert second.cache.hits == first.cache.misses >= len(QUESTIONS) and second.cache.misses == 0
    assert [r.prediction for r in second.rows] == [r.prediction for r in first.rows]

    # the shipped rag_course ranks with BM25 alone: even a first run never embeds a question
    factory = Counter(FakeEmbeddings(64))
    emb = CachedQueryEmbeddings(factory, "fake-hashing-64", cache=QueryEmbeddingCache(tmp_path / "q2.sqlite"))
    llm = Answering(model=str(folder), context_window=4096)
    with ReplayCache(tmp_path / "replay2.sqlite", mode="use") as cache:
        shipped = evaluate(chain="rag_course", dataset=dataset, mode="rag", llm=llm, cache=cache,
                           index=load_index(tmp_path / "idx", embeddings=emb), show_progress=False)
    # two calls per question: the cross-check prompt answers, so the main prompt runs too
    assert shipped.cache.misses == 2 * len(QUESTIONS) and factory.loads == 0 and emb.hits == 0
    assert shipped.metrics["exact"] == 100.0
