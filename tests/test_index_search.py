"""Retrieval: every mode, metadata, MMR, filters, LangChain retriever and vector store, splitting."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.retrievers import BaseRetriever
from langchain_core.vectorstores import VectorStore

from promptkit.errors import NotFoundError, ValidationError
from promptkit.index import MODES, build_index, load_index
from promptkit.index.lexical import PortugueseTokenizer, fold, light_stem
from promptkit.testing import FakeEmbeddings

# Questions reworded (different inflections, no accents) against the shipped course corpus.
QUESTIONS = {
    "Quem publicou o artigo de 1943 sobre o neuronio artificial?": "corpus/01-historia-da-ia-generativa.md",
    "O que e um autoencoder e como ele comprime a entrada?": "corpus/06-autoencoders.md",
    "Como o Word2Vec aprende vetores de palavras?": "corpus/07-corpus-vocabulario-e-word2vec.md",
    "O que a temperatura muda na saida do modelo?": "corpus/10-saida-do-llm-e-temperatura.md",
    "O que significa geração aumentada por recuperação?": "corpus/15-rag-geracao-aumentada-por-recuperacao.md",
    "Como funciona a cadeia de pensamento (chain of thought)?": "corpus/14-chain-of-thought.md",
}


@pytest.fixture(scope="module")
def course_index(tmp_path_factory, repo_root=Path(__file__).resolve().parent.parent):
    out = tmp_path_factory.mktemp("course-ix")
    build_index(repo_root / "corpus", out, embeddings=FakeEmbeddings(), show_progress=False)
    return load_index(out, embeddings=FakeEmbeddings())


@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_lexical_and_hybrid_find_the_right_file(course_index, mode):
    hits = 0
    for question, source in QUESTIONS.items():
        docs = course_index.search(question, k=4, mode=mode)
        hits += source in [d.metadata["source"] for d in docs]
    assert hits == len(QUESTIONS)


@pytest.mark.parametrize("mode", MODES)
def test_every_result_carries_its_metadata(course_index, mode):
    docs = course_index.search("atenção entre tokens", k=5, mode=mode)
    assert len(docs) == 5
    for rank, doc in enumerate(docs, start=1):
        m = doc.metadata
        assert m["source"].startswith("corpus/") and m["title"] and isinstance(m["chunk"], int)
        assert m["id"] == doc.id and len(m["id"]) == 16
        assert isinstance(m["score"], float) and m["rank"] == rank and m["mode"] == mode
    scores = [d.metadata["score"] for d in docs]
    if mode == "mmr":  # selection order, not score order: each result keeps its fused hybrid score
        candidates = course_index.search("atenção entre tokens", k=20, mode="hybrid")
        hybrid = {d.id: d.metadata["score"] for d in candidates}
        assert scores == [hybrid[d.id] for d in docs]
    else:
        assert scores == sorted(scores, reverse=True)


def test_mmr_diversifies(course_index):
    plain = course_index.search("autoencoder", k=4, mode="dense")
    mmr = course_index.search("autoencoder", k=4, mode="dense", mmr=True, fetch_k=20, lambda_mult=0.2)
    assert len(mmr) == 4 and mmr[0].metadata["id"] == plain[0].metadata["id"]
    assert len({d.metadata["source"] for d in mmr}) >= len({d.metadata["source"] for d in plain})


def test_mmr_mode_diversifies_the_hybrid_ranking(course_index):
    """``mmr`` keeps hybrid's best chunk first, then trades relevance for chunks that repeat less."""
    import numpy as np

    def redundancy(docs) -> float:
        vecs = course_index.vectors([course_index._position[d.id] for d in docs])
        sims = vecs @ vecs.T
        np.fill_diagonal(sims, -1.0)
        return float(sims.max())

    less = 0
    for question in QUESTIONS:
        hybrid = course_index.search(question, k=4, mode="hybrid")
        mmr = course_index.search(question, k=4, mode="mmr", fetch_k=20, lambda_mult=0.3)
        candidates = {d.id for d in course_index.search(question, k=20, mode="hybrid")}
        assert mmr[0].id == hybrid[0].id and {d.id for d in mmr} <= candidates
        assert [d.metadata["mode"] for d in mmr] == ["mmr"] * 4
        assert redundancy(mmr) <= redundancy(hybrid) + 1e-6
        less += redundancy(mmr) < redundancy(hybrid) - 1e-3
        same = course_index.search(question, k=4, mode="mmr", lambda_mult=1.0)
        assert [d.id for d in same] == [d.id for d in hybrid]  # lambda 1: relevance only, the hybrid order
    assert less >= len(QUESTIONS) // 2


@pytest.mark.parametrize("mode", MODES)
def test_filters_in_every_mode(course_index, mode):
    wanted = "corpus/06-autoencoders.md"
    by_dict = course_index.search("redes neurais e atenção", k=3, mode=mode, filter={"source": wanted})
    assert by_dict and all(d.metadata["source"] == wanted for d in by_dict)
    by_call = course_index.search("redes neurais e atenção", k=50, mode=mode,
                                  filter=lambda doc: doc.metadata["source"] != wanted)
    assert by_call and all(d.metadata["source"] != wanted for d in by_call)
    assert course_index.search("autoencoder", k=3, mode=mode, filter={"source": "nenhum"}) == []


def test_retriever_takes_search_settings_per_call(course_index):
    from promptkit.errors import NotFoundError as Unknown

    retriever = course_index.as_retriever(k=4)
    question = "Como o Word2Vec aprende vetores de palavras?"
    assert len(retriever.invoke(question, k=1)) == 1 and len(retriever.invoke(question)) == 4
    assert {d.metadata["mode"] for d in retriever.invoke(question, mode="bm25", k=2)} == {"bm25"}
    only = retriever.invoke(question, filter={"source": "corpus/06-autoencoders.md"}, mode="mmr", k=2)
    assert {d.metadata["source"] for d in only} == {"corpus/06-autoencoders.md"}
    assert retriever.k == 4 and retriever.mode == "hybrid"  # a call changes nothing for the next one
    with pytest.raises(ValidationError, match="unknown retriever argument.*kk"):
        retriever.invoke(question, kk=1)
    with pytest.raises(Unknown, match="unknown search mode 'sparse'"):
        course_index.as_retriever(mode="sparse")


async def test_retriever_async_takes_search_settings(course_index):
    docs = await course_index.as_retriever(mode="dense").ainvoke("autoencoder", k=2)
    assert len(docs) == 2 and {d.metadata["mode"] for d in docs} == {"dense"}


def test_bad_queries(course_index):
    with pytest.raises(NotFoundError, match="unknown search mode 'sparse'"):
        course_index.search("x", mode="sparse")
    with pytest.raises(ValidationError, match="empty"):
        course_index.search("   ")
    assert course_index.search("zzzzqqq", mode="bm25") == []


def test_retriever_plugs_into_langchain(course_index):
    retriever = course_index.as_retriever(mode="bm25", k=2)
    assert isinstance(retriever, BaseRetriever)
    docs = retriever.invoke("Word2Vec skip-gram")
    assert len(docs) == 2 and docs[0].metadata["source"] == "corpus/07-corpus-vocabulario-e-word2vec.md"
    assert len(retriever.batch(["autoencoder", "temperatura"])) == 2
    from langchain_core.runnables import RunnableLambda

    chain = retriever | RunnableLambda(lambda ds: [d.metadata["source"] for d in ds])
    assert chain.invoke("temperatura top-p")[0] == "corpus/10-saida-do-llm-e-temperatura.md"


def test_vector_store_adapter():
    from promptkit.index.langchain import CourseVectorStore

    emb = FakeEmbeddings()
    store = CourseVectorStore.from_texts(
        ["gatos gostam de dormir", "modelos de linguagem geram texto", "a atenção pondera tokens"],
        emb,
        metadatas=[{"source": "a"}, {"source": "b"}, {"source": "c"}],
    )
    assert isinstance(store, VectorStore)
    assert store.similarity_search("modelos de linguagem", k=1)[0].metadata["source"] == "b"
    ids = store.add_texts(["embeddings viram vetores densos"], metadatas=[{"source": "d"}])
    assert store.similarity_search("vetores densos embeddings", k=1)[0].metadata["source"] == "d"
    assert store.get_by_ids(ids)[0].page_content == "embeddings viram vetores densos"
    doc, score = store.similarity_search_with_score("gatos dormir", k=1)[0]
    assert doc.metadata["source"] == "a" and 0 < score <= 1.0001
    assert store.as_retriever(search_kwargs={"k": 2}).invoke("atenção tokens")[0].metadata["source"] == "c"
    assert len(store.max_marginal_relevance_search("texto", k=2, fetch_k=4)) == 2
    by_vec = store.similarity_search_by_vector(emb.embed_query("gatos dormir"), k=1)
    assert by_vec[0].metadata["source"] == "a"


def test_hnsw_index_type(tmp_path: Path, repo: Path):
    emb = FakeEmbeddings()
    report = build_index(repo / "corpus", tmp_path / "h", embeddings=emb, show_progress=False, index_type="hnsw")
    index = load_index(tmp_path / "h", embeddings=emb)
    assert report.index_type == "hnsw" and index.index_type == "hnsw"
    flat = build_index(repo / "corpus", tmp_path / "f", embeddings=emb, show_progress=False, flat_max_chunks=1)
    assert flat.index_type == "hnsw"  # auto switches above the threshold
    docs = index.search("autoencoder comprime", k=3, mode="dense")
    assert len(docs) == 3


def test_splitting_keeps_sections_and_sizes(course_index):
    from promptkit.index.splitting import word_count

    by_file: dict[str, list] = {}
    for c in course_index.chunks:
        by_file.setdefault(c.source, []).append(c)
        assert word_count(c.text) <= 200
        assert c.heading  # every corpus chunk sits under a ## heading
    for chunks in by_file.values():
        assert [c.chunk for c in chunks] == list(range(len(chunks)))
        assert len({c.title for c in chunks}) == 1


def test_long_section_is_split_with_overlap(tmp_path: Path):
    root = tmp_path / "c"
    root.mkdir()
    words = " ".join(f"palavra{n}." for n in range(500))
    (root / "longo.md").write_text(f"# Longo\n\n{words}\n")
    build_index(root, tmp_path / "ix", embeddings=FakeEmbeddings(), show_progress=False, chunk_tokens=100,
                overlap_tokens=20)
    chunks = load_index(tmp_path / "ix", embeddings=FakeEmbeddings()).chunks
    assert len(chunks) >= 10
    first, second = chunks[0].text.split(), chunks[1].text.split()
    assert set(first[-5:]) & set(second[:15])  # consecutive chunks overlap


def test_portuguese_tokenizer():
    tok = PortugueseTokenizer("light")
    assert fold("Atenção É") == "atencao e"
    assert tok("As redes neurais e a rede neural") == tok("rede neural rede neural")
    assert "de" not in tok("o modelo de linguagem") and tok("o modelo de linguagem")
    assert light_stem("informacoes") == light_stem("informacao")
    assert PortugueseTokenizer("prefix5")("transformadores") == ["trans"]
    with pytest.raises(ValueError):
        PortugueseTokenizer("snowball")


def test_bm25_scores():
    import math

    from promptkit.index.lexical import LexicalIndex

    texts = ["a atenção pondera tokens", "tokens viram vetores", "temperatura muda a saída", "atenção atenção"]
    tok = PortugueseTokenizer()
    docs = [tok(t) for t in texts]
    avgdl = sum(map(len, docs)) / len(docs)

    def expected(doc: list[str], query: list[str]) -> float:
        total = 0.0
        for term in query:
            n = sum(term in d for d in docs)
            tf = doc.count(term)
            idf = math.log(1 + (len(docs) - n + 0.5) / (n + 0.5))
            total += idf * tf * 2.5 / (tf + 1.5 * (0.25 + 0.75 * len(doc) / avgdl)) if n else 0.0
        return total

    ours = LexicalIndex.build(texts, tok).scores("atenção tokens")
    assert list(map(float, ours)) == pytest.approx([expected(d, tok("atenção tokens")) for d in docs], rel=1e-5)
    two = LexicalIndex.build(["temperatura alta", "autoencoder comprime"], tok)
    assert two.top("temperatura", 2)[0][0] == 0  # a term in half the documents still scores
