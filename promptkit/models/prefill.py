"""Prefilling prompts that share a start: the shared-prefix key/value store and passage groups.

A batch of prompts built from one template shares its first 100+ tokens (system prompt and instructions): their
key/value states are computed once and kept (:class:`PrefixStore`), and each batch prefills only its rows' own
suffixes. Rows that share more than that (prompts over the same retrieved passage) prefill those shared tokens
once too (:func:`prefix_groups`); :func:`grouped_order` sorts prompts so that such rows meet in a batch.

Rows keep different lengths in one cache: a row's padding (between its shared parts and its own tokens) stays in
the cache with attention mask 0, and position ids count only the unmasked tokens.
"""

from __future__ import annotations

import copy
import inspect
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

MIN_PREFIX = 16  # shorter shared prefixes are not worth a separate forward pass
MIN_GROUP = 32  # rows of a batch sharing at least this many more tokens (e.g. one retrieved passage) share them too
GROUP_CHARS = 100  # the same, in characters of text, for putting such prompts into one batch (grouped_order)


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


def _shared_length(a: Sequence[Any], b: Sequence[Any]) -> int:
    """How many leading items (tokens or characters) ``a`` and ``b`` have in common."""
    n, limit = 0, min(len(a), len(b))
    while n < limit and a[n] == b[n]:
        n += 1
    return n


def _runs(seqs: Sequence[Sequence[Any]], order: list[int], threshold: int) -> list[tuple[list[int], int]]:
    """Split ``order`` (indices of ``seqs`` in lexicographic order) into runs whose neighbours share at least
    ``threshold`` leading items: ``[(indices, shortest shared length between neighbours)]``, 0 for a run of one."""
    runs: list[tuple[list[int], int]] = []
    for i in order:
        n = _shared_length(seqs[runs[-1][0][-1]], seqs[i]) if runs else 0
        if runs and n >= threshold:
            run, shortest = runs[-1]
            runs[-1] = (run + [i], n if len(run) == 1 else min(shortest, n))
        else:
            runs.append(([i], 0))
    return runs


def prefix_groups(rows: Sequence[Sequence[int]], min_len: int) -> list[tuple[list[int], int]]:
    """Rows grouped by a shared token prefix of at least ``min_len`` tokens: ``[(row indices, prefix length)]``.

    Rows that share no such prefix with another row form groups of one whose "prefix" is all but their last
    token. Every row keeps at least one token after its group's prefix. An empty list when no two rows share
    ``min_len`` tokens (nothing to gain). Rows are grouped after a lexicographic sort, so a group is a run of rows
    whose neighbours share at least ``min_len`` tokens; its prefix is the shortest of those shared lengths.
    """
    runs = _runs(rows, sorted(range(len(rows)), key=lambda i: list(rows[i])), min_len)
    if all(len(run) == 1 for run, _ in runs):
        return []
    return [(run, len(rows[run[0]]) - 1) if len(run) == 1 else (run, min(n, min(len(rows[i]) for i in run) - 1))
            for run, n in runs]


def grouped_order(texts: Sequence[str], min_extra: int = GROUP_CHARS) -> list[int]:
    """Indices of ``texts`` longest first, with texts that share ``min_extra`` more characters than all of them
    share kept together (at the place of their longest), so that they land in one batch."""
    count = len(texts)
    if count < 3:
        return sorted(range(count), key=lambda i: -len(texts[i]))
    lexical = sorted(range(count), key=texts.__getitem__)
    # in lexical order, the first and last texts share exactly what all texts share
    threshold = _shared_length(texts[lexical[0]], texts[lexical[-1]]) + min_extra
    clusters = [sorted(run, key=lambda i: -len(texts[i])) for run, _ in _runs(texts, lexical, threshold)]
    clusters.sort(key=lambda c: -len(texts[c[0]]))
    return [i for cluster in clusters for i in cluster]


def cache_argument(model: Any) -> str:
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
        """``(n, cache)``: the stored prefix sharing the most tokens ``n`` (at most ``wanted``) with every row, if
        ``n >= at_least``. A stored prefix longer than ``n`` serves too: the caller uses its first ``n`` tokens."""
        best: tuple[int, tuple[int, ...]] | None = None
        with self._lock:
            for key in self._items:
                n = min(wanted, len(key))
                for r in rows:
                    n = _shared_length(key[:n], r)
                if best is None or n > best[0]:
                    best = (n, key)
            if best is not None and best[0] >= at_least:
                self._items.move_to_end(best[1])
                return best[0], self._items[best[1]]
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


def prefill(
    model: Any,
    rows: Sequence[Sequence[int]],
    *,
    pad_id: int,
    prefixes: PrefixStore | None = None,
    stats: dict[str, int] | None = None,
) -> tuple[Any, Any, Any]:
    """Run the prompts ``rows`` through the model: ``(last-position logits, key/value cache, attention mask)``.

    With ``prefixes``, the rows' common prefix comes from (or goes into) the store and passage groups are
    prefilled once; ``stats["group_tokens_saved"]`` counts the tokens the groups saved.
    """
    import torch

    slot = cache_argument(model)
    batch = len(rows)
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
    if base is not None and cache.get_seq_length() > start:  # a longer stored prefix: keep the shared part
        cache.crop(start - cache.get_seq_length())
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
    return logits, cache, mask
