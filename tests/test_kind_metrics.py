"""The scorers of the moderation, summary and classification kinds, and the summary's source cleaning and
extraction (no model)."""

from __future__ import annotations

import doctest

import promptkit.kind_metrics as K
from promptkit.chains.summary_terms import content_stems
from promptkit.chains.summary_text import (
    clean_source,
    cleaned_text,
    extract,
    extract_outline,
    extractive_summary,
)
from promptkit.evaluation import longform as L
from promptkit.grounding import fact_found, is_supported
from promptkit.kind_metrics import (
    UNPARSEABLE,
    classification_report,
    moderation_report,
    score_label,
    score_summary,
)

SOURCE = (
    "O Transformer foi apresentado em 2017 por Vaswani e colegas. Ele usa atenção em vez de recorrência. "
    "A cantina do prédio reabriu na segunda-feira."
)
ITEM = {
    "lang": "pt",
    "text": SOURCE,
    "max_words": 20,
    "points": ["O Transformer surgiu em 2017 com Vaswani e colegas.", "Usa atenção no lugar de recorrência."],
}


def test_doctests_pass():
    result = doctest.testmod(K)
    assert result.attempted >= 3 and result.failed == 0


def test_extraction_terms_fold_inflections_and_drop_function_words():
    assert content_stems("As redes e os modelos") == content_stems("a rede do modelo") == {"red", "model"}
    assert content_stems("Attention networks", "en") == {"attent", "network"}


def test_a_point_is_covered_by_its_content_not_its_wording():
    def covered(point: str, summary: str) -> bool:
        return score_summary({**ITEM, "points": [point]}, summary)["covered"] == [True]

    assert covered(ITEM["points"][0], "Vaswani e colegas apresentaram o Transformer em 2017.")
    assert not covered(ITEM["points"][0], "Vaswani e colegas apresentaram o Transformer em 2018.")
    assert not covered(ITEM["points"][1], "A cantina reabriu.")


def test_summary_scorers_are_the_long_form_rules():
    """Key-point coverage is key-fact recall, and faithfulness is sentence support at the long-form threshold:
    the same verdicts on the same strings, whatever the kind."""
    cases = [
        ("rede discriminadora", "As redes discriminadoras separam o real do falso."),
        ("erro quadrático médio", "o erro é grande"),
        ("57 tarefas", "O MMLU tem 56 tarefas."),
        ("Ian Goodfellow", "Proposta por Goodfellow."),
    ]
    for point, summary in cases:
        scored = score_summary({"text": summary, "points": [point], "max_words": 50}, summary)
        assert scored["covered"] == [fact_found(point, summary)] == [L.fact_found(point, summary)]
        assert scored["coverage"] == L.key_fact_recall([point], summary)
    source = "A temperatura controla o sorteio do próximo token; perto de zero, fica previsível."
    for sentence in ("A temperatura controla o sorteio.", "A temperatura muda os pesos do modelo."):
        scored = score_summary({"text": source, "points": ["x"], "max_words": 50}, sentence)
        assert scored["faithfulness"] == float(is_supported(sentence, source))
        assert scored["faithfulness"] == L.faithfulness(sentence + " [1]", {1: source})
    assert K.SUPPORT_THRESHOLD == L.SUPPORT_THRESHOLD == 0.6


def test_summary_scores_coverage_faithfulness_and_length():
    good = score_summary(
        ITEM, {"answer": "O Transformer, de Vaswani e colegas (2017), usa atenção em vez de recorrência."}
    )
    assert good["coverage"] == 1.0 and good["faithfulness"] == 1.0 and good["within_limit"]
    invented = score_summary(ITEM, "O Transformer surgiu em 2019. Ele ganhou um prêmio Nobel de física.")
    assert invented["faithfulness"] == 0.0 and len(invented["unsupported"]) == 2
    long = score_summary(ITEM, " ".join(["atenção"] * 21))
    assert not long["within_limit"] and not score_summary(ITEM, "")["within_limit"]
    assert score_summary(ITEM, "Usa atenção.")["support"] == [1.0]
    preamble = score_summary(ITEM, "Segue um resumo de 20 palavras: O Transformer usa atenção.")
    assert preamble["unsupported"] == ["Segue um resumo de 20 palavras:"] and preamble["faithfulness"] == 0.5


def test_label_scoring_never_maps_an_unparseable_answer():
    items = [{"label": "neutro"}, {"label": "positivo"}, {"label": "negativo"}]
    outs = [{"label": "neutro"}, {"label": None}, {"label": "positivo"}]
    assert score_label(items[1], outs[1])["predicted"] == UNPARSEABLE
    report = classification_report(items, outs, ["positivo", "negativo", "neutro"])
    assert report["accuracy"] == 1 / 3 and report["unparseable"] == 1
    assert (
        report["confusion"]["positivo"][UNPARSEABLE] == 1 and report["confusion"]["negativo"]["positivo"] == 1
    )
    assert report["per_label"]["neutro"]["f1"] == 1.0 and report["per_label"]["positivo"]["recall"] == 0.0


def test_moderation_report_per_language_and_category():
    items = [
        {"lang": "pt", "labels": ["hate"]},
        {"lang": "pt", "labels": []},
        {"lang": "en", "labels": ["privacy"]},
        {"lang": "en", "labels": []},
    ]
    outs = [
        {"flagged": True, "categories": ["harassment"]},
        {"flagged": True, "categories": ["violence"]},
        {"flagged": True, "categories": ["privacy"]},
        {"flagged": False, "categories": []},
    ]
    report = moderation_report(items, outs, ["hate", "privacy"])
    assert report["binary"]["pt"]["recall"] == 1.0 and report["binary"]["pt"]["fpr"] == 1.0
    assert report["binary"]["en"] == {
        "n": 2,
        "unsafe": 1,
        "safe": 1,
        "recall": 1.0,
        "fpr": 0.0,
        "precision": 1.0,
    }
    assert (
        report["categories"]["hate"]["recall"] == 0.0
        and report["categories"]["hate"]["flagged_recall"] == 1.0
    )


PDF = """Curso de Dados          Apostila 2
____________________________________

2.1 Vetores

Cada palavra pre-
cisa virar uma lista de números. Os vetores são
densos.

____________________________________
Instituto - uso interno                   Página 3 de 8


Curso de Dados          Apostila 2
____________________________________

2.2 Similaridade

O cosseno mede a proximidade.

____________________________________
Instituto - uso interno                   Página 4 de 8
"""

SLIDES = """# Atenção

## A ideia
- A atenção distribui **pesos** entre os tokens
- O resultado é uma soma ponderada

> **Exemplo rápido:** a palavra "banco" olha para "rio".

## Multi-head
- Várias cabeças rodam em paralelo
"""


def test_cleaning_removes_pdf_furniture_and_joins_hyphenation():
    sections = clean_source(PDF)
    assert [s.title for s in sections] == ["2.1 Vetores", "2.2 Similaridade"]
    assert sections[0].sentences == [
        "Cada palavra precisa virar uma lista de números.",
        "Os vetores são densos.",
    ]
    assert "Página" not in cleaned_text(PDF) and "Apostila" not in cleaned_text(PDF)


def test_cleaning_drops_markdown_and_announced_examples():
    sections = clean_source(SLIDES)
    assert [s.title for s in sections] == ["A ideia", "Multi-head"]
    assert sections[0].sentences == [
        "A atenção distribui pesos entre os tokens",
        "O resultado é uma soma ponderada",
    ]
    assert "banco" not in cleaned_text(SLIDES)


def test_extraction_keeps_the_budget_the_order_and_every_section():
    chosen = extract(SLIDES, 20)
    assert sum(len(s.split()) for s in chosen) <= 20
    assert (
        chosen[-1] == "Várias cabeças rodam em paralelo"
    )  # one sentence from each section first, source order
    assert extract_outline(SLIDES, 40).splitlines()[0] == "## A ideia"
    assert extractive_summary(SLIDES, 40).endswith(".")
