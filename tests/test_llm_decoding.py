"""The decoder: batched greedy decoding with prompt-lookup drafts and a shared-prefix cache gives exactly the
tokens of ``generate``'s one-token greedy decoding, row by row (a small random Qwen2 in float32); sampling, stop
reasons and deadlines; and the chat model on top of it."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from tiny_qwen_support import (  # noqa: E402
    EOS,
    PAD,
    as_text,
    decode,
    reference,
    rows_sharing_passages,
    rows_with_shared_prefix,
    tiny_chat_model,
)

from promptkit.llm.decoding import PrefixStore, Sampling, decode_events, lookup_draft  # noqa: E402


@pytest.fixture(scope="module")
def chat_model(tiny_model):
    return tiny_chat_model(tiny_model)


@pytest.mark.parametrize("draft", [0, 1, 4, 8])
@pytest.mark.parametrize("prefix", [False, True])
def test_same_tokens_as_one_token_greedy_decoding(tiny_model, draft, prefix):
    rows = rows_with_shared_prefix(seed=draft + 10 * prefix, count=5)
    expected = [reference(tiny_model, r, 20) for r in rows]
    got = decode(tiny_model, rows, 20, prefixes=PrefixStore() if prefix else None, draft=draft)
    assert got == expected


def test_drafts_accepted_shorten_the_decoding(tiny_model):
    rows = rows_with_shared_prefix(seed=3, count=4)
    plain: dict[str, int] = {}
    drafted: dict[str, int] = {}
    a = decode(tiny_model, rows, 24, draft=0, stats=plain)
    b = decode(tiny_model, rows, 24, draft=6, stats=drafted)
    assert a == b
    assert plain["accepted"] == 0
    # every step yields one token of its own plus the drafts accepted, so steps fall by what was accepted
    assert drafted["accepted"] > 0
    assert drafted["steps"] < plain["steps"]


def test_stop_callback_and_max_new_tokens_end_each_row(tiny_model):
    rows = rows_with_shared_prefix(seed=7, count=3)
    full = [reference(tiny_model, r, 12) for r in rows]
    short = decode(tiny_model, rows, 5, draft=4)
    stopped = decode(tiny_model, rows, 12, draft=4, stopped=lambda generated: len(generated) >= 2)
    assert short == [f[:5] for f in full]
    assert stopped == [f[:2] for f in full]


def test_lookup_draft_follows_the_latest_longest_match():
    seq = [5, 6, 7, 8, 9, 5, 6, 7, 2, 3, 6, 7]
    # last 2-gram (6, 7) most recently appeared before "2, 3"; the 3-gram (3, 6, 7) never did
    assert lookup_draft(seq, 3) == [2, 3, 6]
    assert lookup_draft(seq, 1) == [2]
    assert lookup_draft([1, 2, 3], 4) == []
    assert lookup_draft([4], 2) == []


def test_the_repetition_penalty_of_the_generation_config_matches_generate(tiny_model):
    rows = rows_with_shared_prefix(seed=5, count=3)
    expected = [reference(tiny_model, r, 12, repetition_penalty=1.3) for r in rows]
    got = decode(tiny_model, rows, 12, draft=8, sampling=Sampling(repetition_penalty=1.3))
    assert got == expected
    assert got != [reference(tiny_model, r, 12) for r in rows]  # the penalty changed some answer


def test_the_cache_only_keeps_slots_some_row_accepted(tiny_model, monkeypatch):
    from transformers import DynamicCache

    lengths = []
    real = DynamicCache.crop

    def spy(self, n):
        lengths.append(n)
        return real(self, n)

    monkeypatch.setattr(DynamicCache, "crop", spy)
    rows = rows_with_shared_prefix(seed=17, count=4)
    got = decode(tiny_model, rows, 24, draft=8)
    assert got == [reference(tiny_model, r, 24) for r in rows]
    assert lengths and all(n < 0 for n in lengths)  # unused trailing draft slots were dropped


# -- steps, finish reasons, sampling, deadlines ---------------------------------------------------------------


def events(tiny_model, rows, max_new, **options):
    with torch.inference_mode():
        return list(decode_events(tiny_model, rows, max_new_tokens=max_new, pad_id=PAD, eos_ids=[EOS], **options))


def test_steps_add_up_to_the_answers_and_end_with_a_reason(tiny_model):
    rows = rows_with_shared_prefix(seed=61, count=5)
    steps = events(tiny_model, rows, 9, batch_size=2, prefixes=PrefixStore(), draft=4)
    joined: dict[int, list[int]] = {}
    reasons = {}
    for step in steps:
        assert step.row not in reasons  # nothing comes after a row's last step
        joined.setdefault(step.row, []).extend(step.tokens)
        if step.finish:
            reasons[step.row] = step.finish
    assert sorted(reasons) == list(range(5))
    assert [joined[r] for r in range(5)] == [reference(tiny_model, row, 9) for row in rows]
    for r, row in enumerate(rows):
        full = reference(tiny_model, row, 40)
        assert reasons[r] == ("length" if len(full) > 9 else "stop")
    assert len(steps) > 5  # tokens came step by step, not only at the end


def test_finished_rows_are_yielded_before_the_others_end(tiny_model):
    rows = rows_with_shared_prefix(seed=43, count=4)
    steps = events(tiny_model, rows, 12, batch_size=4, draft=0,
                   stopped=lambda generated: len(generated) >= (2 if generated[0] % 2 else 12))
    order = [s.row for s in steps if s.finish]
    firsts = [reference(tiny_model, row, 1)[0] for row in rows]
    quick = {r for r, f in enumerate(firsts) if f % 2}
    assert 0 < len(quick) < 4  # some rows stop after 2 tokens, the others run to 12
    assert set(order[: len(quick)]) == quick  # and they came out first


def test_sampling_is_reproducible_and_independent_of_the_batch(tiny_model):
    rows = rows_with_shared_prefix(seed=71, count=4)
    sampling = Sampling(temperature=1.5, seed=3)
    together = decode(tiny_model, rows, 10, batch_size=4, sampling=sampling)
    alone = [decode(tiny_model, [row], 10, sampling=sampling)[0] for row in rows]
    assert together == alone
    assert decode(tiny_model, rows, 10, batch_size=4, sampling=sampling) == together
    assert decode(tiny_model, rows, 10, batch_size=4, sampling=Sampling(temperature=1.5, seed=4)) != together
    assert together != decode(tiny_model, rows, 10, batch_size=4)  # not greedy


def test_a_tiny_top_p_keeps_only_the_most_likely_token(tiny_model):
    rows = rows_with_shared_prefix(seed=73, count=3)
    assert decode(tiny_model, rows, 8, sampling=Sampling(temperature=1.0, top_p=1e-6, seed=1)) == \
        decode(tiny_model, rows, 8, draft=0)


def test_a_passed_deadline_stops_the_generation(tiny_model):
    import time

    from promptkit.errors import GenerationTimeout

    rows = rows_with_shared_prefix(seed=79, count=2)
    with pytest.raises(GenerationTimeout, match="timeout"):
        decode(tiny_model, rows, 20, deadline=time.monotonic() - 1)


# -- the chat model -------------------------------------------------------------------------------------------

def test_the_chat_model_generates_through_the_decoder(chat_model, monkeypatch):
    import promptkit.llm.decoding as decoding

    prompts = [as_text(row) for row in rows_with_shared_prefix(seed=11, count=6)]
    calls = []
    real = decoding.decode_events
    monkeypatch.setattr(decoding, "decode_events", lambda *a, **k: calls.append(k) or real(*a, **k))
    drafted = chat_model.complete(prompts, max_new_tokens=10)
    assert len(calls) == 1  # all six prompts in one run of batches of 4
    assert calls[0]["draft"] == 8 and calls[0]["prefixes"] is not None and calls[0]["batch_size"] == 4
    plain = chat_model.model_copy(update={"draft_tokens": 0, "prefix_cache": False}).attach(chat_model.backend)
    assert plain.complete(prompts, max_new_tokens=10) == drafted
    assert calls[1]["draft"] == 0 and calls[1]["prefixes"] is None


def test_stream_invoke_and_batch_give_the_same_text(chat_model):
    prompts = [as_text(row) for row in rows_with_shared_prefix(seed=83, count=5)]
    batched = [m.content for m in chat_model.batch(prompts, max_new_tokens=12)]
    for prompt, text in zip(prompts, batched, strict=True):
        pieces = [c.content for c in chat_model.stream(prompt, max_new_tokens=12)]
        assert "".join(pieces) == text
        assert chat_model.invoke(prompt, max_new_tokens=12).content == text
    assert any(batched)


def test_answers_are_recorded_once_and_replayed_strictly(chat_model, tmp_path):
    from promptkit.cache import ReplayCache
    from promptkit.errors import CacheMissError

    prompts = [as_text(row) for row in rows_with_shared_prefix(seed=47, count=9)]
    cache = ReplayCache(tmp_path / "replay.sqlite")
    cached = chat_model.model_copy(update={"cache": cache}).attach(chat_model.backend)
    answers = [m.content for m in cached.batch(prompts, max_new_tokens=8)]
    assert cache.misses == 9 and cache.hits == 0 and len(cache) == 9
    strict = ReplayCache(tmp_path / "replay.sqlite", mode="strict")
    again = cached.model_copy(update={"cache": strict}).attach(chat_model.backend)
    assert [m.content for m in again.batch(prompts, max_new_tokens=8)] == answers
    assert "".join(c.content for c in again.stream(prompts[0], max_new_tokens=8)) == answers[0]
    assert strict.hits == 10 and strict.misses == 0
    with pytest.raises(CacheMissError):
        again.invoke(prompts[0], max_new_tokens=9)  # another setting is another request
