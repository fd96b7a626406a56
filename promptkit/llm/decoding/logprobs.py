"""Log-probabilities of given continuations, through the decoder's prefill.

Scoring "sim"/"não" after a moderation prompt, or an abstention phrase against an answer after a QA prompt, asks
the same prompt twice with a short continuation each time. The prompts go through :func:`prefill` (the template's
shared prefix from the store, spans shared between rows computed once), then the continuations run after them in
one padded step whose logits are all kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from promptkit.llm.decoding.kv import cache_argument
from promptkit.llm.decoding.prefill import PrefixStore, extend, prefill


def continuation_logprobs(
    model: Any,
    prompts: Sequence[Sequence[int]],
    continuations: Sequence[Sequence[int]],
    *,
    pad_id: int,
    prefixes: PrefixStore | None = None,
) -> list[float]:
    """``sum log P(continuation token | prompt, earlier continuation tokens)`` for each pair (0.0 for an empty
    continuation)."""
    import torch

    results = [0.0] * len(prompts)
    rows = [i for i, c in enumerate(continuations) if c]
    if not rows:
        return results
    first, cache, mask = prefill(model, [prompts[i] for i in rows], pad_id=pad_id, prefixes=prefixes)
    first = torch.log_softmax(first[:, -1].float(), dim=-1)
    tails = [list(continuations[i][:-1]) for i in rows]
    width = max(len(t) for t in tails)
    rest = None
    if width:
        # rows with a one-token continuation get a single padded slot whose logits are never read
        padded = [t if t else [pad_id] for t in tails]
        logits, _ = extend(model, cache_argument(model), cache, mask, padded, pad_id, keep=max(1, width))
        rest = torch.log_softmax(logits.float(), dim=-1)
    for n, i in enumerate(rows):
        cont = list(continuations[i])
        total = float(first[n, cont[0]])
        if len(cont) > 1 and rest is not None:
            # the row's tail occupies the last len(cont) - 1 slots; slot t's logits predict continuation token t + 1
            picked = rest[n, rest.shape[1] - (len(cont) - 1) :, :].gather(-1, torch.tensor(cont[1:]).unsqueeze(-1))
            total += float(picked.sum())
        results[i] = total
    return results
