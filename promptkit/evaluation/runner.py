"""``evaluate()``: run a chain over an evaluation dataset and score it with the dataset's task.

The task (:mod:`promptkit.evaluation.tasks`) is named or inferred from the dataset: SQuAD 2.0 question
answering for a ``.json`` file, long-form tutor answers for ``tutor_questions.jsonl``, and so on. The chain is
called in chunks through ``chain.batch`` so the model's batched path is used; every model call (an optional
LLM judge's included) goes through the replay cache, so an interrupted run resumes where it stopped and
``cache="strict"`` replays a run without a model.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from promptkit.cache import ReplayCache, check_mode, global_cache
from promptkit.errors import ValidationError
from promptkit.evaluation.results import (
    CacheStats,
    DatasetRef,
    EvalResult,
    ModelRef,
    PromptRef,
    TaskResult,
    load_result_file,
)
from promptkit.evaluation.tasks import Task, resolve_task
from promptkit.evaluation.tasks.base import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED
from promptkit.evaluation.tasks.squad import retrieval_stats, score_rows

__all__ = ["BOOTSTRAP_RESAMPLES", "BOOTSTRAP_SEED", "CHUNK_SIZE", "MODES", "evaluate", "load_result",
           "package_versions", "retrieval_stats", "score_rows"]

#: the modes any task may use: reading (the chain is given the text) or rag (it retrieves)
MODES = ("reading", "rag")
CHUNK_SIZE = 16
VERSIONED_PACKAGES = ("promptkit", "langchain-core", "transformers", "torch")


def package_versions(names: Sequence[str] = VERSIONED_PACKAGES) -> dict[str, str | None]:
    """Installed versions (``None`` when a package is absent)."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    if out.get("promptkit") is None:
        from promptkit.version import __version__

        out["promptkit"] = __version__
    return out


# -- what model answered ---------------------------------------------------------------------------------------


def _model_recorder() -> Any:
    """A LangChain callback handler that records the first chat model call of a run: the model's name and its
    invocation parameters (what LangChain reports to tracers), whatever the chain and the model class."""
    from langchain_core.callbacks import BaseCallbackHandler

    class ModelRecorder(BaseCallbackHandler):
        def __init__(self) -> None:
            self.model_id: str | None = None
            self.settings: dict[str, Any] = {}

        def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
            if self.model_id is not None:
                return
            params = dict(kwargs.get("invocation_params") or {})
            meta = kwargs.get("metadata") or {}
            self.model_id = str(meta.get("ls_model_name") or params.get("model") or params.get("model_name")
                                or params.get("_type") or "unknown")
            self.settings = {k: v for k, v in params.items() if k not in ("_type", "model", "model_name")
                             and _plain(v)}

    return ModelRecorder()


def _plain(value: Any) -> bool:
    """Whether a setting is plain JSON data (API keys and clients are never recorded)."""
    if isinstance(value, str | int | float | bool) or value is None:
        return True
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


# -- chain outputs -------------------------------------------------------------------------------------------


def _as_output(value: Any) -> dict[str, Any]:
    """Accept the contract's dict, but also a plain string or a chat message from a user's own runnable."""
    if isinstance(value, dict):
        return value
    content = getattr(value, "content", value)
    text = content if isinstance(content, str) else str(content)
    return {"answer": text, "raw": text}


# -- the entry point -----------------------------------------------------------------------------------------


def open_cache(cache: str | ReplayCache | None) -> tuple[ReplayCache, bool]:
    """An open replay cache (the user's, in the given mode) and whether the caller must close it."""
    if isinstance(cache, ReplayCache):
        return cache, False
    from promptkit.paths import replay_cache_path

    return ReplayCache(replay_cache_path(), mode=check_mode(cache or "off")), True


def _resolve_chain(
    chain: Any, *, llm: Any, prompt: str | None, index: Any, cache: ReplayCache
) -> tuple[Any, str]:
    if isinstance(chain, str):
        from promptkit.chains import load_chain

        if isinstance(index, str | os.PathLike):
            from promptkit.index import load_index

            index = load_index(index)
        return load_chain(chain, llm=llm, prompt=prompt, index=index, cache=cache), chain
    if not hasattr(chain, "batch"):
        raise ValidationError(
            f"chain must be a chain name or a LangChain Runnable, got {type(chain).__name__}",
            hint="pass e.g. chain='qa_zero_shot' or a runnable taking {'question', 'context'}",
        )
    if prompt is not None or index is not None or llm is not None:
        raise ValidationError(
            "prompt=, index= and llm= only apply when chain is a chain name",
            hint="build them into your runnable, or pass the chain's name",
        )
    # a runnable's own name (a loaded chain is a binding named by its run_name), else its class
    get_name = getattr(chain, "get_name", None)
    name = get_name() if callable(get_name) else getattr(chain, "name", None) or type(chain).__name__
    return chain, str(name)


def evaluate(
    *,
    chain: Any,
    dataset: Any,
    task: str | Task | None = None,
    mode: str | None = None,
    split: str | None = None,
    limit: int | None = None,
    cache: str | ReplayCache = "use",
    prompt: str | None = None,
    index: Any = None,
    llm: Any = None,
    judge: Any = None,
    out: str | os.PathLike[str] | None = None,
    show_progress: bool = True,
    chunk_size: int = CHUNK_SIZE,
    na_prob_thresh: float = 1.0,
    concurrency: int | None = None,
    shard: str | None = None,
) -> EvalResult | TaskResult:
    """Run ``chain`` over a dataset and return scores plus per-item rows.

    Args:
        chain: a chain name (resolved with :func:`promptkit.chains.load_chain`) or any Runnable taking the
            task's input (SQuAD: ``{"question", "context"}``; long-form: ``{"question"}``) and returning the
            chain's output dict (a plain string also works).
        dataset: a dataset file path, a name under ``eval/datasets/`` (``"course_qa"``, ``"tutor_questions"``)
            or a loaded dataset.
        task: the evaluation task (``"squad"``, ``"longform"``…); inferred from the dataset when left out.
        mode: ``"reading"`` gives the gold context; ``"rag"`` gives ``context=None`` so the chain retrieves;
            by default the task's first mode (SQuAD: reading; long-form: rag, the only one).
        split: only the items of this split (``"dev"``/``"test"``).
        limit: only the first ``limit`` items (after the split filter).
        cache: replay-cache mode (``use``, ``refresh``, ``off``, ``strict``) or an open :class:`ReplayCache`.
        prompt: overrides the chain's prompt ref (chain names only).
        index: a ``CourseIndex`` or its folder, for rag chains (chain names only).
        llm: a chat model to inject into a named chain (it answers through this run's replay cache). A ready-made
            runnable brings its own models: they answer through this run's replay cache as LangChain's global
            cache, unless a model has a cache of its own. The model and settings of the first chat model call
            are recorded in the results.
        judge: an LLM judge for the tasks that ask one (long-form): a chat model or a
            :class:`~promptkit.evaluation.judge.LLMJudge`; its calls go through the same replay cache.
        out: write the results JSON here (atomically).
        show_progress: show a progress bar on stderr.
        na_prob_thresh: SQuAD only: the no-answer probability above which a prediction becomes an abstention.
        concurrency: items in flight at once against a served model (default: the model's own setting in
            models.yaml); see :mod:`promptkit.evaluation.concurrent`.
        shard: ``"i/N"``: only the items of that shard (:mod:`promptkit.evaluation.shards`).

    Returns:
        SQuAD: an :class:`EvalResult` (schema ``promptkit.eval/v1``); other tasks: a :class:`TaskResult` (v2).
    """
    runner = resolve_task(task, dataset)
    mode = runner.check_mode(mode)
    if limit is not None and limit < 1:
        raise ValidationError(f"limit must be a positive number, got {limit}")
    if out is not None:
        from promptkit.fileio import check_writable

        check_writable(out)  # before the run, not after minutes of generation
    runner.start(prompt=prompt, **({} if na_prob_thresh == 1.0 else {"na_prob_thresh": na_prob_thresh}))
    judge = _as_judge(judge, runner)
    ds = runner.load(dataset)
    items = ds.examples(split)
    if limit is not None:
        items = items[:limit]
    if shard is not None:
        from promptkit.evaluation.shards import select_shard

        items = select_shard(items, shard)
    for item in items:
        runner.check_item(item, str(ds.path or ds.name))
    if llm is not None:
        from promptkit.llm import load_llm

        llm = load_llm(llm)  # a models.yaml name, a catalogue name, or any LangChain chat model object
    from promptkit.evaluation.concurrent import check_concurrency

    concurrency = check_concurrency(concurrency, llm)

    replay, owned = open_cache(cache)
    hits0, misses0 = replay.hits, replay.misses
    recorder = _model_recorder()
    try:
        runnable, chain_name = _resolve_chain(chain, llm=llm, prompt=prompt, index=index, cache=replay)
        # A named chain's model was built with this run's cache; a ready-made runnable's models answer through it
        # as LangChain's global cache (a model with a cache of its own keeps using that one).
        scope = global_cache(replay) if not isinstance(chain, str) else contextlib.nullcontext()
        with scope:
            if concurrency:
                from promptkit.evaluation.concurrent import run_concurrent

                rows, outputs, duration = run_concurrent(
                    runnable, items, concurrency=concurrency, config={"callbacks": [recorder]},
                    make_input=lambda item: runner.chain_input(item, mode),
                    make_row=lambda item, out, latency: runner.make_row(item, out, mode=mode, latency=latency),
                    as_output=_as_output, cache=replay, llm=llm, show_progress=show_progress, label=chain_name)
            else:
                rows, outputs, duration = _run(runnable, runner, items, mode, chunk_size, show_progress,
                                               chain_name, recorder)
        if judge is not None:
            with global_cache(replay):
                runner.apply_judge(rows, judge)
    finally:
        hits, misses = replay.hits - hits0, replay.misses - misses0
        if owned:
            replay.close()

    first = outputs[0] if outputs else {}
    common = {
        "chain": chain_name,
        "dataset": DatasetRef(
            path=str(ds.path) if ds.path else "<memory>",
            name=ds.name,
            sha256=ds.sha256,
            split=split,
            limit=limit,
            total=len(rows),
        ),
        "prompt": PromptRef(
            ref=first.get("prompt") or prompt, hash=first.get("prompt_hash"), cross_check=first.get("cross_check_prompt")
        ),
        "model": ModelRef(id=first.get("model") or recorder.model_id, settings=recorder.settings),
        "cache": CacheStats(
            mode=replay.mode, path=str(replay.path) if replay.enabled else None, hits=hits, misses=misses
        ),
        "versions": package_versions(),
        "timestamp": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "duration_s": round(duration, 3),
    }
    judge_ref = ModelRef(id=judge.model_id, settings=_judge_settings(judge)) if judge is not None else None
    result = runner.build_result(rows=rows, outputs=outputs, mode=mode, common=common, judge=judge_ref)
    if out is not None:
        result.save(out)
    return result


def _as_judge(judge: Any, task: Task) -> Any:
    """An :class:`~promptkit.evaluation.judge.LLMJudge` from a judge or a chat model (or ``None``)."""
    if judge is None:
        return None
    if not task.judge_criteria:
        raise ValidationError(f"task {task.name} asks no judge questions", hint="run it without --judge")
    from promptkit.evaluation.judge import LLMJudge

    return judge if isinstance(judge, LLMJudge) else LLMJudge(judge)


def _judge_settings(judge: Any) -> dict[str, Any]:
    settings = {"via": "logprob" if judge.use_logprobs is not False and judge.offers_logprobs() else "text",
                "threshold": judge.threshold}
    params = getattr(judge.model, "_identifying_params", None)
    if isinstance(params, dict):
        settings.update({k: v for k, v in params.items() if k not in ("model", "_type") and _plain(v)})
    return settings


def _run(
    runnable: Any,
    task: Task,
    items: Sequence[Any],
    mode: str,
    chunk_size: int,
    show_progress: bool,
    label: str,
    recorder: Any = None,
) -> tuple[list[Any], list[dict[str, Any]], float]:
    from tqdm.auto import tqdm

    rows: list[Any] = []
    outputs: list[dict[str, Any]] = []
    started = time.perf_counter()
    with tqdm(
        total=len(items),
        unit="ex",
        desc=f"eval {label}",
        disable=not show_progress,
        dynamic_ncols=True,
        leave=True,
    ) as bar:
        for start in range(0, len(items), max(1, chunk_size)):
            chunk = items[start : start + chunk_size]
            inputs = [task.chain_input(item, mode) for item in chunk]
            t0 = time.perf_counter()
            results = runnable.batch(inputs, {"callbacks": [recorder]} if recorder is not None else None)
            latency = (time.perf_counter() - t0) / len(chunk)
            if len(results) != len(chunk):
                raise ValidationError(
                    f"the chain returned {len(results)} outputs for {len(chunk)} inputs",
                    hint="chain.batch must return one output per input",
                )
            for item, value in zip(chunk, results, strict=True):
                if isinstance(value, BaseException):
                    raise value
                out = _as_output(value)
                outputs.append(out)
                rows.append(task.make_row(item, out, mode=mode, latency=round(latency, 4)))
            bar.update(len(chunk))
    return rows, outputs, time.perf_counter() - started


def load_result(path: str | os.PathLike[str] | EvalResult | TaskResult) -> EvalResult | TaskResult:
    """A results object from a results file of either schema (or the object itself)."""
    if isinstance(path, EvalResult | TaskResult):
        return path
    return load_result_file(Path(path))
