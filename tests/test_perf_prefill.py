"""Prefilling prompts that share a start: the shared-prefix store, the prefix tree (shared spans once, own tokens in
length buckets) and the batch order that brings rows of one passage together; decoding after them gives
``generate``'s greedy tokens (a small random Qwen2)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from tiny_qwen_support import (  # noqa: E402
    as_text,
    decode,
    reference,
    rows_sharing_passages,
    rows_with_shared_prefix,
    tiny_chat_model,
)

from promptkit.llm.decoding.prefill import PrefixStore, common_prefix, grouped_order, prefix_groups  # noqa: E402


def test_the_prefix_store_reuses_a_prefix_across_batches(tiny_model):
    store = PrefixStore()
    rows = rows_with_shared_prefix(seed=5, count=6)
    first = decode(tiny_model, rows[:3], 8, prefixes=store)
    assert len(store._items) == 1
    second = decode(tiny_model, rows[3:], 8, prefixes=store)
    assert len(store._items) == 1  # the second batch found the first one's prefix
    assert first + second == [reference(tiny_model, r, 8) for r in rows]


def test_a_lone_prompt_reuses_a_stored_prefix_but_stores_none(tiny_model):
    store = PrefixStore()
    rows = rows_with_shared_prefix(seed=13, count=3)
    alone = decode(tiny_model, rows[:1], 8, prefixes=store)
    assert len(store._items) == 0
    decode(tiny_model, rows[1:], 8, prefixes=store)
    (key,) = store._items
    again = decode(tiny_model, rows[:1], 8, prefixes=store)
    assert len(store._items) == 1 and len(key) >= 24
    assert tuple(rows[0][: len(key)]) == key  # so the second lone call could start from it
    assert alone == again == [reference(tiny_model, rows[0], 8)]


def test_common_prefix_leaves_every_row_a_token():
    assert common_prefix([[1, 2, 3], [1, 2, 4]]) == 2
    assert common_prefix([[1, 2], [1, 2, 3]]) == 1
    assert common_prefix([[9, 2], [1, 2]]) == 0


def test_prefix_groups_gathers_rows_sharing_a_passage():
    head = list(range(2, 40))
    rows = [head + [50, 51], [9] * 5, head + [52], head + [50, 53, 54]]
    groups = prefix_groups(rows, 32)
    assert sorted((sorted(run), n) for run, n in groups) == [([0, 2, 3], 38), ([1], 4)]
    assert prefix_groups([[1] * 40 + [2], [3] * 40 + [4]], 32) == []  # nothing shared: no groups
    # two identical rows still keep a token each for the second pass
    assert prefix_groups([head, head], 32) == [([0, 1], len(head) - 1)]


@pytest.mark.parametrize("draft", [0, 8])
@pytest.mark.parametrize("sizes", [[3, 1, 2], [4], [1, 2, 1, 1]])
def test_rows_sharing_a_passage_decode_like_generate(tiny_model, draft, sizes):
    rows = rows_sharing_passages(seed=len(sizes) + draft, sizes=sizes)
    stats: dict[str, int] = {}
    got = decode(tiny_model, rows, 16, prefixes=PrefixStore(), draft=draft, stats=stats)
    assert got == [reference(tiny_model, r, 16) for r in rows]
    if len(sizes) == 1:  # one passage for all rows: it is part of the batch's common prefix already
        assert stats["group_tokens_saved"] == 0
    else:  # each shared passage was prefilled once for its rows
        assert stats["group_tokens_saved"] >= 34 * sum(size - 1 for size in sizes)


def test_grouped_prefill_builds_on_a_stored_prefix(tiny_model):
    store = PrefixStore()
    rows = rows_sharing_passages(seed=21, sizes=[2, 2, 1])
    first = decode(tiny_model, rows[:3], 10, prefixes=store, draft=4)
    second = decode(tiny_model, rows[3:], 10, prefixes=store, draft=4)
    assert len(store._items) == 1
    assert first + second == [reference(tiny_model, r, 10) for r in rows]


def test_grouped_order_keeps_shared_passages_together_longest_first():
    template, a, b = "T" * 50, "a" * 120, "b" * 300
    texts = [template + a + "q1", template + b + "q22", template + "short", template + a + "q333", template + b + "q4"]
    order = grouped_order(texts, min_extra=100)
    assert order == [1, 4, 3, 0, 2]  # passage b (longest), passage a, then the rest, each longest first
    assert grouped_order(["x", "yy"]) == [1, 0]


def test_prompts_sharing_a_passage_are_prefilled_together(tiny_model, monkeypatch):
    import promptkit.llm.decoding.loop as decoder

    chat_model = tiny_chat_model(tiny_model, batch_size=4)
    rows = rows_sharing_passages(seed=22, sizes=[4, 4])  # longest-first would mix the passages
    prompts = [as_text(row) for row in rows]
    prefilled = []
    real = decoder.prefill
    monkeypatch.setattr(decoder, "prefill", lambda m, r, **k: prefilled.append(r) or real(m, r, **k))
    answers = chat_model.complete(prompts, max_new_tokens=4)
    assert sum(len(r) for r in prefilled) == 8
    # each prefill holds one passage's prompts: their common prefix reaches past the passage (34+ tokens)
    assert all(len(r) == 1 or common_prefix(r) >= 20 + 34 for r in prefilled)
    assert len(prefilled[0]) == 4 and common_prefix(prefilled[0]) >= 20 + 34
    plain = chat_model.model_copy(update={"draft_tokens": 0, "prefix_cache": False}).attach(chat_model.backend)
    assert plain.complete(prompts, max_new_tokens=4) == answers


def test_a_longer_stored_prefix_serves_a_batch_that_shares_less_of_it(tiny_model):
    store = PrefixStore()
    rows = rows_with_shared_prefix(seed=29, count=6)
    longer = [r[:24] + [60, 61, 62] + r[24:] for r in rows[:3]]  # these share 27 tokens, the others 24
    first = decode(tiny_model, longer, 8, prefixes=store)
    (key,) = store._items
    assert len(key) == 27
    second = decode(tiny_model, rows[3:], 8, prefixes=store)
    assert list(store._items) == [key]  # served by the first 24 tokens of the stored prefix, nothing new stored
    assert first + second == [reference(tiny_model, r, 8) for r in longer + rows[3:]]


def test_length_buckets_keep_padding_small():
    from promptkit.llm.decoding.prefill import PAD_SLACK, PAD_SHARE, _buckets

    lengths = {0: 600, 1: 590, 2: 120, 3: 110, 4: 100, 5: 20}
    buckets = _buckets(lengths)
    assert sorted(r for b in buckets for r in b) == list(lengths)
    assert [0, 1] in buckets and 2 in next(b for b in buckets if 2 in b) and 0 not in next(b for b in buckets if 2 in b)
    for b in buckets:
        total = sum(lengths[r] for r in b)
        assert max(lengths[r] for r in b) * len(b) - total <= PAD_SHARE * total + PAD_SLACK
    assert _buckets({0: 5, 1: 4, 2: 3}) == [[0, 1, 2]]  # short tails: one forward pass


def _counting(model):
    """A forward that records how many input tokens each prefill pass feeds (same signature as the model's)."""
    import functools

    fed = []
    real = model.forward

    @functools.wraps(real)
    def forward(*args, **kwargs):
        if kwargs.get("logits_to_keep") == 1:  # prefill passes only
            fed.append(kwargs["input_ids"].numel())
        return real(*args, **kwargs)

    return fed, forward


def test_rows_of_very_different_lengths_are_not_padded_to_the_longest(tiny_model, monkeypatch):
    import random

    rng = random.Random(3)
    prefix = [rng.randrange(2, 64) for _ in range(20)]
    rows = [prefix + [rng.randrange(2, 64) for _ in range(n)] for n in (200, 12, 9, 14)]
    fed, forward = _counting(tiny_model)
    monkeypatch.setattr(tiny_model, "forward", forward)
    got = decode(tiny_model, rows, 6, prefixes=PrefixStore(), draft=0)
    # one padded batch would feed 4 x 200 tokens after the prefix; here the long row runs alone, the short ones
    # together (padded to 14)
    assert fed == [20, 200, 3 * 14]
    monkeypatch.undo()
    assert got == [reference(tiny_model, r, 6) for r in rows]


def test_spans_shared_inside_a_passage_group_are_prefilled_once(tiny_model, monkeypatch):
    import random

    rng = random.Random(8)
    prefix = [rng.randrange(2, 64) for _ in range(20)]
    passage = [rng.randrange(2, 64) for _ in range(40)]
    demo = [rng.randrange(2, 64) for _ in range(36)]
    rows = [prefix + passage + demo + [5, 6], prefix + passage + demo + [7, 8, 9], prefix + passage + [10, 11],
            prefix + [12] * 3]
    fed, forward = _counting(tiny_model)
    monkeypatch.setattr(tiny_model, "forward", forward)
    stats: dict[str, int] = {}
    got = decode(tiny_model, rows, 6, prefixes=PrefixStore(), draft=0, stats=stats)
    # passage once for three rows, the demonstration once more for two of them
    assert stats["group_tokens_saved"] == 2 * 40 + 36
    assert sum(fed) <= 20 + 40 + 36 + 2 + 3 + 2 + 3 + 3  # every token once (short tails may share a padded pass)
    monkeypatch.undo()
    assert got == [reference(tiny_model, r, 6) for r in rows]
