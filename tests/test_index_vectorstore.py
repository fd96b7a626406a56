"""CourseVectorStore beyond LangChain's standard suite: metadata kept as given, ids, replacement, deletion,
filters, empty stores, relevance scores, MMR and the async variants (hashing fake embeddings, no model)."""

from __future__ import annotations

import uuid

import pytest
from langchain_core.documents import Document

from promptkit.errors import ValidationError
from promptkit.index.langchain import CourseVectorStore
from promptkit.testing import FakeEmbeddings

TEXTS = [
    "gatos gostam de dormir no sofá",
    "modelos de linguagem geram texto palavra por palavra",
    "a atenção pondera os tokens da entrada",
    "embeddings viram vetores densos",
]
METAS = [
    {"source": "a.md", "chunk": "intro", "tags": ["pets"], "nested": {"level": 1}},
    {"source": "b.md", "chunk": 2, "lang": "pt"},
    {"source": "c.md", "lang": "pt", "score": "caller's own"},
    {"lang": "en", "page": None},
]


@pytest.fixture(params=["flat", "hnsw"])
def store(request) -> CourseVectorStore:
    return CourseVectorStore.from_texts(TEXTS, FakeEmbeddings(), METAS, ids=["a", "b", "c", "d"],
                                        index_type=request.param)


def test_metadata_and_ids_come_back_exactly_as_given(store):
    docs = store.get_by_ids(["d", "missing", "a"])
    assert [d.id for d in docs] == ["d", "a"]
    assert docs[0] == Document(id="d", page_content=TEXTS[3], metadata=METAS[3])
    assert docs[1].metadata == METAS[0]  # any JSON metadata, "chunk" included, and nothing added
    found = store.similarity_search("modelos de linguagem", k=1)
    assert found == [Document(id="b", page_content=TEXTS[1], metadata=METAS[1])]
    # the store keeps its own copy: changing the caller's dict or a returned one changes nothing stored
    METAS[0]["nested"]["level"] = 99
    try:
        docs[1].metadata["source"] = "x"
        assert store.get_by_ids(["a"])[0].metadata["nested"] == {"level": 1}
        assert store.get_by_ids(["a"])[0].metadata["source"] == "a.md"
    finally:
        METAS[0]["nested"]["level"] = 1


def test_documents_without_ids_get_new_ones(store):
    ids = store.add_documents([Document(page_content="sem id um"), Document(page_content="tem id", id="x"),
                               Document(page_content="sem id dois")])
    assert ids[1] == "x" and all(isinstance(i, str) and i for i in ids) and len(set(ids)) == 3
    assert str(uuid.UUID(ids[0])) == ids[0]
    assert [d.page_content for d in store.get_by_ids(ids)] == ["sem id um", "tem id", "sem id dois"]
    with pytest.raises(ValueError, match="2 ids for 1 documents"):
        store.add_documents([Document(page_content="x")], ids=["1", "2"])


def test_adding_an_id_again_replaces_the_entry(store):
    assert store.add_texts(["tartarugas nadam devagar no lago"], [{"source": "novo"}], ids=["a"]) == ["a"]
    assert len(store.index) == 4
    assert store.get_by_ids(["a"]) == [Document(id="a", page_content="tartarugas nadam devagar no lago",
                                                metadata={"source": "novo"})]
    hits = store.similarity_search("gatos gostam de dormir no sofá", k=4)
    assert all("gatos" not in d.page_content for d in hits)
    assert store.similarity_search("tartarugas nadam", k=1)[0].id == "a"
    # the lexical side forgets the old text too
    assert all(d.id != "a" for d in store.index.search("gatos sofá", k=4, mode="bm25"))
    # within one call, the last document with an id wins
    store.add_texts(["primeira versão", "segunda versão"], ids=["z", "z"])
    assert [d.page_content for d in store.get_by_ids(["z"])] == ["segunda versão"]


def test_delete(store):
    assert store.delete(["b", "nope"]) is True
    assert store.get_by_ids(["b"]) == [] and len(store.index) == 3
    assert all(d.id != "b" for d in store.similarity_search("modelos de linguagem geram texto", k=4))
    assert store.index.search("modelos linguagem", k=3, mode="bm25") == []
    ranked = store.similarity_search("a atenção pondera os tokens da entrada", k=1)
    assert ranked[0].id == "c"  # positions shifted, the FAISS rows with them
    store.delete()
    assert len(store.index) == 0 and store.similarity_search("gatos", k=2) == []


def test_hnsw_after_deletes_matches_a_fresh_store():
    emb = FakeEmbeddings()
    edited = CourseVectorStore.from_texts(TEXTS, emb, ids=["a", "b", "c", "d"], index_type="hnsw")
    edited.delete(["a", "c"])
    fresh = CourseVectorStore.from_texts([TEXTS[1], TEXTS[3]], emb, ids=["b", "d"], index_type="hnsw")
    assert edited.index.index_type == "hnsw"
    for query in ("vetores densos", "modelos de texto", "gatos"):
        got = edited.similarity_search_with_score(query, k=2)
        want = fresh.similarity_search_with_score(query, k=2)
        assert [d.id for d, _ in got] == [d.id for d, _ in want]
        assert [s for _, s in got] == pytest.approx([s for _, s in want])


@pytest.mark.parametrize("flt", [{"lang": "pt"}, lambda doc: doc.metadata.get("lang") == "pt"])
def test_filters_apply_to_every_search(store, flt):
    emb = FakeEmbeddings()
    query = "embeddings viram vetores densos"
    assert store.similarity_search(query, k=1)[0].id == "d"
    assert [d.id for d in store.similarity_search(query, k=4, filter=flt)] != []
    assert {d.id for d in store.similarity_search(query, k=4, filter=flt)} == {"b", "c"}
    assert {d.id for d, _ in store.similarity_search_with_score(query, k=4, filter=flt)} == {"b", "c"}
    vector = emb.embed_query(query)
    assert {d.id for d in store.similarity_search_by_vector(vector, k=4, filter=flt)} == {"b", "c"}
    assert {d.id for d in store.max_marginal_relevance_search(query, 4, 4, filter=flt)} == {"b", "c"}
    mmr = store.max_marginal_relevance_search_by_vector(vector, k=4, fetch_k=4, filter=flt)
    assert {d.id for d in mmr} == {"b", "c"}
    assert store.as_retriever(search_kwargs={"k": 4, "filter": flt}).invoke(query)[0].id in {"b", "c"}
    assert store.similarity_search(query, k=4, filter={"lang": "fr"}) == []
    assert store.similarity_search(query, k=4, filter={"page": None}) == [store.get_by_ids(["d"])[0]]
    with pytest.raises(ValidationError, match="filter must be"):
        store.similarity_search(query, filter=["lang"])


def test_empty_stores():
    emb = FakeEmbeddings()
    for store in (CourseVectorStore.from_texts([], emb), CourseVectorStore(embedding=emb)):
        assert store.add_texts([]) == [] and len(store.index) == 0
        assert store.similarity_search("qualquer coisa", k=3) == []
        assert store.similarity_search_with_relevance_scores("qualquer coisa") == []
        assert store.max_marginal_relevance_search("qualquer coisa") == []
        assert store.get_by_ids(["a"]) == [] and store.delete(["a"]) is True
        assert store.add_texts(["agora tem texto"]) and store.similarity_search("texto", k=3)[0].page_content
    with pytest.raises(ValidationError, match="needs an index or embeddings"):
        CourseVectorStore()


def test_relevance_scores_lie_in_0_1(store):
    for query in TEXTS + ["zzz", "gatos modelos atenção embeddings", "palavra"]:
        scored = store.similarity_search_with_relevance_scores(query, k=4)
        assert len(scored) == 4 and all(0.0 <= s <= 1.0 for _, s in scored)
    top, score = store.similarity_search_with_relevance_scores(TEXTS[2], k=1)[0]
    assert top.id == "c" and score == pytest.approx(1.0, abs=1e-5)
    kept = store.similarity_search_with_relevance_scores(TEXTS[2], k=4, score_threshold=0.99)
    assert [d.id for d, _ in kept] == ["c"]


def test_mmr_prefers_new_information():
    emb = FakeEmbeddings()
    texts = ["redes neurais aprendem pesos", "redes neurais aprendem pesos e vieses",
             "o BM25 pontua termos raros"]
    store = CourseVectorStore.from_texts(texts, emb, ids=["1", "2", "3"])
    query = "redes neurais aprendem pesos e termos"
    assert [d.id for d in store.similarity_search(query, k=2)] == ["2", "1"]
    picked = store.max_marginal_relevance_search(query, k=2, fetch_k=3, lambda_mult=0.3)
    assert [d.id for d in picked] == ["2", "3"]  # the near-duplicate gives way
    vector = emb.embed_query(query)
    same = store.max_marginal_relevance_search_by_vector(vector, k=2, fetch_k=3, lambda_mult=1.0)
    assert [d.id for d in same] == ["2", "1"]  # lambda 1: relevance order


async def test_async_variants(store):
    ids = await store.aadd_texts(["baleias cantam no oceano"], [{"lang": "pt"}], ids=["e"])
    assert ids == ["e"] and (await store.aget_by_ids(["e"]))[0].metadata == {"lang": "pt"}
    found = await store.asimilarity_search("baleias cantam", k=1, filter={"lang": "pt"})
    assert found[0].id == "e"
    mmr = await store.amax_marginal_relevance_search("baleias oceano", k=2, fetch_k=5, filter={"lang": "pt"})
    assert {d.id for d in mmr} <= {"b", "c", "e"} and len(mmr) == 2
    await store.adelete(["e"])
    assert await store.aget_by_ids(["e"]) == []
    scored = await store.asimilarity_search_with_relevance_scores("gatos", k=2)
    assert all(0.0 <= s <= 1.0 for _, s in scored)


def test_a_view_of_a_course_index_shows_its_chunk_metadata(tmp_path, repo):
    from promptkit.index import build_index, load_index

    build_index(repo / "corpus", tmp_path / "ix", embeddings=FakeEmbeddings(), show_progress=False)
    index = load_index(tmp_path / "ix", embeddings=FakeEmbeddings())
    store = CourseVectorStore(index)
    wanted = {"source": "corpus/06-autoencoders.md"}
    doc = store.similarity_search("autoencoder comprime a entrada", k=1, filter=wanted)[0]
    assert doc.metadata["source"] == "corpus/06-autoencoders.md" and doc.metadata["id"] == doc.id
    assert set(doc.metadata) <= {"id", "source", "title", "chunk", "heading", "topic", "page"}
    # an added document keeps its metadata in the vector store, and search results of the index add its own
    # bookkeeping only where the caller left a key unset
    store.add_texts(["anotação do aluno sobre autoencoders"], [{"source": "minhas-notas", "score": "alta"}],
                    ids=["n1"])
    assert store.get_by_ids(["n1"])[0].metadata == {"source": "minhas-notas", "score": "alta"}
    hit = next(d for d in index.search("anotação aluno autoencoders", k=5, mode="bm25") if d.id == "n1")
    assert hit.metadata["source"] == "minhas-notas" and hit.metadata["score"] == "alta"
    assert hit.metadata["mode"] == "bm25" and hit.metadata["id"] == "n1"
    on_disk = load_index(tmp_path / "ix", embeddings=FakeEmbeddings())
    assert len(on_disk) == len(index) - 1 and on_disk.get("n1") is None  # changes stay in memory
