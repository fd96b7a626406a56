"""Batched greedy decoding with prompt-lookup drafts, a shared-prefix cache and continuous batching gives exactly
the tokens of ``generate``'s one-token greedy decoding, row by row (a small random Qwen2 in float32)."""

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

from promptkit.models.greedy import greedy_stream, lookup_draft, plain_greedy  # noqa: E402
from promptkit.models.prefill import PrefixStore  # noqa: E402


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


def test_generation_configs_with_logits_processors_are_not_plain(tiny_model):
    assert plain_greedy(tiny_model)
    config = tiny_model.generation_config
    config.repetition_penalty = 1.1
    try:
        assert not plain_greedy(tiny_model)
    finally:
        config.repetition_penalty = 1.0


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


# -- continuous batching --------------------------------------------------------------------------------------

def stream(tiny_model, rows, max_new, **options):
    with torch.inference_mode():
        return list(greedy_stream(tiny_model, rows, max_new_tokens=max_new, pad_id=PAD, eos_ids=[EOS], **options))


@pytest.mark.parametrize("batch_size", [1, 2, 3, 4])
@pytest.mark.parametrize("prefix", [False, True])
def test_rows_joining_a_running_batch_decode_like_generate(tiny_model, batch_size, prefix):
    rows = rows_with_shared_prefix(seed=31 + batch_size, count=9)
    stats: dict[str, int] = {}
    got = stream(tiny_model, rows, 14, batch_size=batch_size, prefixes=PrefixStore() if prefix else None, draft=4,
                 stats=stats)
    assert sorted(r for r, _ in got) == list(range(9))  # every row once
    assert dict(got) == {r: reference(tiny_model, row, 14) for r, row in enumerate(rows)}
    if batch_size >= 2:  # later rows were prefilled while others still ran, so fewer prefills than batches
        assert stats["prefills"] >= 2


def test_rows_join_once_half_the_batch_has_finished(tiny_model, monkeypatch):
    import promptkit.models.greedy as greedy

    admitted = []
    running = []
    real = greedy.prefill

    def spy(m, rows, **k):
        admitted.append(len(rows))
        return real(m, rows, **k)

    monkeypatch.setattr(greedy, "prefill", spy)
    real_join = greedy.stack_rows  # pieces: the running rows first, then the admitted ones

    def join(pieces):
        running.append(pieces[0][2].shape[0])
        return real_join(pieces)

    monkeypatch.setattr(greedy, "stack_rows", join)
    rows = rows_sharing_passages(seed=41, sizes=[3, 3, 3, 3])
    # stop rows after a varying number of tokens, so they finish at different steps
    got = stream(tiny_model, rows, 10, batch_size=4, prefixes=PrefixStore(), draft=0,
                 stopped=lambda generated: len(generated) >= 1 + generated[0] % 6)
    assert len(got) == 12
    assert admitted[0] == 4 and sum(admitted) == 12
    assert running and all(n <= 2 for n in running)  # joined only when at most half the batch was running
    assert all(n + k <= 4 for n, k in zip(running, admitted[1:], strict=False))  # never above batch_size


def test_finished_rows_are_yielded_before_the_others_end(tiny_model):
    rows = rows_with_shared_prefix(seed=43, count=4)
    order = [r for r, _ in stream(tiny_model, rows, 12, batch_size=4, draft=0,
                                  stopped=lambda generated: len(generated) >= (2 if generated[0] % 2 else 12))]
    firsts = [reference(tiny_model, row, 1)[0] for row in rows]
    quick = {r for r, f in enumerate(firsts) if f % 2}
    assert 0 < len(quick) < 4  # some rows stop after 2 tokens, the others run to 12
    assert set(order[: len(quick)]) == quick  # and they came out first


# -- the chat model -------------------------------------------------------------------------------------------

def test_the_chat_model_generates_greedy_answers_through_the_loop(chat_model, monkeypatch):
    import promptkit.models.local as local

    prompts = [as_text(row) for row in rows_with_shared_prefix(seed=11, count=6)]
    calls = []
    real = local.greedy_stream
    monkeypatch.setattr(local, "greedy_stream", lambda *a, **k: calls.append(k) or real(*a, **k))
    drafted = chat_model.complete(prompts, max_new_tokens=10)
    assert len(calls) == 1  # all six prompts in one stream of batches of 4
    assert calls[0]["draft"] == 8 and calls[0]["prefixes"] is not None and calls[0]["batch_size"] == 4
    assert calls[0]["join"] is False  # continuous batching is off by default
    calls.clear()
    plain = chat_model.model_copy(update={"draft_tokens": 0, "prefix_cache": False}).attach(chat_model.backend)
    assert plain.complete(prompts, max_new_tokens=10) == drafted
    assert calls == []  # transformers' generate did that one


def test_sampling_and_logits_processors_fall_back_to_generate(chat_model, monkeypatch):
    import promptkit.models.local as local

    def refuse(*a, **k):
        raise AssertionError("the greedy loop must not run here")

    prompts = ["w3 w4 w5 w6", "w7 w8 w9"]
    expected = chat_model.complete(prompts, max_new_tokens=6)
    monkeypatch.setattr(local, "greedy_stream", refuse)
    assert len(chat_model.complete(prompts, max_new_tokens=6, temperature=0.7)) == 2
    config = chat_model.backend.model.generation_config
    config.no_repeat_ngram_size = 2
    try:
        answers = chat_model.complete(prompts, max_new_tokens=6)
    finally:
        config.no_repeat_ngram_size = 0
    assert expected  # the greedy loop answered these before the patch
    for prompt, answer in zip(prompts, answers, strict=True):
        words = (prompt + " " + answer).split()
        pairs = list(zip(words, words[1:]))
        assert len(pairs) == len(set(pairs))  # generate applied no_repeat_ngram_size=2


def test_answers_are_stored_and_reported_as_they_finish(chat_model, tmp_path):
    from promptkit.cache import ReplayCache

    prompts = [as_text(row) for row in rows_with_shared_prefix(seed=47, count=9)]
    cache = ReplayCache(tmp_path / "replay.sqlite")
    cached = chat_model.model_copy(update={"cache": cache}).attach(chat_model.backend)
    reported: list[int] = []
    answers = cached.complete(prompts, max_new_tokens=8, progress=reported.append)
    assert sum(reported) == 9 and max(reported) <= 4  # reported batch by batch, not all at the end
    again = cached.model_copy(update={"cache": ReplayCache(tmp_path / "replay.sqlite", mode="strict")})
    assert again.attach(chat_model.backend).complete(prompts, max_new_tokens=8) == answers  # all nine stored


def test_the_chat_model_can_batch_continuously(chat_model, monkeypatch):
    import promptkit.models.greedy as greedy

    prompts = [as_text(row) for row in rows_with_shared_prefix(seed=53, count=10)]
    joins = []
    real = greedy.stack_rows
    monkeypatch.setattr(greedy, "stack_rows", lambda *a: joins.append(1) or real(*a))
    batch_by_batch = chat_model.complete(prompts, max_new_tokens=12)
    assert joins == []
    continuous = chat_model.model_copy(update={"continuous_batching": True}).attach(chat_model.backend)
    assert continuous.complete(prompts, max_new_tokens=12) == batch_by_batch
    assert joins  # rows joined running batches
