"""Prefilling prompts that share a start: the shared-prefix key/value store and the prefix tree of a batch.

A batch of prompts built from one template shares its first 100+ tokens (system prompt and instructions): their
key/value states are computed once and kept (:class:`PrefixStore`). The rest of a batch is prefilled as a prefix
tree: a span that several rows share (a retrieved passage, a demonstration) is computed once, at batch size 1,
and each row's own tokens run after a copy of its branch's cache, in buckets of similar length
(:func:`_buckets`), so that no row is padded far beyond its length: on a CPU a padded token costs as much as a
real one, and prompts with similarity-chosen demonstrations differ in length by hundreds of tokens.
:func:`grouped_order` sorts prompts so that rows sharing a passage meet in a batch.

The rows' caches are then put side by side, left-padded to one width: padding stays in the cache with attention
mask 0, and position ids count only the unmasked tokens, so every row sees the positions of an unpadded run.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from promptkit.llm.decoding.kv import (
    cache_argument,
    copy_cache,
    drop_last,
    new_cache,
    regroupable,
    repeat_rows,
    stack_rows,
)

MIN_PREFIX = 16  # shorter shared prefixes are not worth a separate forward pass
MIN_GROUP = 32  # rows of a batch sharing at least this many more tokens (e.g. one retrieved passage) share them too
# a row's own tokens run in one padded batch with others' only while the padding stays under this share of the
# bucket's tokens (plus a few tokens): padding costs as much compute as real tokens
PAD_SHARE = 0.15
PAD_SLACK = 32
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


def extend(model: Any, slot: str, cache: Any, mask: Any, tails: list[list[int]], pad_id: int,
           keep: int = 1) -> tuple[Any, Any]:
    """Run ``tails`` (one per row of ``cache``) after the cached tokens: ``(logits of the last ``keep``
    positions, attention mask)``.

    Layout of a row: [cached tokens] [padding] [its tail]; padding is masked out and position ids count only the
    unmasked tokens, so a row's tokens see the same positions as in an unpadded run.
    """
    import torch

    width = max(len(t) for t in tails)
    ids = torch.tensor([[pad_id] * (width - len(t)) + t for t in tails])
    new = torch.tensor([[0] * (width - len(t)) + [1] * len(t) for t in tails])
    mask = torch.cat([mask, new], dim=1)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, -width:]
    logits = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=keep,
                   **{slot: cache}).logits
    return logits, mask


def _buckets(lengths: dict[int, int]) -> list[list[int]]:
    """Rows (keys of ``lengths``) put into batches whose padding costs at most ``PAD_SHARE`` of their tokens (plus
    ``PAD_SLACK`` tokens): a long tail runs alone rather than padding short ones to its length."""
    order = sorted(lengths, key=lambda r: -lengths[r])
    buckets: list[list[int]] = []
    for r in order:
        if buckets:
            bucket = buckets[-1]
            total = sum(lengths[i] for i in bucket) + lengths[r]
            if lengths[bucket[0]] * (len(bucket) + 1) - total <= PAD_SHARE * total + PAD_SLACK:
                bucket.append(r)
                continue
        buckets.append([r])
    return buckets


class _Tree:
    """Prefill of one batch as a prefix tree: each token span that several rows share is computed once (batch 1),
    and the rows' own tails run in length buckets on copies of their branch's cache. Collects every row's last
    logits, cache and mask row; :meth:`assemble` builds the batch's left-padded cache for decoding."""

    def __init__(self, model: Any, slot: str, pad_id: int):
        self.model, self.slot, self.pad_id = model, slot, pad_id
        self.rows: dict[int, tuple[Any, Any, slice, Any]] = {}  # row -> (logits, cache, its row there, mask row)
        self.saved = 0

    def run(self, cache: Any, mask: Any, tails: dict[int, list[int]]) -> None:
        """Prefill ``tails`` (row -> tokens after what ``cache``, batch 1, holds)."""
        keys = list(tails)
        groups = prefix_groups([tails[r] for r in keys], MIN_GROUP)
        alone = dict(tails) if not groups else {}
        for run, n in groups:
            if len(run) == 1:
                alone[keys[run[0]]] = tails[keys[run[0]]]
                continue
            shared = tails[keys[run[0]]][:n]
            branch = copy_cache(cache)
            _, branch_mask = extend(self.model, self.slot, branch, mask, [shared], self.pad_id)
            self.saved += (len(run) - 1) * n
            self.run(branch, branch_mask, {keys[i]: tails[keys[i]][n:] for i in run})
        for bucket in _buckets({r: len(t) for r, t in alone.items()}):
            branch = copy_cache(cache)
            if len(bucket) > 1:
                repeat_rows(branch, len(bucket))
            logits, rows_mask = extend(self.model, self.slot, branch, mask.expand(len(bucket), -1),
                                        [alone[r] for r in bucket], self.pad_id)
            for i, r in enumerate(bucket):
                self.rows[r] = (logits[i : i + 1], branch, slice(i, i + 1), rows_mask[i : i + 1])

    def assemble(self, count: int) -> tuple[Any, Any, Any]:
        """``(logits, cache, mask)`` of rows ``0..count-1``, caches left-padded to one width (padding masked)."""
        import torch

        parts = [self.rows[r] for r in range(count)]
        cache, mask = stack_rows([(c, rows, m) for _, c, rows, m in parts])
        return torch.cat([logits for logits, _, _, _ in parts]), cache, mask


def prefill(
    model: Any,
    rows: Sequence[Sequence[int]],
    *,
    pad_id: int,
    prefixes: PrefixStore | None = None,
    stats: dict[str, int] | None = None,
) -> tuple[Any, Any, Any]:
    """Run the prompts ``rows`` through the model: ``(last-position logits, key/value cache, attention mask)``.

    With ``prefixes``, the rows' common prefix comes from (or goes into) the store, and the rest is prefilled as a
    prefix tree (spans shared by several rows once, then each row's own tokens in length buckets);
    ``stats["group_tokens_saved"]`` counts the tokens the shared spans saved. Without, one padded batch.
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
            base = new_cache(model)
            model(input_ids=torch.tensor([list(key)]), use_cache=True, logits_to_keep=1, **{slot: base})
            prefixes.put(key, base)
            start = shared
        elif found is not None:
            start, base = found
    cache = copy_cache(base) if base is not None else new_cache(model)
    if base is not None and cache.get_seq_length() > start:  # a longer stored prefix: keep the shared part
        drop_last(cache, cache.get_seq_length() - start)
    suffixes = [list(r[start:]) for r in rows]
    if stats is not None:
        stats.setdefault("group_tokens_saved", 0)
    if prefixes is not None and batch > 1 and regroupable(cache):
        tree = _Tree(model, slot, pad_id)
        tree.run(cache, torch.ones((1, start), dtype=torch.long), dict(enumerate(suffixes)))
        if stats is not None:
            stats["group_tokens_saved"] += tree.saved
        return tree.assemble(batch)
    # [shared prefix (cached)] [padding] [suffix], padding masked out
    if base is not None and batch > 1:
        repeat_rows(cache, batch)
    logits, mask = extend(model, slot, cache, torch.ones((batch, start), dtype=torch.long), suffixes, pad_id)
    return logits, cache, mask
