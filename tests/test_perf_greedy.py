"""Batched greedy decoding with prompt-lookup drafts and a shared-prefix cache gives exactly the tokens of
``generate``'s one-token greedy decoding, row by row (a small random Qwen2 in float32, built offline)."""

from __future__ import annotations

import random

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from promptkit.models.greedy import (  # noqa: E402
    PrefixStore,
    common_prefix,
    greedy_batch,
    lookup_draft,
    plain_greedy,
    prefix_groups,
)

PAD, EOS = 0, 1


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    config = transformers.Qwen2Config(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                                      pad_token_id=PAD, eos_token_id=EOS, bos_token_id=EOS)
    m = transformers.Qwen2ForCausalLM(config).eval()
    m.generation_config.pad_token_id = PAD
    return m


def rows_with_shared_prefix(seed: int, count: int) -> list[list[int]]:
    rng = random.Random(seed)
    prefix = [rng.randrange(2, 64) for _ in range(24)]
    rows = []
    for _ in range(count):
        own = [rng.randrange(2, 64) for _ in range(rng.randrange(3, 30))]
        # repeat a piece of the row so that prompt-lookup drafts have something to propose
        rows.append(prefix + own + own[: rng.randrange(0, len(own))])
    return rows


def rows_sharing_passages(seed: int, sizes: list[int]) -> list[list[int]]:
    """Rows of RAG-like prompts: one shared prefix, then a passage shared by ``sizes[g]`` rows, then a question."""
    rng = random.Random(seed)
    prefix = [rng.randrange(2, 64) for _ in range(20)]
    rows = []
    for size in sizes:
        passage = [rng.randrange(2, 64) for _ in range(rng.randrange(34, 60))]
        for _ in range(size):
            question = [rng.randrange(2, 64) for _ in range(rng.randrange(1, 12))]
            rows.append(prefix + passage + question + passage[:4])
    rng.shuffle(rows)
    return rows


def decode(model, rows: list[list[int]], max_new: int, **options) -> list[list[int]]:
    """``greedy_batch`` with the small model's padding and EOS ids."""
    with torch.inference_mode():
        return greedy_batch(model, rows, max_new_tokens=max_new, pad_id=PAD, eos_ids=[EOS], **options)


def reference(model, row: list[int], max_new: int) -> list[int]:
    with torch.inference_mode():
        out = model.generate(input_ids=torch.tensor([row]), attention_mask=torch.ones(1, len(row), dtype=torch.long),
                             max_new_tokens=max_new, do_sample=False, eos_token_id=EOS, pad_token_id=PAD)
    new = out[0, len(row):].tolist()
    return new[: new.index(EOS)] if EOS in new else new


@pytest.mark.parametrize("draft", [0, 1, 4, 8])
@pytest.mark.parametrize("prefix", [False, True])
def test_same_tokens_as_one_token_greedy_decoding(model, draft, prefix):
    rows = rows_with_shared_prefix(seed=draft + 10 * prefix, count=5)
    expected = [reference(model, r, 20) for r in rows]
    got = decode(model, rows, 20, prefixes=PrefixStore() if prefix else None, draft=draft)
    assert got == expected


def test_drafts_accepted_shorten_the_decoding(model):
    rows = rows_with_shared_prefix(seed=3, count=4)
    plain: dict[str, int] = {}
    drafted: dict[str, int] = {}
    a = decode(model, rows, 24, draft=0, stats=plain)
    b = decode(model, rows, 24, draft=6, stats=drafted)
    assert a == b
    assert plain["accepted"] == 0
    # every step yields one token of its own plus the drafts accepted, so steps fall by what was accepted
    assert drafted["accepted"] > 0
    assert drafted["steps"] < plain["steps"]


def test_the_prefix_store_reuses_a_prefix_across_batches(model):
    store = PrefixStore()
    rows = rows_with_shared_prefix(seed=5, count=6)
    first = decode(model, rows[:3], 8, prefixes=store)
    assert len(store._items) == 1
    second = decode(model, rows[3:], 8, prefixes=store)
    assert len(store._items) == 1  # the second batch found the first one's prefix
    assert first + second == [reference(model, r, 8) for r in rows]


def test_stop_callback_and_max_new_tokens_end_each_row(model):
    rows = rows_with_shared_prefix(seed=7, count=3)
    full = [reference(model, r, 12) for r in rows]
    short = decode(model, rows, 5, draft=4)
    stopped = decode(model, rows, 12, draft=4, stopped=lambda generated: len(generated) >= 2)
    assert short == [f[:5] for f in full]
    assert stopped == [f[:2] for f in full]


def test_lookup_draft_follows_the_latest_longest_match():
    seq = [5, 6, 7, 8, 9, 5, 6, 7, 2, 3, 6, 7]
    # last 2-gram (6, 7) most recently appeared before "2, 3"; the 3-gram (3, 6, 7) never did
    assert lookup_draft(seq, 3) == [2, 3, 6]
    assert lookup_draft(seq, 1) == [2]
    assert lookup_draft([1, 2, 3], 4) == []
    assert lookup_draft([4], 2) == []


def test_common_prefix_leaves_every_row_a_token():
    assert common_prefix([[1, 2, 3], [1, 2, 4]]) == 2
    assert common_prefix([[1, 2], [1, 2, 3]]) == 1
    assert common_prefix([[9, 2], [1, 2]]) == 0


def test_generation_configs_with_logits_processors_are_not_plain(model):
    assert plain_greedy(model)
    config = model.generation_config
    config.repetition_penalty = 1.1
    try:
        assert not plain_greedy(model)
    finally:
        config.repetition_penalty = 1.0


@pytest.fixture(scope="module")
def chat_model(model):
    """A LocalChatModel on the tiny Qwen2 with a word-level tokenizer built in memory."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from promptkit.models.local import Backend, LocalChatModel

    words = ["<pad>", "</s>"] + [f"w{i}" for i in range(2, 64)]
    inner = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="w2"))
    inner.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(tokenizer_object=inner, pad_token="<pad>", eos_token="</s>")
    tok.padding_side = "left"
    backend = Backend(model=model, tokenizer=tok, dtype="fp32", int8=False, context_window=512, eos_ids=[EOS])
    return LocalChatModel(model_id="tiny", path="/nonexistent/tiny", dtype="fp32", batch_size=4,
                          context_window=512).attach(backend)


def test_the_chat_model_generates_greedy_answers_through_the_loop(chat_model, monkeypatch):
    import promptkit.models.local as local

    prompts = [" ".join(f"w{t}" for t in row) for row in rows_with_shared_prefix(seed=11, count=6)]
    calls = []
    real = local.greedy_batch
    monkeypatch.setattr(local, "greedy_batch", lambda *a, **k: calls.append(k) or real(*a, **k))
    drafted = chat_model.complete(prompts, max_new_tokens=10)
    assert calls and calls[0]["draft"] == 8 and calls[0]["prefixes"] is not None
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
    monkeypatch.setattr(local, "greedy_batch", refuse)
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


def test_a_lone_prompt_reuses_a_stored_prefix_but_stores_none(model):
    store = PrefixStore()
    rows = rows_with_shared_prefix(seed=13, count=3)
    alone = decode(model, rows[:1], 8, prefixes=store)
    assert len(store._items) == 0
    decode(model, rows[1:], 8, prefixes=store)
    (key,) = store._items
    again = decode(model, rows[:1], 8, prefixes=store)
    assert len(store._items) == 1 and len(key) >= 24
    assert tuple(rows[0][: len(key)]) == key  # so the second lone call could start from it
    assert alone == again == [reference(model, rows[0], 8)]


def test_the_cache_only_keeps_slots_some_row_accepted(model, monkeypatch):
    from transformers import DynamicCache

    lengths = []
    real = DynamicCache.crop

    def spy(self, n):
        lengths.append(n)
        return real(self, n)

    monkeypatch.setattr(DynamicCache, "crop", spy)
    rows = rows_with_shared_prefix(seed=17, count=4)
    got = decode(model, rows, 24, draft=8)
    assert got == [reference(model, r, 24) for r in rows]
    assert lengths and all(n < 0 for n in lengths)  # unused trailing draft slots were dropped


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
def test_rows_sharing_a_passage_decode_like_generate(model, draft, sizes):
    rows = rows_sharing_passages(seed=len(sizes) + draft, sizes=sizes)
    stats: dict[str, int] = {}
    got = decode(model, rows, 16, prefixes=PrefixStore(), draft=draft, stats=stats)
    assert got == [reference(model, r, 16) for r in rows]
    if len(sizes) == 1:  # one passage for all rows: it is part of the batch's common prefix already
        assert stats["group_tokens_saved"] == 0
    else:  # each shared passage was prefilled once for its rows
        assert stats["group_tokens_saved"] >= 34 * sum(size - 1 for size in sizes)


def test_grouped_prefill_builds_on_a_stored_prefix(model):
    store = PrefixStore()
    rows = rows_sharing_passages(seed=21, sizes=[2, 2, 1])
    first = decode(model, rows[:3], 10, prefixes=store, draft=4)
    second = decode(model, rows[3:], 10, prefixes=store, draft=4)
    assert len(store._items) == 1
    assert first + second == [reference(model, r, 10) for r in rows]


def test_prompts_sharing_a_passage_are_batched_together(chat_model, monkeypatch):
    import promptkit.models.local as local

    rows = rows_sharing_passages(seed=22, sizes=[4, 4])  # longest-first would mix the passages
    prompts = [" ".join(f"w{t}" for t in row) for row in rows]
    batches = []
    real = local.greedy_batch
    monkeypatch.setattr(local, "greedy_batch", lambda m, r, **k: batches.append(r) or real(m, r, **k))
    answers = chat_model.complete(prompts, max_new_tokens=4)
    assert len(batches) == 2
    # each batch is one passage's four prompts: their common prefix reaches past the passage (34+ tokens)
    assert all(common_prefix(b) >= 20 + 34 for b in batches)
    plain = chat_model.model_copy(update={"draft_tokens": 0, "prefix_cache": False}).attach(chat_model.backend)
    assert plain.complete(prompts, max_new_tokens=4) == answers


def test_grouped_order_keeps_shared_passages_together_longest_first():
    from promptkit.models.greedy import grouped_order

    template, a, b = "T" * 50, "a" * 120, "b" * 300
    texts = [template + a + "q1", template + b + "q22", template + "short", template + a + "q333", template + b + "q4"]
    order = grouped_order(texts, min_extra=100)
    assert order == [1, 4, 3, 0, 2]  # passage b (longest), passage a, then the rest, each longest first
    assert grouped_order(["x", "yy"]) == [1, 0]
