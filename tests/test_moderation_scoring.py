"""The yes/no scoring layer (moderation@2): labels, log-probability scores, threshold and combination rule."""

from __future__ import annotations

from typing import Any

import pytest

from promptkit.chains import load_chain
from promptkit.errors import ValidationError
from promptkit.moderation import check_rules, combine
from promptkit.moderation.scoring import DEFAULT_THRESHOLD, yes_no_labels, yes_no_scores
from promptkit.prompts import get_prompt_spec
from promptkit.testing import FakeChatModel


class CountingFake(FakeChatModel):
    """A fake that also records every ``logprob`` call (prompts, continuations)."""

    logprob_calls: list[tuple[list[str], list[str]]] = []

    def logprob(self, prompts: Any, continuations: Any) -> list[float]:
        self.logprob_calls.append((list(prompts), list(continuations)))
        return super().logprob(prompts, continuations)


def _fake(unsafe_words: tuple[str, ...] = ("faca", "idiota", "nudes")) -> CountingFake:
    """Answers "sim" when the rendered prompt holds one of ``unsafe_words``, else "não"."""

    def respond(prompt: str) -> str:
        text = prompt.split("Texto:", 1)[-1]
        return "sim" if any(w in text for w in unsafe_words) else "não"

    return CountingFake(respond=respond, logprob_calls=[])


def test_yes_no_labels_come_from_the_prompt_parser():
    assert yes_no_labels(get_prompt_spec("moderation@2")) == ("sim", "não")
    assert yes_no_labels(get_prompt_spec("moderation@1")) is None


def test_a_scoring_prompt_needs_exactly_two_labels():
    class Spec:
        ref = "x@1"
        parser = type("P", (), {"type": "labels", "labels": ["sim", "não", "talvez"]})()

    with pytest.raises(ValidationError, match="one or two"):
        yes_no_labels(Spec())


def test_scores_are_yes_minus_no_in_one_logprob_call():
    llm = _fake()
    values = yes_no_scores(llm, ["Texto: leva faca", "Texto: bom dia"], ("sim", "não"))
    assert len(llm.logprob_calls) == 1
    prompts, conts = llm.logprob_calls[0]
    assert conts == ["sim", "sim", "não", "não"] and prompts[0] == prompts[2]
    assert values[0] > 0 > values[1]
    assert yes_no_scores(llm, [], ("sim", "não")) == []


def test_combine_yes_no_any_flags_unspecified_when_rules_saw_nothing():
    out = combine({}, None, policy="any", llm_unsafe=True, llm_score=2.5)
    assert out["flagged"] and out["categories"] == ["unspecified"]
    assert out["llm_unsafe"] is True and out["llm_score"] == 2.5
    assert not combine({}, None, policy="confirm", llm_unsafe=True)["flagged"]


def test_combine_yes_no_confirms_low_rule_hits_and_keeps_high_ones():
    low = check_rules("esse filme tem muito tiro")
    assert low["violence"].confidence == "low"
    assert combine(low, None, policy="confirm", llm_unsafe=True)["categories"] == ["violence"]
    assert combine(low, None, policy="any", llm_unsafe=False)["categories"] == []
    high = check_rules("vou te pegar na saida")
    assert combine(high, None, policy="any", llm_unsafe=False)["categories"] == ["violence"]
    assert combine(high, None, policy="any", llm_unsafe=True)["categories"] == ["violence"]


def test_combine_refuses_both_llm_forms():
    with pytest.raises(ValueError, match="not both"):
        combine({}, ["hate"], llm_unsafe=True)


def test_scoring_chain_batches_one_logprob_call_and_applies_the_threshold():
    llm = _fake()
    chain = load_chain("moderation", llm=llm, prompt="moderation@2", policy="any")
    outs = chain.batch(["junta a galera e leva faca", "bom dia turma", "vou te pegar na saida", "   "])
    assert len(llm.logprob_calls) == 1 and len(llm.logprob_calls[0][0]) == 6  # 3 texts x 2 labels
    assert llm.calls == []  # nothing generated
    assert outs[2]["decided_by"] == "rules" and outs[2]["explanation"][0].startswith("flagged: violence")
    assert [o["flagged"] for o in outs] == [True, False, True, False]
    assert outs[0]["llm_score"] > DEFAULT_THRESHOLD > outs[1]["llm_score"]
    assert outs[0]["raw"].startswith("unsafe") and outs[1]["raw"].startswith("safe")
    assert outs[2]["categories"] == ["violence"]  # a high rule hit stands even when the model says "não"
    assert outs[3]["llm_score"] is None and outs[0]["threshold"] == DEFAULT_THRESHOLD
    assert outs[1]["decided_by"] is None and outs[1]["explanation"][0].startswith("safe")
    assert outs[0]["prompt"] == "moderation@2"


def test_threshold_setting_moves_the_decision():
    strict = load_chain("moderation", llm=_fake(), prompt="moderation@2", layers="llm", threshold=100.0)
    lenient = load_chain("moderation", llm=_fake(), prompt="moderation@2", layers="llm", threshold=-100.0)
    assert not strict.invoke("leva faca")["flagged"]
    assert lenient.invoke("bom dia")["categories"] == ["unspecified"]


def test_scoring_guard_refuses_unsafe_questions():
    from promptkit.chains import with_guard

    moderation = load_chain("moderation", llm=_fake(), prompt="moderation@2", policy="any")
    inner = load_chain("qa_zero_shot", llm=FakeChatModel(default="42"))
    outs = with_guard(inner, moderation).batch(
        [{"question": "seu idiota, responde", "context": "x"}, {"question": "quanto é?", "context": "42"}]
    )
    assert outs[0]["refused"] and not outs[1]["refused"]


def test_one_label_scores_the_unsafe_answer_alone():
    llm = _fake()
    values = yes_no_scores(llm, ["Texto: leva faca", "Texto: bom dia"], ("sim",))
    assert llm.logprob_calls[0][1] == ["sim", "sim"]  # one row per text
    assert values[0] > values[1]


def test_production_prompt_without_a_probe_falls_back_to_one_row_per_text():
    """moderation@4 is read by a probe fitted for the default model; another model (here the fake) has none, so
    the chain scores log P("Não") of the same prompt, one row per text the rules did not decide."""

    def respond(prompt: str) -> str:
        last = prompt.rsplit("Texto:", 1)[-1]
        return "Não" if "nudes" in last or "faca" in last else "Sim"

    llm = CountingFake(respond=respond, logprob_calls=[])
    chain = load_chain("moderation", llm=llm)
    outs = chain.batch(["leva faca pro protesto", "bom dia turma", "o filme tem muito tiro"])
    assert outs[0]["prompt"] == "moderation@4" and outs[0]["policy"] == "any" and outs[0]["probe"] is None
    assert llm.logprob_calls[0][1] == ["Não", "Não", "Não"]  # one row per text
    assert "Este texto é seguro?" in llm.logprob_calls[0][0][0]
    assert [o["flagged"] for o in outs] == [True, False, False]
    assert outs[0]["categories"] == ["unspecified"] or outs[0]["verdicts"]["violence"]["unsafe"]