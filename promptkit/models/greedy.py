"""Batched greedy decoding with prompt-lookup drafts and continuous batching, over prefilled prompts.

``transformers``' ``generate`` pays three costs that dominate a set of RAG prompts on a CPU:

* every prompt is prefilled whole, although prompts of one template share their first 100+ tokens, and prompts
  over one retrieved passage share more: :mod:`promptkit.models.prefill` computes shared parts once and pads
  no row far beyond its own length;
* a batch decodes one token per forward pass until its longest answer ends, and on a CPU a decoding step costs
  about as much as reading all the weights, whatever the batch size. Extractive answers are mostly copied from the
  prompt, so each step here also proposes, per row, the tokens that followed the last matching n-gram of that
  row's prompt ("prompt lookup decoding") and verifies them in the same forward pass: a row accepts the drafted
  tokens the model itself would have chosen greedily, plus the model's next token;
* a batch runs until its longest answer ends, so its last steps carry one or two rows at the price of a full
  weight read each. Here finished rows leave, and optionally (``join``), once half of ``batch_size`` rows are
  left the next prompts are prefilled and join the running batch ("continuous batching"), so steps stay full.

``generate`` supports prompt lookup only for one prompt at a time and has no prefix reuse across calls and no
continuous batching, hence this loop. It runs only for plain greedy decoding (no sampling, no logits processors
from the generation config), where verifying drafts gives the same tokens as one-at-a-time decoding up to
floating-point rounding; callers fall back to ``generate`` otherwise (:func:`plain_greedy`).

Rows keep different lengths in one cache: padding, rejected draft slots and the slots before a row joined stay in
the cache with attention mask 0, and position ids count only the unmasked tokens.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from promptkit.models.prefill import PrefixStore, cache_argument, prefill, regroupable, stack_rows

_PROCESSOR_FIELDS = {
    "repetition_penalty": (None, 1.0),
    "encoder_repetition_penalty": (None, 1.0),
    "no_repeat_ngram_size": (None, 0),
    "bad_words_ids": (None,),
    "suppress_tokens": (None,),
    "begin_suppress_tokens": (None,),
    "forced_bos_token_id": (None,),
    "forced_eos_token_id": (None,),
    "min_length": (None, 0),
    "min_new_tokens": (None, 0),
    "sequence_bias": (None,),
}


def plain_greedy(model: Any) -> bool:
    """Whether the model's generation config adds no logits processor to greedy decoding."""
    config = getattr(model, "generation_config", None)
    if config is None:
        return True
    return all(getattr(config, field, None) in allowed for field, allowed in _PROCESSOR_FIELDS.items())


def lookup_draft(tokens: Sequence[int], size: int, max_ngram: int = 3) -> list[int]:
    """Up to ``size`` tokens that followed the most recent earlier occurrence of the sequence's last n-gram.

    Longer n-grams are tried first (``max_ngram`` down to 1); an empty list when nothing matches.
    """
    n_tokens = len(tokens)
    for n in range(min(max_ngram, n_tokens - 1), 0, -1):
        tail = list(tokens[n_tokens - n :])
        # the latest match before the tail itself: nearer text is the likelier continuation
        for start in range(n_tokens - n - 1, -1, -1):
            if list(tokens[start : start + n]) == tail:
                follow = list(tokens[start + n : start + n + size])
                if follow:
                    return follow
    return []


def greedy_stream(
    model: Any,
    rows: Sequence[Sequence[int]],
    *,
    batch_size: int,
    max_new_tokens: int,
    pad_id: int,
    eos_ids: Sequence[int],
    stopped: Callable[[list[int]], bool] | None = None,
    prefixes: PrefixStore | None = None,
    draft: int = 8,
    join: bool = True,
    stats: dict[str, int] | None = None,
) -> Iterator[tuple[int, list[int]]]:
    """Yield ``(row index, continuation)`` as each row of ``rows`` finishes (token ids, EOS excluded).

    At most ``batch_size`` rows decode at once; rows are admitted in the given order, ``batch_size`` at first and
    then, with ``join``, in groups whenever no more than half of ``batch_size`` rows are still running (without,
    whenever the batch has finished). ``stopped(generated)`` ends a row early (e.g. once its text holds a stop
    string); ``prefixes`` enables the shared-prefix cache and the prefix-tree prefill; ``draft`` is the number of
    prompt-lookup tokens proposed per row and step (0: plain one-token steps). ``stats``, when given, receives the
    number of decoding steps (``steps``, prefills not counted), of drafted tokens accepted (``accepted``), of
    prefills (``prefills``) and of prompt tokens the shared spans saved (``group_tokens_saved``).
    """
    import torch

    slot = cache_argument(model)
    eos = set(eos_ids)
    stats = stats if stats is not None else {}
    for key in ("steps", "accepted", "prefills", "group_tokens_saved"):
        stats.setdefault(key, 0)
    waiting = deque(range(len(rows)))
    seqs: dict[int, list[int]] = {}  # prompt + accepted tokens, for drafting
    out: dict[int, list[int]] = {}
    lengths: dict[int, int] = {}  # real (unmasked) tokens per row so far = next position id
    done: set[int] = set()
    live: list[int] = []  # rows in the cache, in cache order
    cache = mask = None

    def accept(r: int, tokens: list[int]) -> None:
        for t in tokens:
            if t in eos:
                done.add(r)
                return
            out[r].append(t)
            seqs[r].append(t)
            if len(out[r]) >= max_new_tokens or (stopped is not None and stopped(out[r])):
                done.add(r)
                return

    def finish(r: int) -> tuple[int, list[int]]:
        seqs.pop(r)
        lengths.pop(r)
        return r, out.pop(r)

    def keep_running() -> None:
        """Drop finished rows from the cache."""
        nonlocal live, mask
        keep = [i for i, r in enumerate(live) if r not in done]
        if len(keep) < len(live):
            if keep:
                cache.batch_select_indices(torch.tensor(keep, dtype=torch.long))
                mask = mask[keep]
            live = [live[i] for i in keep]

    while waiting or live:
        room = batch_size - len(live)
        if waiting and (not live or (join and len(live) <= batch_size // 2 and regroupable(cache))):
            admitted = [waiting.popleft() for _ in range(min(room, len(waiting)))]
            logits, new_cache, new_mask = prefill(model, [rows[r] for r in admitted], pad_id=pad_id,
                                                  prefixes=prefixes, stats=stats)
            stats["prefills"] += 1
            for r, token in zip(admitted, logits[:, -1].argmax(-1).tolist(), strict=True):
                seqs[r], out[r], lengths[r] = list(rows[r]), [], len(rows[r])
                accept(r, [token])
            if live:  # the admitted rows join the running ones, the shorter side padded on the left
                cache, mask = stack_rows([(cache, slice(None), mask), (new_cache, slice(None), new_mask)])
            else:
                cache, mask = new_cache, new_mask
            live = live + admitted
            for r in admitted:
                if r in done:
                    yield finish(r)
            keep_running()
            continue

        drafts = []
        for r in live:
            left = max_new_tokens - len(out[r]) - 1
            drafts.append(lookup_draft(seqs[r], min(draft, left)) if draft and left > 0 else [])
        block = 1 + max(len(d) for d in drafts)
        stats["steps"] += 1
        ids = torch.full((len(live), block), pad_id, dtype=torch.long)
        block_mask = torch.zeros((len(live), block), dtype=torch.long)
        pos = torch.zeros((len(live), block), dtype=torch.long)
        for i, (r, d) in enumerate(zip(live, drafts, strict=True)):
            toks = [seqs[r][-1], *d]
            ids[i, : len(toks)] = torch.tensor(toks)
            block_mask[i, : len(toks)] = 1
            pos[i] = lengths[r] + torch.arange(block)
        mask = torch.cat([mask, block_mask], dim=1)
        logits = model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True, **{slot: cache}).logits
        preds = logits.argmax(-1).tolist()
        longest = 0
        for i, (r, d) in enumerate(zip(live, drafts, strict=True)):
            n = 0
            while n < len(d) and d[n] == preds[i][n]:
                n += 1
            # the fed token and the n accepted drafts are now real context; rejected draft slots stay masked
            mask[i, mask.shape[1] - block + 1 + n :] = 0
            lengths[r] += 1 + n
            longest = max(longest, n)
            stats["accepted"] += n
            accept(r, d[:n] + [preds[i][n]])
        unused = block - 1 - longest  # trailing slots no row accepted: drop them so the cache grows only as needed
        if unused:
            cache.crop(-unused)
            mask = mask[:, :-unused]
        for r in live:
            if r in done:
                yield finish(r)
        keep_running()


def greedy_batch(
    model: Any,
    rows: Sequence[Sequence[int]],
    *,
    max_new_tokens: int,
    pad_id: int,
    eos_ids: Sequence[int],
    batch_size: int | None = None,
    **options: Any,
) -> list[list[int]]:
    """Greedy continuations of ``rows`` in their order (see :func:`greedy_stream`; one batch unless
    ``batch_size`` is given)."""
    results: list[list[int]] = [[] for _ in rows]
    for r, tokens in greedy_stream(model, rows, batch_size=batch_size or max(1, len(rows)),
                                   max_new_tokens=max_new_tokens, pad_id=pad_id, eos_ids=eos_ids, **options):
        results[r] = tokens
    return results
