"""The decoder: batched greedy decoding with prompt-lookup drafts, and temperature / top-p sampling, over
prefilled prompts. It is the only generation loop: ``invoke``, ``batch`` and ``stream`` all run through
:func:`decode_events`.

``transformers``' ``generate`` pays two costs that dominate a set of RAG prompts on a CPU:

* every prompt is prefilled whole, although prompts of one template share their first 100+ tokens, and prompts
  over one retrieved passage share more: :mod:`promptkit.llm.decoding.prefill` computes shared parts once and
  pads no row far beyond its own length;
* a batch decodes one token per forward pass until its longest answer ends, and on a CPU a decoding step costs
  about as much as reading all the weights, whatever the batch size. Extractive answers are mostly copied from the
  prompt, so each greedy step here also proposes, per row, the tokens that followed the last matching n-gram of
  that row's prompt ("prompt lookup decoding") and verifies them in the same forward pass: a row accepts the
  drafted tokens the model itself would have chosen greedily, plus the model's next token. Finished rows leave the
  batch, so the cache shrinks as answers end.

Verifying drafts gives the tokens of one-at-a-time greedy decoding up to floating-point rounding. Sampling
(``temperature > 0``) proposes no drafts; each row draws from its own generator, seeded from the call's seed and
the row's prompt, so a sampled answer does not depend on which other prompts shared its batch. A repetition
penalty (from the model's generation config) is applied to every row's prompt and answer tokens, and turns drafts
off.

Rows keep different lengths in one cache: padding and rejected draft slots stay in the cache with attention mask
0, and position ids count only the unmasked tokens.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from promptkit.errors import GenerationTimeout
from promptkit.llm.decoding.kv import cache_argument, drop_last, keep_rows
from promptkit.llm.decoding.prefill import PrefixStore, prefill


@dataclass(frozen=True)
class Sampling:
    """How the next token is chosen: greedy when ``temperature`` is 0."""

    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    repetition_penalty: float = 1.0

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0


@dataclass(frozen=True)
class Step:
    """What one decoding step did for one row: the tokens it added and, once the row is done, why it ended
    (``"stop"``: end of sequence or a stop string; ``"length"``: ``max_new_tokens`` reached)."""

    row: int
    tokens: list[int]
    finish: str | None = None


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


class _Chooser:
    """Picks each row's next token from its logits: argmax, or a draw from the (top-p) tempered distribution."""

    def __init__(self, sampling: Sampling):
        self.sampling = sampling
        self.generators: dict[int, Any] = {}

    def start(self, row: int, prompt: Sequence[int]) -> None:
        if not self.sampling.greedy:
            import torch

            generator = torch.Generator()
            generator.manual_seed((self.sampling.seed * 1_000_003 + zlib.crc32(bytes(str(list(prompt)), "ascii")))
                                  % (2**63))
            self.generators[row] = generator

    def forget(self, row: int) -> None:
        self.generators.pop(row, None)

    def penalise(self, logits: Any, seen: Sequence[int]) -> Any:
        """The repetition penalty of ``transformers``: seen tokens' logits divided (if positive) or multiplied by it."""
        import torch

        penalty = self.sampling.repetition_penalty
        if penalty == 1.0 or not seen:
            return logits
        index = torch.tensor(sorted(set(seen)), dtype=torch.long)
        picked = logits[index]
        logits = logits.clone()
        logits[index] = torch.where(picked < 0, picked * penalty, picked / penalty)
        return logits

    def choose(self, row: int, logits: Any, seen: Sequence[int], allowed: Any = None) -> int:
        import torch

        logits = self.penalise(logits.float(), seen)
        if allowed is not None:  # constrained decoding: every token the grammar forbids is impossible
            logits = logits.masked_fill(~allowed[: logits.shape[-1]], float("-inf"))
        if self.sampling.greedy:
            return int(logits.argmax(-1))
        probs = torch.softmax(logits / self.sampling.temperature, dim=-1)
        if self.sampling.top_p < 1.0:
            ordered, order = probs.sort(descending=True)
            cumulative = ordered.cumsum(-1)
            cut = cumulative - ordered > self.sampling.top_p  # keep the smallest set whose mass reaches top_p
            ordered[cut] = 0
            probs = torch.zeros_like(probs).scatter(-1, order, ordered)
        return int(torch.multinomial(probs / probs.sum(), 1, generator=self.generators[row]))


def decode_events(
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
    sampling: Sampling = Sampling(),
    deadline: float | None = None,
    constraints: Sequence[Any] | None = None,
    stats: dict[str, int] | None = None,
) -> Iterator[Step]:
    """Decode every row of ``rows`` (prompt token ids), yielding a :class:`Step` for each row after each forward
    pass that gave it tokens; a row's last step carries its ``finish`` reason (EOS is never part of the tokens).

    At most ``batch_size`` rows decode at once, admitted in the given order whenever the running batch has
    finished. ``stopped(generated)`` ends a row early (e.g. once its text holds a stop string); ``prefixes``
    enables the shared-prefix cache and the prefix-tree prefill; ``draft`` is the number of prompt-lookup tokens
    proposed per row and greedy step (0: plain one-token steps). Past ``deadline`` (a ``time.monotonic()`` value)
    :class:`~promptkit.errors.GenerationTimeout` is raised between steps. ``constraints`` (one per row, or
    ``None``) restrict each constrained row's tokens to what its grammar allows
    (:class:`~promptkit.llm.decoding.grammar.RowConstraint`); such rows propose no drafts and end once their grammar
    is complete. ``stats``, when given, receives the
    number of decoding steps (``steps``, prefills not counted), of drafted tokens accepted (``accepted``), of
    prefills (``prefills``) and of prompt tokens the shared spans saved (``group_tokens_saved``).
    """
    import torch

    slot = cache_argument(model)
    eos = set(eos_ids)
    stats = stats if stats is not None else {}
    for key in ("steps", "accepted", "prefills", "group_tokens_saved"):
        stats.setdefault(key, 0)
    chooser = _Chooser(sampling)
    drafting = draft if sampling.greedy and sampling.repetition_penalty == 1.0 else 0
    seqs: dict[int, list[int]] = {}  # prompt + accepted tokens, for drafting and the repetition penalty
    out: dict[int, list[int]] = {}
    lengths: dict[int, int] = {}  # real (unmasked) tokens per row so far = next position id
    finish: dict[int, str] = {}

    def rule(r: int) -> Any:
        return constraints[r] if constraints is not None else None

    def choose(r: int, logits: Any) -> int:
        constraint = rule(r)
        return chooser.choose(r, logits, seqs[r] if sampling.repetition_penalty != 1.0 else (),
                              constraint.allowed() if constraint is not None else None)

    def accept(r: int, tokens: list[int]) -> list[int]:
        """Add ``tokens`` to row ``r`` until it ends; the tokens actually added."""
        added = []
        constraint = rule(r)
        for t in tokens:
            if t in eos:
                finish[r] = "stop"
                break
            out[r].append(t)
            seqs[r].append(t)
            added.append(t)
            if constraint is not None:
                constraint.consume(t)
                if constraint.complete:
                    finish[r] = "stop"
                    break
            if stopped is not None and stopped(out[r]):
                finish[r] = "stop"
                break
            if len(out[r]) >= max_new_tokens:
                finish[r] = "length"
                break
        return added

    def check_time() -> None:
        if deadline is not None and time.monotonic() > deadline:
            raise GenerationTimeout(
                "generation ran past its timeout",
                hint="raise the model's timeout (timeout=SECONDS), lower max_new_tokens or send fewer prompts",
            )

    for start in range(0, len(rows), batch_size):
        check_time()
        live = list(range(start, min(start + batch_size, len(rows))))
        logits, cache, mask = prefill(model, [rows[r] for r in live], pad_id=pad_id, prefixes=prefixes, stats=stats)
        stats["prefills"] += 1
        for i, r in enumerate(live):
            seqs[r], out[r], lengths[r] = list(rows[r]), [], len(rows[r])
            chooser.start(r, rows[r])
            yield Step(r, accept(r, [choose(r, logits[i, -1])]), finish.get(r))
        while True:
            keep = [i for i, r in enumerate(live) if r not in finish]
            for r in live:
                if r in finish:
                    chooser.forget(r)
                    seqs.pop(r, None)
            if not keep:
                break
            if len(keep) < len(live):
                keep_rows(cache, keep)
                mask = mask[keep]
                live = [live[i] for i in keep]
            check_time()
            drafts = []
            for r in live:
                left = max_new_tokens - len(out[r]) - 1
                free = drafting and left > 0 and rule(r) is None
                drafts.append(lookup_draft(seqs[r], min(drafting, left)) if free else [])
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
            logits = model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True,
                           **{slot: cache}).logits
            longest = 0
            for i, (r, d) in enumerate(zip(live, drafts, strict=True)):
                if d:  # greedy with drafts: accept the drafted tokens the model agrees with, then its own next one
                    preds = logits[i].argmax(-1).tolist()
                    n = 0
                    while n < len(d) and d[n] == preds[n]:
                        n += 1
                    chosen = d[:n] + [preds[n]]
                else:
                    n = 0
                    chosen = [choose(r, logits[i, 0])]
                # the fed token and the n accepted drafts are now real context; rejected draft slots stay masked
                mask[i, mask.shape[1] - block + 1 + n :] = 0
                lengths[r] += 1 + n
                longest = max(longest, n)
                stats["accepted"] += n
                yield Step(r, accept(r, chosen), finish.get(r))
            # trailing slots no row accepted: drop them so the cache grows only as needed
            unused = block - 1 - longest
            if unused:
                drop_last(cache, unused)
                mask = mask[:, :-unused]


def decode(model: Any, rows: Sequence[Sequence[int]], **options: Any) -> list[tuple[list[int], str]]:
    """``(tokens, finish reason)`` for every row of ``rows``, in order (see :func:`decode_events`)."""
    tokens: list[list[int]] = [[] for _ in rows]
    reasons = ["length"] * len(rows)
    options.setdefault("batch_size", max(1, len(rows)))
    for step in decode_events(model, rows, **options):
        tokens[step.row] += step.tokens
        if step.finish:
            reasons[step.row] = step.finish
    return list(zip(tokens, reasons, strict=True))
