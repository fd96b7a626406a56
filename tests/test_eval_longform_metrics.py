"""The long-form metrics as pure functions: key facts robust to inflection and accents but strict against
unrelated text, sentence support and faithfulness, citation precision and recall, context recall, declines,
length."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import pytest

from promptkit import grounding as G
from promptkit.evaluation import longform as L

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("module", [L, G])
def test_doctests_pass(module):
    result = doctest.testmod(module)
    assert result.attempted >= 10 and result.failed == 0


@pytest.mark.parametrize(
    ("fact", "answer"),
    [
        ("rede discriminadora", "As redes discriminadoras tentam separar o real do falso."),  # plural, gender
        ("aleatória", "a escolha fica mais aleatorio"),                                       # gender, accent
        ("não lineares", "padrões NÃO LINEARES como o XOR"),                                  # case
        ("retropropagação", "a retropropagacao ajusta os pesos"),                             # accents folded
        ("modelo já treinado", "parte de modelos treinados antes"),                           # 2 of 2 words
        ("erro de reconstrução alto", "o erro fica alto"),                                    # 2 of 3
        ("Attention is All You Need", "no artigo attention is all you need"),
        ("2017 e 2022", "em 2017 e de novo em 2022"),
        ("GPUs", "treinar em GPU"),
        ("k tokens mais prováveis", "entre os k tokens mais provaveis"),
        ("previsões", "uma previsão"),
    ],
)
def test_fact_found_despite_inflection_accents_and_order(fact, answer):
    assert L.fact_found(fact, answer)


@pytest.mark.parametrize(
    ("fact", "answer"),
    [
        ("57 tarefas", "O MMLU tem 75 tarefas."),                         # a different number
        ("2017 e 2022", "em 2017"),                                        # a number missing
        ("Ian Goodfellow", "proposto por Goodfellow"),                     # a short fact needs all its words
        ("rede discriminadora", "a rede geradora"),                        # 1 of 2
        ("erro quadrático médio", "o erro é grande"),                      # 1 of 3
        ("Transformer", "uma transformação dos dados"),                    # derivation does not count
        ("não lineares", "padrões lineares"),                              # the negation is a content word
        ("aleatoriedade", "a temperatura controla o sorteio do token"),    # unrelated text
        ("Vaswani", ""),
    ],
)
def test_fact_not_found_in_unrelated_or_wrong_text(fact, answer):
    assert not L.fact_found(fact, answer)


def test_every_key_fact_of_the_tutor_set_is_found_in_its_own_reference():
    text = (REPO / "eval/datasets/tutor_questions.jsonl").read_text("utf-8")
    rows = [json.loads(line) for line in text.splitlines()]
    reference = {r["id"]: r["reference"] for r in rows}
    facts = [(r["id"], f) for r in rows for f in r["key_facts"]]
    assert len(facts) > 300
    assert [x for x in facts if not L.fact_found(x[1], reference[x[0]])] == []
    # and hardly ever in the reference of a question on another file (the few hits are terms both really use:
    # BERT and T5 in a comparison, softmax beside the temperature)
    others = 0
    for i, r in enumerate(rows):
        other = next(o for o in rows[i + 1:] + rows[:i]
                     if o["gold_sources"] and o["gold_sources"] != r["gold_sources"])
        others += sum(L.fact_found(f, other["reference"]) for f in r["key_facts"])
    assert others <= 0.03 * len(facts)


def test_key_fact_recall_is_the_share_found():
    facts = ["1958", "Frank Rosenblatt", "Perceptron"]
    recall = L.key_fact_recall(facts, "Rosenblatt e o Perceptron, em 1958")
    assert recall == pytest.approx(2 / 3)
    assert L.key_fact_recall([], "x") is None


def test_sentences_and_their_citations():
    answer = ("A atenção compara consultas e chaves [1][2]. Depois, soma os valores [2]. Veja p. ex. o "
              "artigo de Vaswani et al. [3] sobre isso.\n- Um item de lista [1]")
    sentences = G.split_sentences(answer)
    assert [s.cites for s in sentences] == [(1, 2), (2,), (3,), (1,)]
    assert sentences[2].text.startswith("Veja p. ex. o artigo") and sentences[2].text.endswith("sobre isso.")
    assert G.split_sentences("Primeira frase. [1] Segunda frase [2].")[0].cites == (1,)
    assert G.citation_numbers("[1, 3] e [2; 4]") == (1, 3, 2, 4)


CHUNKS = {
    1: "O benchmark MMLU reúne 57 tarefas de múltipla escolha, do direito à medicina.",
    2: "A temperatura controla o quanto a escolha do próximo token é aleatória.",
}


def test_faithfulness_counts_supported_sentences():
    good = ("O MMLU reúne 57 tarefas de múltipla escolha [1]. "
            "A temperatura controla a escolha do próximo token [2].")
    assert L.faithfulness(good, CHUNKS) == 1.0
    # cited to the wrong chunk, uncited, a wrong number, a citation to no chunk: all unsupported
    assert L.faithfulness("O MMLU reúne 57 tarefas de múltipla escolha [2].", CHUNKS) == 0.0
    assert L.faithfulness("O MMLU reúne 57 tarefas de múltipla escolha.", CHUNKS) == 0.0
    assert L.faithfulness("O MMLU reúne 75 tarefas de múltipla escolha [1].", CHUNKS) == 0.0
    assert L.faithfulness("O MMLU reúne 57 tarefas de múltipla escolha [7].", CHUNKS) == 0.0
    assert L.faithfulness(good + " Ele também mede a velocidade da GPU.", CHUNKS) == pytest.approx(2 / 3)
    assert L.faithfulness("[1]", CHUNKS) is None


def test_support_threshold_is_the_boundary():
    text = "alfa beta gama delta epsilon"
    three_of_five = "alfa beta gama zeta eta"  # 3 of 5 content words: exactly 0.6
    assert G.sentence_support(three_of_five, text) == pytest.approx(0.6)
    assert G.is_supported(three_of_five, text)
    assert not G.is_supported("alfa beta zeta eta teta", text)  # 0.4


def test_citation_precision_keeps_needed_citations_only():
    # [2] says nothing of the MMLU: not needed, not supporting alone
    assert L.citation_precision("O MMLU reúne 57 tarefas de múltipla escolha [1][2].", CHUNKS) == 0.5
    # a sentence that needs both chunks: each is needed
    both = {1: "O MMLU reúne 57 tarefas.", 2: "As tarefas são de múltipla escolha, do direito à medicina."}
    assert L.citation_precision("O MMLU reúne 57 tarefas de múltipla escolha, do direito à medicina [1][2].",
                                both) == 1.0
    # a citation number with no chunk never supports
    assert L.citation_precision("O MMLU reúne 57 tarefas de múltipla escolha [1][9].", CHUNKS) == 0.5
    assert L.citation_precision("Sem citação.", CHUNKS) is None


def test_citation_and_context_recall_by_file_name():
    gold = ["04-avaliacao-e-benchmarks.md", "08-transformers.md"]
    assert L.citation_recall(["corpus/04-avaliacao-e-benchmarks.md"], gold) == 0.5
    assert L.citation_recall([], gold) == 0.0 and L.citation_recall(["x.md"], []) is None
    assert L.context_recall(["corpus\\08-transformers.md", "x.md"], gold) == 1.0
    assert L.context_recall(["x.md"], gold) == 0.0 and L.context_recall(["x.md"], []) is None


def test_declines_and_length():
    assert L.is_decline("Não encontrei isso no material do curso.")
    assert L.is_decline("nao encontrei isso no material do curso")
    assert L.is_decline("Sem resposta.")
    assert not L.is_decline("Encontrei isso no material do curso [1].")
    assert not L.is_decline("Não encontrei isso no material do curso.", declined=False)  # the flag wins
    assert L.answer_words("O MMLU [1] reúne 57 tarefas [2].") == 5


def test_stems_meet_inflections_but_not_derivations():
    pairs = [("professores", "professor"), ("imagens", "imagem"), ("papéis", "papel"),
             ("prováveis", "provável"), ("treinada", "treinar"), ("geradoras", "gerador"),
             ("queries", "query")]
    for a, b in pairs:
        assert G.stem(G.words(a)[0]) == G.stem(G.words(b)[0]), (a, b)
    for a, b in [("transformer", "transformação"), ("estado", "este"), ("aleatoriedade", "aleatório")]:
        assert G.stem(G.words(a)[0]) != G.stem(G.words(b)[0]), (a, b)
