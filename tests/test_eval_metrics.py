"""SQuAD metrics: the official edge cases, the Portuguese normaliser, abstentions and the bootstrap."""

from __future__ import annotations

import doctest

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptkit import metrics as M


def test_doctests_pass():
    result = doctest.testmod(M, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 20
    assert result.failed == 0


# -- official normalisation and scores -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The Cat", "cat"),
        ("  An   apple, a day!  ", "apple day"),
        ("theory", "theory"),  # article removal is word-bounded
        ("Ação?", "ação"),
        ("«prompt»", "«prompt»"),  # not ASCII punctuation: kept by the official rule
        ("...", ""),
        ("", ""),
    ],
)
def test_official_normalisation(text, expected):
    assert M.normalize_answer(text) == expected


def test_the_as_gold_is_dropped_and_becomes_no_answer():
    # "The" normalises to "", so the v2.0 rule drops it and the question counts as unanswerable.
    assert M.gold_answers(["The"]) == [""]
    assert M.score_answer(["The"], "") == (1, 1)
    assert M.score_answer(["The"], "the") == (1, 1)  # the prediction normalises to "" too
    assert M.score_answer(["The"], "cat") == (0, 0)


def test_punctuation_only_answers():
    assert M.gold_answers(["!!!", "?"]) == [""]
    assert M.compute_exact("!!!", "") == 1
    assert M.compute_f1("2017", "...") == 0


def test_empty_golds_and_empty_prediction():
    assert M.score_answer([], "") == (1, 1)
    assert M.score_answer([], "1943") == (0, 0)
    assert M.score_answer(["1943"], "") == (0, 0)


def test_multiple_golds_take_the_max():
    exact, f1 = M.score_answer(["Warren McCulloch e Walter Pitts", "McCulloch e Pitts"], "McCulloch e Pitts")
    assert exact == 1 and f1 == 1.0
    exact, f1 = M.score_answer(["redes neurais profundas", "aprendizado profundo"], "redes profundas")
    assert exact == 0
    assert f1 == pytest.approx(0.8)


def test_f1_counts_repeated_tokens_as_a_bag():
    assert M.compute_f1("a b b", "b b b") == pytest.approx(2 * (2 / 3) * (2 / 2) / (2 / 3 + 1))


def _toy():
    golds = {"a": ["1943"], "b": ["Pitts", "Walter Pitts"], "c": [], "d": []}
    preds = {"a": "1943", "b": "McCulloch", "c": "", "d": "1969"}
    return golds, preds


def test_squad_v2_eval_keys_and_values():
    golds, preds = _toy()
    out = M.squad_v2_eval(golds, preds)
    assert list(out) == [
        "exact",
        "f1",
        "total",
        "HasAns_exact",
        "HasAns_f1",
        "HasAns_total",
        "NoAns_exact",
        "NoAns_f1",
        "NoAns_total",
    ]
    assert out["total"] == 4 and out["HasAns_total"] == 2 and out["NoAns_total"] == 2
    assert out["exact"] == 50.0
    assert out["HasAns_exact"] == 50.0 and out["NoAns_exact"] == 50.0


def test_na_prob_threshold_is_strict():
    golds, preds = _toy()
    # d says "1969" (wrong) but has na_prob 0.9: above 0.5 it becomes a correct abstention.
    na = {"a": 0.1, "b": 0.2, "c": 0.8, "d": 0.9}
    assert M.squad_v2_eval(golds, preds, na_probs=na, na_prob_thresh=0.5)["NoAns_exact"] == 100.0
    # exactly at the threshold is not above it
    assert M.squad_v2_eval(golds, preds, na_probs=na, na_prob_thresh=0.9)["NoAns_exact"] == 50.0
    # default threshold 1.0: a probability of 1.0 does not trigger
    assert M.squad_v2_eval(golds, preds, na_probs={k: 1.0 for k in na})["exact"] == 50.0


def test_best_thresh_matches_the_official_search():
    golds, preds = _toy()
    na = {"a": 0.1, "b": 0.2, "c": 0.8, "d": 0.9}
    out = M.squad_v2_eval(golds, preds, na_probs=na)
    # walk: start 2 (no-answer count); a +1 -> 3 (thresh .1); b +0 -> 3; c 0 -> 3; d -1 -> 2
    assert out["best_exact"] == 75.0 and out["best_exact_thresh"] == 0.1
    assert out["best_f1"] == 75.0 and out["best_f1_thresh"] == 0.1
    assert "best_f1" not in M.squad_v2_eval(golds, preds)


def test_a_missing_prediction_scores_zero_and_stays_in_the_totals():
    golds, preds = _toy()
    del preds["c"]  # an unanswerable question the toy answered correctly ("")
    out = M.squad_v2_eval(golds, preds)
    assert out["total"] == 4 and out["NoAns_total"] == 2
    assert out["exact"] == 25.0 and out["NoAns_exact"] == 0.0  # c no longer counts as a correct abstention
    assert M.missing_predictions(golds, preds) == ["c"]


# -- properties ----------------------------------------------------------------------------------------------

_text = st.text(alphabet=st.sampled_from(list("abcxyz ÁéçO.,«»!the")), max_size=30)


@settings(max_examples=200, deadline=None)
@given(golds=st.lists(_text, max_size=3), pred=_text)
def test_em_at_most_f1_and_both_in_range(golds, pred):
    for normalizer in (M.normalize_answer, M.normalize_answer_pt):
        em, f1 = M.score_answer(golds, pred, normalizer)
        assert 0 <= em <= f1 <= 1
        out = M.squad_v2_eval({"q": golds}, {"q": pred}, normalizer=normalizer)
        assert 0.0 <= out["exact"] <= out["f1"] <= 100.0


@settings(max_examples=200, deadline=None)
@given(golds=st.lists(_text, min_size=1, max_size=3), pick=st.integers(min_value=0, max_value=2))
def test_prediction_equal_to_a_gold_scores_100(golds, pick):
    pred = golds[pick % len(golds)]
    if not M.normalize_answer(pred):  # a gold normalising to "" is dropped by the v2.0 rule
        return
    out = M.squad_v2_eval({"q": golds}, {"q": pred})
    assert out["exact"] == 100.0 and out["f1"] == 100.0


# -- Portuguese normaliser -----------------------------------------------------------------------------------


def test_portuguese_articles_and_quotes():
    assert M.compute_exact("Brasil", "O Brasil") == 0
    assert M.compute_exact("Brasil", "O Brasil", M.normalize_answer_pt) == 1
    assert M.compute_exact("prompt", "«prompt»") == 0
    assert M.compute_exact("prompt", "«prompt»", M.normalize_answer_pt) == 1
    assert M.normalize_answer_pt("“Uma rede” — as camadas…") == "rede camadas"
    assert M.normalize_answer_pt("Atenção") == "atenção"
    assert M.normalize_answer_pt("Atenção", fold=True) == "atencao"
    assert M.get_normalizer("pt-v1-fold")("Ótimo") == "otimo"


def test_unknown_normalizer_is_a_clear_error():
    from promptkit.errors import NotFoundError

    with pytest.raises(NotFoundError, match="did you mean 'pt-v1'"):
        M.get_normalizer("pt-v2")


# -- abstentions ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "sem resposta",
        "Sem resposta.",
        "SEM RESPOSTA",
        "Não há resposta.",
        "nao ha resposta no contexto",
        "Não sei",
        "unanswerable",
        "Unanswerable.",
        "No answer",
        "Não é possível responder.",
        "Não é possível responder com base no contexto fornecido.",
        "não é possível responder…",
        "I don't know.",
        "",
        "   ",
    ],
)
def test_abstentions_map_to_empty(text):
    assert M.map_abstention(text) == ""


@pytest.mark.parametrize("text", ["1943", "Não", "sem", "Resposta: 57", "no", "redes sem fio"])
def test_real_answers_are_kept(text):
    assert M.map_abstention(text) == text


def test_extra_abstention_phrase():
    assert M.is_abstention("fora do escopo", ["Fora do escopo"])
    assert not M.is_abstention("fora do escopo")


def test_abstention_scores_noans_correctly():
    out = M.squad_v2_eval({"q": []}, {"q": M.map_abstention("Sem resposta.")})
    assert out["NoAns_exact"] == 100.0
    assert M.squad_v2_eval({"q": []}, {"q": "Sem resposta."})["NoAns_exact"] == 0.0


# -- bootstrap -----------------------------------------------------------------------------------------------


def test_bootstrap_is_deterministic_and_brackets_the_mean():
    values = [1, 0, 1, 1, 0, 1, 0, 1, 1, 1]
    a = M.bootstrap_ci(values, resamples=500, seed=7)
    b = M.bootstrap_ci(values, resamples=500, seed=7)
    c = M.bootstrap_ci(values, resamples=500, seed=8)
    assert a == b
    assert a != c
    assert a["low"] <= a["mean"] == 70.0 <= a["high"]
    assert 0.0 <= a["low"] and a["high"] <= 100.0


def test_paired_bootstrap_difference():
    a = [0, 0, 0, 1, 1, 1, 0, 1]
    b = [1, 1, 0, 1, 1, 1, 1, 1]
    d = M.paired_bootstrap(a, b, resamples=500, seed=0)
    assert d == M.paired_bootstrap(a, b, resamples=500, seed=0)
    assert d["delta"] == pytest.approx(37.5)
    assert 0.0 <= d["low"] <= d["delta"] <= d["high"]
    same = M.paired_bootstrap(a, a, resamples=100)
    assert same["delta"] == same["low"] == same["high"] == 0.0
    with pytest.raises(ValueError):
        M.paired_bootstrap([1], [1, 0])
