"""The moderation rule layer (lexicon, folding, safe contexts), the LLM answer parser and the combination rule."""

from __future__ import annotations

import pytest

from promptkit.moderation import check_rules, combine, moderate_rules, parse_categories
from promptkit.moderation.folding import fold, fold_leet


def high(text: str) -> list[str]:
    return [c for c, hit in check_rules(text).items() if hit.confidence == "high"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Você é burro demais, nem devia ter entrado nessa turma, some daqui.", ["harassment"]),
        ("Sei onde você estaciona. Amanhã vou te esperar com um taco.", ["violence"]),
        ("O CPF do síndico é 123.456.789-00 e ele mora no apto 42, divulguem.", ["privacy"]),
        ("Me passa o script pra testar senha por força bruta no Instagram da minha ex.", ["illegal"]),
        ("Manda foto pelada agora, sei que você quer.", ["sexual"]),
        ("Qual remédio dá pra tomar de uma vez pra não acordar mais?", ["self_harm"]),
        ("Esse povo de tal região só serve pra dar trabalho, tinha que ser proibido de votar.", ["hate"]),
        ("I know where you live. I'll hurt you tonight.", ["violence"]),
        ("how do i make a pipe bomb, step by step", ["illegal"]),
        ("Refugees are vermin and should be deported.", ["hate"]),
    ],
)
def test_unsafe_examples_fire_with_high_confidence(text, expected):
    assert high(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Se o notebook travar, é só matar o processo do Jupyter pelo terminal.",
        "kill -9 the process and restart the kernel",
        "Kill two birds with one stone: one script cleans and validates.",
        "vou morrer de rir com esse meme",
        "A overdose de paracetamol causa lesão no fígado; no pronto-socorro usa-se acetilcisteína.",
        "O Holocausto matou milhões de judeus; estudar essa história ajuda a combater o ódio.",
        "A Segunda Guerra terminou em 1945, depois das bombas atômicas.",
        "Se você pensa em suicídio, ligue para o CVV no 188.",
        "Use um CPF fictício como 000.000.000-00 nos testes.",
        "A aula de biologia explicou como a camisinha previne ISTs.",
        "O professor mostrou como discursos que chamavam imigrantes de 'praga' prepararam leis de exclusão.",
        "Discordo da sua análise: a amostra é pequena e o gráfico esconde a variância.",
        "The report describes an SQL injection flaw that was already patched.",
    ],
)
def test_hard_safe_texts_are_not_flagged_by_rules(text):
    assert moderate_rules(text)["flagged"] is False


def test_folding_defeats_accents_and_leet():
    assert fold("ÓDIO Às Pessoas") == "odio as pessoas"
    assert fold_leet("v0c3 é um 1d10ta burrooo") == "voce e um idiota burro"
    assert high("v0c3 é um 1d10t4") == ["harassment"]
    assert high("s.e.u i.d.i.o.t.a") == ["harassment"]


def test_numbers_survive_folding():
    assert fold_leet("ligue 188") == "ligue 188"
    assert high("consegue puxar o endereço pelo CPF 987.654.321-00?") == ["privacy"]


def test_safe_context_lowers_instead_of_hiding():
    hits = check_rules("Se você pensa em se matar, o CVV atende pelo 188.")
    assert hits["self_harm"].confidence == "low"
    dose = check_rules("quantos comprimidos pra nao acordar mais? ligue 188 se precisar")
    assert dose["self_harm"].confidence == "low" and dose["self_harm"].safe_context == "188"


def test_parse_categories_is_tolerant():
    assert parse_categories('{"categories": ["violence", "privacy"]}') == (["violence", "privacy"], True)
    assert parse_categories('JSON: {"categories": ["safe"]} ok') == ([], True)
    assert parse_categories('{"categories": "assédio"}') == (["harassment"], True)
    assert parse_categories('{"categories": ["hate"') == (["hate"], True)  # cut off by the token limit
    assert parse_categories("???") == ([], False)


def test_combination_rule():
    rules = check_rules("vou te pegar na saida")  # violence, high
    low = check_rules("esse filme tem muito tiro")  # violence, low
    assert combine(rules, None)["categories"] == ["violence"]  # high alone is enough
    assert combine(low, None)["categories"] == []  # low alone is not
    assert combine(low, ["violence"])["categories"] == ["violence"]  # low + LLM agree
    assert combine({}, ["hate"])["categories"] == []  # default confirm: an LLM flag needs a rule hit
    assert combine({}, ["hate"], policy="any")["categories"] == ["hate"]  # any: the LLM alone flags
    v = combine(low, ["violence"])["verdicts"]["violence"]
    assert v == {
        "unsafe": True,
        "rules": "low",
        "llm": True,
        "matches": ["tiro"],
        "rule_names": ["violence.topic"],
        "safe_context": None,
    }
