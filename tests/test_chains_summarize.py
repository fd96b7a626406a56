"""Summarisation: the single-pass / map-reduce switch by token count (whole-text prompts), extract-then-rewrite
(the production prompt), word limits and language."""

from __future__ import annotations

from promptkit.chains import load_chain
from promptkit.chains.summarize import limit_words
from promptkit.testing import FakeChatModel

SHORT = "A IA generativa cria textos e imagens. Ela usa modelos treinados em grandes corpora."


def test_short_text_is_a_single_pass():
    llm = FakeChatModel(default="Resumo: A IA generativa cria conteúdo.")
    out = load_chain("summarize", llm=llm).invoke({"text": SHORT})
    assert out["mode"] == "single" and out["chunks"] == 0
    # the model's short answer is completed, within max_words, by the extracted sentence it does not state yet
    assert out["answer"] == "A IA generativa cria conteúdo. Ela usa modelos treinados em grandes corpora."
    assert out["filled_sentences"] == 1
    assert len(llm.calls) == 1 and "no máximo 80 palavras" in llm.calls[0][0]
    assert "português" in llm.calls[0][0]


def test_long_text_goes_through_map_reduce(repo):
    text = (repo / "corpus" / "08-transformers.md").read_text(encoding="utf-8")
    llm = FakeChatModel(rules=[("Resumos parciais", "Resumo final curto."), ("Trecho:", "Parcial.")])
    chain = load_chain("summarize", llm=llm, prompt="summarize@2", max_input_tokens=400, chunk_tokens=300)
    out = chain.invoke({"text": text})
    assert out["mode"] == "map_reduce" and out["chunks"] >= 2
    assert out["answer"] == "Resumo final curto."
    assert out["partials"] == ["Parcial."] * out["chunks"]
    # one batched call for all chunks, then the reduce call
    assert [len(c) for c in llm.calls] == [out["chunks"], 1]
    assert all(llm.get_num_tokens(p) <= 400 + 200 for p in llm.calls[0])
    assert out["stage_prompts"]["map"].startswith("summarize_map@")


def test_whole_course_file_with_the_shipped_limits(repo):
    text = "\n\n".join(
        (repo / "corpus" / f).read_text(encoding="utf-8")
        for f in ("08-transformers.md", "09-atencao-codificacao-posicional-e-normalizacao.md")
    )
    llm = FakeChatModel(default="Um resumo.")
    out = load_chain("summarize", llm=llm, prompt="summarize@2").invoke(text)
    assert out["mode"] == "map_reduce" and out["input_tokens"] > 1500


def test_batch_mixes_short_and_long_texts(repo):
    long = (repo / "corpus" / "01-historia-da-ia-generativa.md").read_text(encoding="utf-8")
    llm = FakeChatModel(default="Resumo.")
    outs = load_chain("summarize", llm=llm, prompt="summarize@2", max_input_tokens=500).batch([SHORT, long, SHORT])
    assert [o["mode"] for o in outs] == ["single", "map_reduce", "single"]
    assert len(llm.calls) == 2  # the map round, then one final batch for all three


def test_word_limit_and_language_controls():
    llm = FakeChatModel(default=" ".join(f"palavra{i}" for i in range(50)) + ".")
    out = load_chain("summarize", llm=llm).invoke({"text": SHORT, "max_words": 10, "language": "en"})
    assert out["words"] <= 11 and out["cut_to_max_words"] is True and out["max_words"] == 10
    assert "inglês" in llm.calls[0][0] and "no máximo 10 palavras" in llm.calls[0][0]


def test_limit_words_prefers_sentence_ends():
    assert limit_words("Um dois três. Quatro cinco seis sete.", 5) == ("Um dois três.", True)
    assert limit_words("curto", 5) == ("curto", False)
    assert limit_words("a b c d e f g", 3) == ("a b c…", True)


def test_production_prompt_rewrites_the_extracted_sentences(repo):
    text = (repo / "corpus" / "08-transformers.md").read_text(encoding="utf-8")
    llm = FakeChatModel(default="## Transformer\n- Um **resumo** curto.")
    out = load_chain("summarize", llm=llm).invoke({"text": text, "max_words": 60})
    assert out["prompt"] == "summarize@3" and out["mode"] == "single"  # the extract always fits: no map-reduce
    assert out["answer"].startswith("Transformer Um resumo curto. ")  # markup the model copies is removed
    assert out["filled_sentences"] >= 1 and out["words"] <= 60  # a short answer is completed within the budget
    prompt = llm.calls[0][0]
    assert "no máximo 60 palavras" in prompt and "## " in prompt and "\n- " in prompt
    extract = prompt.split("Frases:", 1)[1].split("Resumo:", 1)[0]
    assert len(extract.split()) <= 2 * 60 + 40  # about twice the budget, with section titles
    assert "---" not in extract  # front matter and rules are cleaned away
