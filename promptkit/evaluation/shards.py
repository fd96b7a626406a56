"""Splitting one evaluation across client machines: ``--shard i/N`` picks questions by a hash of their id.

A question belongs to shard ``i`` of ``N`` when ``sha256(id) mod N == i - 1``: every machine computes the same
split without talking to the others, shards are disjoint and cover the run, and adding questions to a dataset
moves no other question to another shard. The shard is taken after ``split`` and ``limit``, so the shards of
``--limit 40`` together are exactly the unsharded ``--limit 40`` run; ``promptkit eval merge`` joins their
results files (:mod:`promptkit.evaluation.merge`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

from promptkit.errors import ValidationError

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse_shard(text: str | tuple[int, int]) -> tuple[int, int]:
    """``"2/4"`` → ``(2, 4)``; one clear error for anything else."""
    if isinstance(text, tuple):
        index, count = text
    else:
        match = _SHARD.match(str(text))
        if not match:
            raise ValidationError(f"shard {text!r} must look like I/N (e.g. 1/4)")
        index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or not 1 <= index <= count:
        raise ValidationError(f"shard {index}/{count}: I must be between 1 and N", hint="e.g. --shard 1/4")
    return index, count


def shard_of(question_id: str, count: int) -> int:
    """The 1-based shard of a question id among ``count`` shards."""
    digest = hashlib.sha256(str(question_id).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def select_shard(examples: Sequence[Any], shard: str | tuple[int, int] | None) -> list[Any]:
    """The examples (objects with an ``id``) of one shard, in their order; all of them when ``shard`` is
    None."""
    if shard is None:
        return list(examples)
    index, count = parse_shard(shard)
    return [e for e in examples if shard_of(e.id, count) == index]
