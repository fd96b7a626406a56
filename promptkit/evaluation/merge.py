"""``promptkit eval merge``: the results files of the shards of one run joined into the unsharded run's
results.

Each shard (``promptkit eval run --shard i/N --out shard_i.json``, possibly on another machine) is a normal
results file over its questions. :func:`merge_results` checks that the files come from the same run (chain,
mode, prompt, model and settings, dataset hash, split and limit), that no question appears twice and that
together they hold every question of that run, puts the rows back in the dataset's order and scores them with
the runner's own functions: the result equals the unsharded run's, except for what measures the run itself
(``timestamp``, ``duration_s``: the longest shard, ``cache`` hit counts: summed, and per-row ``latency_s``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from promptkit.errors import ValidationError
from promptkit.evaluation.results import CacheStats, EvalResult

#: what must be equal in every shard of one run
_SAME = ("chain", "mode", "prompt", "model", "normalizers")


def merge_results(results: Sequence[str | os.PathLike[str] | EvalResult]) -> EvalResult:
    """The merged result of the shards of one run (see the module docstring)."""
    from promptkit.evaluation.runner import load_result, retrieval_stats, score_rows

    shards = [load_result(r) for r in results]
    if not shards:
        raise ValidationError("nothing to merge", hint="pass the results files of every shard")
    names = [str(r) if not isinstance(r, EvalResult) else f"result {i + 1}" for i, r in enumerate(results)]
    first = shards[0]
    for name, other in zip(names[1:], shards[1:], strict=True):
        for field in _SAME:
            if getattr(other, field) != getattr(first, field):
                raise ValidationError(
                    f"{name} is not a shard of the same run as {names[0]}: {field} differs",
                    hint="merge the shards of one `eval run` command",
                )
        a, b = first.dataset, other.dataset
        if (a.sha256, a.split, a.limit) != (b.sha256, b.split, b.limit):
            raise ValidationError(
                f"{name} is not a shard of the same run as {names[0]}: the dataset (hash, split "
                "or limit) differs",
                hint="merge the shards of one `eval run` command",
            )
    seen: dict[str, str] = {}
    for name, shard in zip(names, shards, strict=True):
        for row in shard.rows:
            if row.id in seen:
                raise ValidationError(
                    f"question {row.id!r} is in both {seen[row.id]} and {name}",
                    hint="each shard must be a different --shard I/N of the same N",
                )
            seen[row.id] = name
    order = _dataset_order(first)
    missing = [q for q in order if q not in seen]
    extra = [q for q in seen if q not in set(order)]
    if missing:
        raise ValidationError(
            f"the shards hold {len(seen)} of the run's {len(order)} questions; missing: "
            f"{', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}",
            hint="run and pass every shard (--shard 1/N … N/N)",
        )
    if extra:
        raise ValidationError(
            f"question(s) {', '.join(extra[:5])} are not in the dataset {first.dataset.path} as it is now",
            hint="the dataset changed after the shards ran; run them again",
        )
    by_id = {row.id: row for shard in shards for row in shard.rows}
    rows = [by_id[q] for q in order]
    official, pt, ci = score_rows(rows)
    retrieval = None
    if first.mode == "rag":
        k = max((s.retrieval.k for s in shards if s.retrieval is not None), default=0)
        retrieval = retrieval_stats(rows, k)
    modes = {s.cache.mode for s in shards}
    paths = {s.cache.path for s in shards}
    cache = CacheStats(
        mode=modes.pop() if len(modes) == 1 else "mixed",
        path=paths.pop() if len(paths) == 1 else None,
        hits=sum(s.cache.hits for s in shards),
        misses=sum(s.cache.misses for s in shards),
    )
    return first.model_copy(
        update={
            "dataset": first.dataset.model_copy(update={"total": len(rows)}),
            "metrics": official,
            "metrics_pt": pt,
            "ci": ci,
            "retrieval": retrieval,
            "cache": cache,
            "timestamp": max(s.timestamp for s in shards),
            "duration_s": max(s.duration_s for s in shards),
            "rows": rows,
        }
    )


def _dataset_order(result: EvalResult) -> list[str]:
    """The ids of the run's questions in the unsharded run's order (the dataset's, after split and limit)."""
    from promptkit.datasets import load_squad

    path = result.dataset.path
    if path == "<memory>" or not Path(path).is_file():
        raise ValidationError(
            f"cannot read the dataset {path} the shards ran on (needed to check and order the questions)",
            hint="merge on a machine that has the dataset at that path",
        )
    ds = load_squad(path)
    if ds.sha256 != result.dataset.sha256:
        raise ValidationError(
            f"the dataset {path} changed since the shards ran (sha256 differs)",
            hint="run the shards again on the current dataset",
        )
    examples = ds.examples(result.dataset.split)
    if result.dataset.limit is not None:
        examples = examples[: result.dataset.limit]
    return [e.id for e in examples]
