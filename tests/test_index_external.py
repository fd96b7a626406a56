"""A RAG chain retrieving from any LangChain vector store or retriever (InMemoryVectorStore, no server)."""

from __future__ import annotations

import pytest
from langchain_core.vectorstores import InMemoryVectorStore

from promptkit.chains import load_chain
from promptkit.errors import ValidationError
from promptkit.index import as_index
from promptkit.testing import FakeChatModel, FakeEmbeddings

TEXTS = [
    ("O MMLU reúne 57 tarefas de múltipla escolha em áreas como direito e medicina.", "avaliacao.md"),
    ("O BERT foi treinado com a tarefa de modelagem de linguagem mascarada.", "bert.md"),
    ("Embeddings densos representam textos como vetores de números reais.", "embeddings.md"),
]


@pytest.fixture
def store():
    s = InMemoryVectorStore(FakeEmbeddings())
    s.add_texts([t for t, _ in TEXTS], metadatas=[{"source": src, "title": src[:-3]} for _, src in TEXTS])
    return s


@pytest.mark.parametrize("as_retriever", [False, True])
def test_rag_chain_answers_from_an_in_memory_store(store, as_retriever):
    source = store.as_retriever(search_kwargs={"k": 1}) if as_retriever else store
    llm = FakeChatModel(respond=lambda p: "57" if "57 tarefas" in p else "sem resposta")
    chain = load_chain("rag_course", llm=llm, index=as_index(source), cross_check=None, guard=None)
    out = chain.invoke({"question": "Quantas tarefas de múltipla escolha reúne o MMLU?"})
    assert out["answer"] == "57" and out["mode"] == "retrieval"
    assert out["sources"][0]["source"] == "avaliacao.md"
    if not as_retriever:
        assert isinstance(out["sources"][0]["score"], float)


def test_as_index_keeps_promptkit_indexes_and_refuses_other_objects(store):
    index = as_index(store)
    assert as_index(index) is index
    with pytest.raises(ValidationError, match="expected a LangChain VectorStore or BaseRetriever"):
        as_index(object())
