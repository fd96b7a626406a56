"""promptkit.text: folding, the Portuguese normalisers and the abstention vocabulary of chains and scorer."""

from __future__ import annotations

import doctest

import pytest

from promptkit import metrics as M
from promptkit import text as T
from promptkit.chains import load_chain
from promptkit.testing import FakeChatModel


def test_doctests_pass():
    result = doctest.testmod(T)
    assert result.attempted >= 15 and result.failed == 0


# -- folding -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Informação", "informacao"),
        ("AÇÃO", "acao"),
        ("Straße", "strasse"),
        ("ﬁm", "fim"),
        # compatibility characters that decompose to capitals fold to lowercase like any letter
        ("ℂ", "c"),
        ("Python™", "pythontm"),
        ("𝐊𝐈𝐋𝐋", "kill"),
        ("ＡＢＣ", "abc"),
        ("a\u0301gua", "agua"),  # combining acute accent
        ("Olá, mundo!", "ola, mundo!"),  # punctuation and spacing are kept
    ],
)
def test_fold(text, folded):
    assert T.fold(text) == folded


def test_strip_accents_keeps_case_and_fold_words_keeps_only_words():
    assert T.strip_accents("Índice Ótimo") == "Indice Otimo"
    assert T.fold_words("  «Índice», ótimo —  já!") == "indice otimo ja"
    assert T.fold_words("?!…") == ""


def test_every_folder_agrees_on_accents():
    from promptkit.moderation.folding import fold as moderation_fold

    sample = "  Não É “Ótimo”  "
    assert moderation_fold(sample) == 'nao e "otimo"'
    assert T.fold_words(sample) == "nao e otimo"
    assert T.normalize_answer_pt_fold(sample) == "nao e otimo"


# -- Portuguese normalisers ---------------------------------------------------------------------------------


def test_pt_normalisers_are_the_registered_ones():
    assert M.get_normalizer("pt-v1") is T.normalize_answer_pt
    assert M.get_normalizer("pt-v1-fold") is T.normalize_answer_pt_fold
    assert T.normalize_answer_pt("Os «Transformers»!") == "transformers"
    assert T.normalize_answer_pt("Atenção") == "atenção"
    assert T.normalize_answer_pt_fold("Atenção") == "atencao"


# -- abstentions --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("phrase", T.ABSTENTION_PHRASES)
def test_every_phrase_abstains_alone_capitalised_and_punctuated(phrase):
    assert T.is_abstention(phrase)
    assert T.is_abstention(f"  {phrase.upper()}.")
    assert T.is_abstention(f"{phrase.capitalize()}, infelizmente.")  # at the start
    assert T.is_abstention(f"Li o trecho todo; {phrase}")  # at the end


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "...",
        "Sem resposta.",
        "SEM RESPOSTA",
        "sem-resposta",
        "Não sei.",
        "Nao ha resposta no contexto",
        "O contexto não menciona o ano.",
        "O texto não diz; sem resposta",
        "I don't know.",
        "I don’t know",
        "Unanswerable.",
        "The context does not say.",
        "Sorry, no answer",
    ],
)
def test_abstentions(text):
    assert T.is_abstention(text)
    assert T.map_abstention(text) == ""


@pytest.mark.parametrize(
    "text",
    [
        "1943",
        "Não",
        "sem",
        "no",
        "redes sem fio",
        "sem respostas prontas",  # a phrase must end at a word boundary
        "respostas sem resposta certa",  # nor is a phrase in the middle enough
        "não seis",
        "unanswerables",
        "Resposta: 57",
    ],
)
def test_answers_are_not_abstentions(text):
    assert not T.is_abstention(text)
    assert T.map_abstention(text) == text


def test_extra_phrases_follow_the_same_rule():
    assert T.is_abstention("Fora do escopo!", ["fora do escopo"])
    assert T.is_abstention("a pergunta está fora do escopo", ["Fora do escopo"])
    assert not T.is_abstention("fora do escopo")
    assert not T.is_abstention("fora do escopo", ["", "..."])  # an extra phrase with no word is ignored


def test_the_scorer_uses_the_same_vocabulary():
    assert M.is_abstention is T.is_abstention and M.map_abstention is T.map_abstention


@pytest.mark.parametrize(
    "raw", ["Não há informação sobre isso no texto.", "O texto não menciona o autor.", "Não sei"]
)
def test_a_chain_abstains_on_every_phrase_the_scorer_maps(raw):
    """A worded abstention outside the prompt's own phrase is an abstention of the chain too (not an answer
    left to the grounding check), so the chain's ``abstained`` and the scorer's ``""`` agree."""
    out = load_chain("qa_zero_shot", llm=FakeChatModel(default=raw)).invoke(
        {"question": "Quem escreveu o artigo?", "context": "O texto fala do autor do artigo e do ano."}
    )
    assert out["abstained"] is True and out["abstain_reason"] == "abstained" and out["answer"] == ""
    assert T.map_abstention(raw) == ""
