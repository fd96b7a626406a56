"""Concurrent evaluation: N questions in flight against a served model, surviving a server that dies.

:func:`run_concurrent` is what ``evaluate(..., concurrency=N)`` (``promptkit eval run --concurrency N``) runs
instead of the chunked batch loop: N worker threads each send one question through the chain (``invoke``), so
N model requests stay in flight with no barrier between chunks; the progress bar shows questions and model
requests per second. Threads, not an event loop: promptkit's chain steps are synchronous, and LangChain would
run each of them in a thread anyway.

Faults: the model's client retries what is worth retrying (see :mod:`promptkit.llm.served`). When a question
still fails, no new question starts, the ones in flight finish, and the run ends with one
:class:`IncompleteRun` line: how many questions were answered, that their answers are in the replay cache
(stored as they arrived), and that the same command sends only what is missing. Nothing is scored, so a failed
request is never counted as an empty answer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from promptkit.errors import PromptkitError, ValidationError


class IncompleteRun(PromptkitError):
    """A run stopped by a failing model call after some questions were answered (and kept)."""

    def __init__(self, message: str, *, hint: str | None = None, answered: int = 0, total: int = 0):
        super().__init__(message, hint=hint)
        self.answered = answered
        self.total = total


def check_concurrency(concurrency: int | None, llm: Any = None) -> int | None:
    """``concurrency`` validated; for a served model without one, the model's own (``models.yaml``)."""
    if concurrency is None:
        value = getattr(llm, "concurrency", None) if _served(llm) else None
        return int(value) if value and value > 1 else None
    if not isinstance(concurrency, int) or concurrency < 1:
        raise ValidationError(f"concurrency must be a positive number of requests, got {concurrency!r}")
    if llm is not None and not _served(llm) and concurrency > 1:
        raise ValidationError(
            f"--concurrency applies to served models; {type(llm).__name__} runs in this process",
            hint="the in-process model batches instead (batch_size in the chain's model settings)",
        )
    return concurrency


def _served(llm: Any) -> bool:
    return type(llm).__name__ == "ServedChatModel"


def run_concurrent(
    runnable: Any,
    examples: Sequence[Any],
    *,
    concurrency: int,
    make_input: Callable[[Any], Any],
    make_row: Callable[[Any, dict[str, Any], float], Any],
    as_output: Callable[[Any], dict[str, Any]],
    config: dict[str, Any] | None = None,
    cache: Any = None,
    llm: Any = None,
    show_progress: bool = True,
    label: str = "",
) -> tuple[list[Any], list[dict[str, Any]], float]:
    """``(rows, outputs, seconds)`` for ``examples``, ``concurrency`` questions in flight, rows in input
    order.

    ``make_input(example)`` is the chain's input, ``as_output(value)`` its output as a dict,
    ``make_row(example, output, latency)`` the scored row; ``cache`` (the run's replay cache) and ``llm`` only
    feed the progress bar and the message of an incomplete run.
    """
    from tqdm.auto import tqdm

    total = len(examples)
    outputs: list[dict[str, Any] | None] = [None] * total
    latencies: list[float] = [0.0] * total
    errors: list[tuple[int, BaseException]] = []
    lock = threading.Lock()
    started = time.perf_counter()
    sent0 = getattr(llm, "requests_sent", 0) if llm is not None else 0

    def one(i: int) -> None:
        t0 = time.perf_counter()
        value = runnable.invoke(make_input(examples[i]), config)
        outputs[i] = as_output(value)
        latencies[i] = round(time.perf_counter() - t0, 4)

    with (
        tqdm(
            total=total,
            unit="q",
            desc=f"eval {label}".strip(),
            disable=not show_progress,
            dynamic_ncols=True,
            leave=True,
        ) as bar,
        ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="promptkit-eval") as pool,
    ):
        todo = iter(range(total))
        running: dict[Future, int] = {}

        def fill() -> None:
            while len(running) < concurrency:
                i = next(todo, None)
                if i is None:
                    return
                running[pool.submit(one, i)] = i

        fill()
        while running:
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in done:
                i = running.pop(future)
                exc = future.exception()
                if exc is not None:
                    with lock:
                        errors.append((i, exc))
                else:
                    bar.update(1)
            if llm is not None and show_progress:
                elapsed = max(time.perf_counter() - started, 1e-9)
                sent = getattr(llm, "requests_sent", 0) - sent0
                bar.set_postfix_str(f"{sent / elapsed:.1f} req/s, {len(running)} in flight", refresh=False)
            if not errors:
                fill()
    duration = time.perf_counter() - started
    if errors:
        raise _incomplete(errors, outputs, cache)
    rows = [make_row(ex, out, lat) for ex, out, lat in zip(examples, outputs, latencies, strict=True)]
    return rows, outputs, duration  # type: ignore[return-value]


def _incomplete(errors: list[tuple[int, BaseException]], outputs: list[Any], cache: Any) -> BaseException:
    """The one line that ends an interrupted run (a programming error is re-raised as it is)."""
    first = min(errors, key=lambda e: e[0])[1]
    if not isinstance(first, PromptkitError | ConnectionError | TimeoutError | OSError):
        return first
    answered = sum(o is not None for o in outputs)
    total = len(outputs)
    reason = first.message if isinstance(first, PromptkitError) else str(first)
    kept = getattr(cache, "mode", "off") in ("use", "refresh")
    if kept:
        where = f" in the replay cache {cache.path}" if getattr(cache, "path", None) else ""
        hint = (
            f"their answers are kept{where}; run the same command again (cache mode use) to send only the "
            f"{total - answered} missing"
        )
    else:
        hint = "the replay cache was off, so nothing was kept; run again with --cache use to keep answers"
    if isinstance(first, PromptkitError) and first.hint and "replay cache" not in first.hint:
        hint = f"{first.hint}; {hint}"
    return IncompleteRun(
        f"run stopped after {answered} of {total} questions: {reason}",
        hint=hint,
        answered=answered,
        total=total,
    )
