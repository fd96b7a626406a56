"""Batched greedy decoding with a reused shared-prefix KV cache and prompt-lookup drafts.

``transformers``' ``generate`` pays two costs that dominate a batch of RAG prompts on a CPU:

* every prompt is prefilled whole, although the prompts of one template share their first 100+ tokens (system
  prompt and instructions). Here the key/value states of that shared prefix are computed once and kept
  (:class:`PrefixStore`), and each batch prefills only its rows' own suffixes;
* a batch decodes one token per forward pass until its longest answer ends, and on a CPU a decoding step costs
  about as much as reading all the weights, whatever the batch size. Extractive answers are mostly copied from the
  prompt, so each step here also proposes, per row, the tokens that followed the last matching n-gram of that
  row's prompt ("prompt lookup decoding") and verifies them in the same forward pass: a row accepts the drafted
  tokens the model itself would have chosen greedily, plus the model's next token.

``generate`` supports prompt lookup only for one prompt at a time and has no prefix reuse across calls, hence this
loop. It runs only for plain greedy decoding (no sampling, no logits processors from the generation config), where
verifying drafts gives the same tokens as one-at-a-time decoding up to floating-point rounding; callers fall back
to ``generate`` otherwise (:func:`plain_greedy`).

Within a batch, rows that share more than the common prefix (prompts over the same retrieved passage) prefill
those shared tokens once too (:func:`prefix_groups`); callers sort prompts so that such rows meet in a batch.

Rows keep different lengths in one cache: a row's padding (between the shared prefix and its suffix) and its
rejected draft slots stay in the cache with attention mask 0, and position ids count only the unmasked tokens.
"""

from __future__ import annotations

import copy
import inspect
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

MIN_PREFIX = 16  # shorter shared prefixes are not worth a separate forward pass
MIN_GROUP = 32  # rows of a batch sharing at least this many more tokens (e.g. one retrieved passage) share them too
GROUP_CHARS = 100  # the same, in characters of text, for putting such prompts into one batch (grouped_order)
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


def common_prefix(rows: Sequence[Sequence[int]]) -> int:
    """Length of the longest token prefix shared by every row, leaving each row at least one token of its own."""
    if not rows:
        return 0
    limit = min(len(r) for r in rows) - 1
    first = rows[0]
    n = 0
    while n < limit and all(r[n] == first[n] for r in rows):
        n += 1
    return n


def prefix_groups(rows: Sequence[Sequence[int]], min_len: int) -> list[tuple[list[int], int]]:
    """Rows grouped by a shared token prefix of at least ``min_len`` tokens: ``[(row indices, prefix length)]``.

    Rows that share no such prefix with another row form groups of one whose "prefix" is all but their last
    token. Every row keeps at least one token after its group's prefix. An empty list when no two rows share
    ``min_len`` tokens (nothing to gain). Rows are grouped after a lexicographic sort, so a group is a run of rows
    whose neighbours share at least ``min_len`` tokens; its prefix is the shortest of those shared lengths.
    """
    order = sorted(range(len(rows)), key=lambda i: list(rows[i]))

    def shared(a: Sequence[int], b: Sequence[int]) -> int:
        n, limit = 0, min(len(a), len(b))
        while n < limit and a[n] == b[n]:
            n += 1
        return n

    runs: list[list[int]] = [[order[0]]] if order else []
    lcps: list[int] = []
    for prev, cur in zip(order, order[1:], strict=False):
        n = shared(rows[prev], rows[cur])
        if n >= min_len:
            runs[-1].append(cur)
            lcps.append(n)
        else:
            runs.append([cur])
    if all(len(run) == 1 for run in runs):
        return []
    groups: list[tuple[list[int], int]] = []
    at = 0
    for run in runs:
        if len(run) == 1:
            groups.append((run, len(rows[run[0]]) - 1))
            continue
        n = min(lcps[at : at + len(run) - 1])
        at += len(run) - 1
        groups.append((run, min(n, min(len(rows[i]) for i in run) - 1)))
    return groups


def grouped_order(texts: Sequence[str], min_extra: int = GROUP_CHARS) -> list[int]:
    """Indices of ``texts`` longest first, with texts that share ``min_extra`` more characters than all of them
    share kept together (at the place of their longest), so that they land in one batch."""
    count = len(texts)
    lexical = sorted(range(count), key=texts.__getitem__)
    if count < 3:
        return sorted(range(count), key=lambda i: -len(texts[i]))

    def shared(a: str, b: str) -> int:
        n, limit = 0, min(len(a), len(b))
        while n < limit and a[n] == b[n]:
            n += 1
        return n

    # in lexical order, the first and last texts share exactly what all texts share
    threshold = shared(texts[lexical[0]], texts[lexical[-1]]) + min_extra
    clusters: list[list[int]] = [[lexical[0]]]
    for prev, cur in zip(lexical, lexical[1:], strict=False):
        if shared(texts[prev], texts[cur]) >= threshold:
            clusters[-1].append(cur)
        else:
            clusters.append([cur])
    for cluster in clusters:
        cluster.sort(key=lambda i: -len(texts[i]))
    clusters.sort(key=lambda c: -len(texts[c[0]]))
    return [i for cluster in clusters for i in cluster]


def _prefill_grouped(
    model: Any,
    slot: str,
    cache: Any,
    start: int,
    suffixes: list[list[int]],
    groups: list[tuple[list[int], int]],
    pad_id: int,
) -> tuple[Any, Any]:
    """Prefill in two passes: each group's shared tokens once, then each row's own tokens on a copy of them.

    Layout of a row: [shared prefix (``start`` tokens, cached)] [padding] [group tokens] [padding] [own tokens];
    padding is masked out and position ids count only unmasked tokens. Returns the last logits and the mask.
    """
    import torch

    heads = [suffixes[run[0]][:n] for run, n in groups]
    width = max(len(h) for h in heads)
    if start:
        cache.batch_repeat_interleave(len(groups))
    ids = torch.tensor([[pad_id] * (width - len(h)) + h for h in heads])
    mask = torch.tensor([[1] * start + [0] * (width - len(h)) + [1] * len(h) for h in heads])
    positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, start:]
    model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1,
          **{slot: cache})

    owner = [0] * len(suffixes)
    cut = [0] * len(suffixes)
    for g, (run, n) in enumerate(groups):
        for r in run:
            owner[r], cut[r] = g, n
    index = torch.tensor(owner, dtype=torch.long)
    cache.batch_select_indices(index)
    tails = [s[c:] for s, c in zip(suffixes, cut, strict=True)]
    width = max(len(t) for t in tails)
    ids = torch.tensor([[pad_id] * (width - len(t)) + t for t in tails])
    tail_mask = torch.tensor([[0] * (width - len(t)) + [1] * len(t) for t in tails])
    mask = torch.cat([mask[index], tail_mask], dim=1)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, -width:]
    logits = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1,
                   **{slot: cache}).logits
    return logits, mask


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


def _cache_argument(model: Any) -> str:
    """The forward argument that takes the key/value cache (``cache`` in recent transformers, else the old name)."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _new_cache(model: Any) -> Any:
    from transformers import DynamicCache

    try:
        return DynamicCache(config=model.config)
    except TypeError:  # older transformers
        return DynamicCache()


class PrefixStore:
    """The last few shared prefixes' key/value caches (batch 1), per model."""

    def __init__(self, size: int = 4):
        self.size = size
        self._items: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        self._lock = threading.Lock()

    def find(self, rows: Sequence[Sequence[int]], wanted: int, at_least: int) -> tuple[int, Any] | None:
        """The longest stored prefix (at most ``wanted`` tokens) shared by every row, if ``at_least`` long."""
        best: tuple[int, Any] | None = None
        with self._lock:
            for key, cache in self._items.items():
                n = len(key)
                if n <= wanted and (best is None or n > best[0]) and all(tuple(r[:n]) == key for r in rows):
                    best = (n, cache)
            if best is not None and best[0] >= at_least:
                self._items.move_to_end(tuple(rows[0][: best[0]]))
                return best
        return None

    def put(self, key: tuple[int, ...], cache: Any) -> None:
        with self._lock:
            self._items[key] = cache
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def greedy_batch(
    model: Any,
    rows: Sequence[Sequence[int]],
    *,
    max_new_tokens: int,
    pad_id: int,
    eos_ids: Sequence[int],
    stopped: Callable[[list[int]], bool] | None = None,
    prefixes: PrefixStore | None = None,
    draft: int = 8,
    stats: dict[str, int] | None = None,
) -> list[list[int]]:
    """Greedy continuations (token ids, EOS excluded) of ``rows``, each at most ``max_new_tokens`` long.

    ``stopped(generated)`` ends a row early (e.g. once its text holds a stop string); ``prefixes`` enables the
    shared-prefix cache; ``draft`` is the number of prompt-lookup tokens proposed per row and step (0: plain
    one-token steps). ``stats``, when given, receives the number of decoding steps (``steps``, the prefill not
    counted), of drafted tokens accepted (``accepted``) and of prompt tokens not prefilled because rows of the
    batch shared them beyond the common prefix (``group_tokens_saved``, see :func:`prefix_groups`).
    """
    import torch

    slot = _cache_argument(model)
    batch = len(rows)
    eos = set(eos_ids)
    if stats is not None:
        stats.setdefault("steps", 0)
        stats.setdefault("accepted", 0)
    shared = common_prefix(rows) if prefixes is not None else 0
    start = 0
    base = None
    if shared >= MIN_PREFIX and prefixes is not None:
        # a batch computes its own prefix unless a stored one is nearly as long; a lone prompt's common prefix is
        # the prompt itself, so it only reuses stored prefixes and stores none
        at_least = max(MIN_PREFIX, shared - 32) if batch > 1 else MIN_PREFIX
        found = prefixes.find(rows, shared, at_least)
        if found is None and batch > 1:
            key = tuple(rows[0][:shared])
            base = _new_cache(model)
            model(input_ids=torch.tensor([list(key)]), use_cache=True, logits_to_keep=1, **{slot: base})
            prefixes.put(key, base)
            start = shared
        elif found is not None:
            start, base = found
    cache = copy.deepcopy(base) if base is not None else _new_cache(model)
    suffixes = [list(r[start:]) for r in rows]
    groups = prefix_groups(suffixes, MIN_GROUP) if prefixes is not None else []
    if stats is not None:
        stats.setdefault("group_tokens_saved", 0)
        stats["group_tokens_saved"] += sum((len(g) - 1) * n for g, n in groups)
    if groups:
        logits, mask = _prefill_grouped(model, slot, cache, start, suffixes, groups, pad_id)
    else:
        # [shared prefix (cached)] [padding] [suffix], padding masked out
        if base is not None and batch > 1:
            cache.batch_repeat_interleave(batch)
        width = max(len(s) for s in suffixes)
        ids = torch.tensor([[pad_id] * (width - len(s)) + s for s in suffixes])
        mask = torch.tensor([[1] * start + [0] * (width - len(s)) + [1] * len(s) for s in suffixes])
        positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, start:]
        logits = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                       logits_to_keep=1, **{slot: cache}).logits
    nxt = logits[:, -1].argmax(-1).tolist()

    seqs = [list(r) for r in rows]  # prompt + accepted tokens, for drafting
    out: list[list[int]] = [[] for _ in rows]
    done = [False] * batch
    lengths = [len(r) for r in rows]  # real (unmasked) tokens per row so far = next position id

    def accept(r: int, tokens: list[int]) -> None:
        for t in tokens:
            if t in eos:
                done[r] = True
                return
            out[r].append(t)
            seqs[r].append(t)
            if len(out[r]) >= max_new_tokens or (stopped is not None and stopped(out[r])):
                done[r] = True
                return

    for r in range(batch):
        accept(r, [nxt[r]])
    live = [r for r in range(batch) if not done[r]]
    if live and len(live) < batch:
        cache.batch_select_indices(torch.tensor(live, dtype=torch.long))
        mask = mask[live]
    while live:
        drafts = []
        for r in live:
            room = max_new_tokens - len(out[r]) - 1
            drafts.append(lookup_draft(seqs[r], min(draft, room)) if draft and room > 0 else [])
        block = 1 + max(len(d) for d in drafts)
        if stats is not None:
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
            if stats is not None:
                stats["accepted"] += n
            accept(r, d[:n] + [preds[i][n]])
        unused = block - 1 - longest  # trailing slots no row accepted: drop them so the cache grows only as needed
        if unused:
            cache.crop(-unused)
            mask = mask[:, :-unused]
        keep = [i for i, r in enumerate(live) if not done[r]]
        if not keep:
            break
        if len(keep) < len(live):
            cache.batch_select_indices(torch.tensor(keep, dtype=torch.long))
            mask = mask[keep]
            live = [live[i] for i in keep]
    return out
