"""``evaluate()``: run a QA chain over a SQuAD 2.0 dataset and score it.

The chain is called in chunks through ``chain.batch`` so the model's batched path is used; every model call
goes through the replay cache, so an interrupted run resumes where it stopped and ``cache="strict"``
replays a run without a model.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import time
from collections.abc import Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from promptkit import metrics as M
from promptkit.cache import ReplayCache, check_mode, global_cache
from promptkit.datasets import SquadDataset, SquadExample, load_squad
from promptkit.errors import ValidationError
from promptkit.evaluation.results import (
    CacheStats,
    DatasetRef,
    EvalResult,
    EvalRow,
    ModelRef,
    PromptRef,
    RetrievalStats,
)
from promptkit.text import map_abstention, normalize_answer_pt

MODES = ("reading", "rag")
CHUNK_SIZE = 16
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
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


def _hit_rank(answers: Sequence[str], contexts: Sequence[str]) -> int:
    golds = [f" {M.normalize_answer(a)} " for a in answers if M.normalize_answer(a)]
    for rank, context in enumerate(contexts, start=1):
        haystack = f" {M.normalize_answer(context)} "
        if any(g in haystack for g in golds):
            return rank
    return 0


def _make_row(
    example: SquadExample, out: dict[str, Any], mode: str, latency: float, extra_abstentions: Sequence[str]
) -> EvalRow:
    raw = str(out.get("raw", out.get("answer", "")) or "")
    answer = str(out.get("answer", raw) or "")
    prediction = "" if out.get("abstained") else map_abstention(answer, extra_abstentions)
    exact, f1 = M.score_answer(example.answers, prediction)
    exact_pt, f1_pt = M.score_answer(example.answers, prediction, normalize_answer_pt)
    na_prob = out.get("na_prob", out.get("no_answer_prob"))
    contexts = [str(c) for c in (out.get("contexts") or [])]
    if out.get("context_order") == "best_last":
        contexts = contexts[::-1]  # hit@k counts by retrieval rank, not by the order the prompt shows them
    hit = None
    if mode == "rag" and not example.is_impossible and contexts:
        hit = _hit_rank(example.answers, contexts)
    sources = [
        {k: s.get(k) for k in ("source", "title", "chunk", "score", "id") if k in s}
        for s in (out.get("sources") or [])
        if isinstance(s, dict)
    ]
    return EvalRow(
        id=example.id,
        question=example.question,
        answers=list(example.answers),
        is_impossible=example.is_impossible,
        split=example.split,
        prediction=prediction,
        raw=raw,
        exact=int(exact),
        f1=float(f1),
        exact_pt=int(exact_pt),
        f1_pt=float(f1_pt),
        abstained=prediction == "",
        na_prob=None if na_prob is None else float(na_prob),
        sources=sources,
        hit_rank=hit,
        examples=[str(e) for e in (out.get("examples") or [])],
        check_raw=(out.get("cross_check") or {}).get("raw"),
        latency_s=latency,
    )


# -- scoring -------------------------------------------------------------------------------------------------


def score_rows(rows: Sequence[EvalRow], *, na_prob_thresh: float = 1.0) -> tuple[dict, dict, dict]:
    """Official metrics, Portuguese-normalised metrics and bootstrap intervals for a list of rows."""
    golds = {r.id: r.answers for r in rows}
    preds = {r.id: r.prediction for r in rows}
    na_probs = {r.id: r.na_prob for r in rows if r.na_prob is not None}
    na = na_probs if rows and len(na_probs) == len(rows) else None
    official = M.squad_v2_eval(golds, preds, na_probs=na, na_prob_thresh=na_prob_thresh)
    pt = M.squad_v2_eval(
        golds, preds, na_probs=na, na_prob_thresh=na_prob_thresh, normalizer=normalize_answer_pt
    )
    ci: dict[str, dict[str, Any]] = {}
    if rows:
        columns = {
            "exact": [r.exact for r in rows],
            "f1": [r.f1 for r in rows],
            "exact_pt": [r.exact_pt for r in rows],
            "f1_pt": [r.f1_pt for r in rows],
        }
        for name, values in columns.items():
            ci[name] = M.bootstrap_ci(values, resamples=BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED)
    return official, pt, ci


def retrieval_stats(rows: Sequence[EvalRow], k: int) -> RetrievalStats | None:
    ranked = [r.hit_rank for r in rows if r.hit_rank is not None]
    if not ranked:
        return None
    return RetrievalStats(
        k=k,
        hit_at_1=100.0 * sum(1 for h in ranked if h == 1) / len(ranked),
        hit_at_k=100.0 * sum(1 for h in ranked if h >= 1) / len(ranked),
        total=len(ranked),
    )


# -- the entry point -----------------------------------------------------------------------------------------


def _open_cache(cache: str | ReplayCache | None) -> tuple[ReplayCache, bool]:
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
    name = getattr(chain, "name", None) or type(chain).__name__
    return chain, str(name)


def evaluate(
    *,
    chain: Any,
    dataset: str | os.PathLike[str] | SquadDataset,
    mode: str = "reading",
    split: str | None = None,
    limit: int | None = None,
    cache: str | ReplayCache = "use",
    prompt: str | None = None,
    index: Any = None,
    llm: Any = None,
    out: str | os.PathLike[str] | None = None,
    show_progress: bool = True,
    chunk_size: int = CHUNK_SIZE,
    na_prob_thresh: float = 1.0,
    concurrency: int | None = None,
    shard: str | None = None,
) -> EvalResult:
    """Run ``chain`` over a SQuAD 2.0 dataset and return scores plus per-example rows.

    Args:
        chain: a chain name (resolved with :func:`promptkit.chains.load_chain`) or any Runnable taking
            ``{"question", "context"}`` and returning the QA output dict (a plain string also works).
        dataset: a SQuAD 2.0 file path, a name under ``eval/datasets/`` (``"course_qa"``) or a loaded dataset.
        mode: ``"reading"`` gives the gold context; ``"rag"`` gives ``context=None`` so the chain retrieves.
        split: only the questions of this split (``"dev"``/``"test"``).
        limit: only the first ``limit`` questions (after the split filter).
        cache: replay-cache mode (``use``, ``refresh``, ``off``, ``strict``) or an open :class:`ReplayCache`.
        prompt: overrides the chain's prompt ref (chain names only).
        index: a ``CourseIndex`` or its folder, for rag chains (chain names only).
        llm: a chat model to inject into a named chain (it answers through this run's replay cache). A ready-made
            runnable brings its own models: they answer through this run's replay cache as LangChain's global
            cache, unless a model has a cache of its own. The model and settings of the first chat model call
            are recorded in the results.
        out: write the results JSON here (atomically).
        show_progress: show a progress bar on stderr.
        concurrency: questions in flight at once against a served model (default: the model's own setting in
            models.yaml); see :mod:`promptkit.evaluation.concurrent`.
        shard: ``"i/N"``: only the questions of that shard (:mod:`promptkit.evaluation.shards`).
    """
    if mode not in MODES:
        raise ValidationError(f"unknown mode {mode!r}; expected one of: {', '.join(MODES)}")
    if limit is not None and limit < 1:
        raise ValidationError(f"limit must be a positive number, got {limit}")
    if out is not None:
        from promptkit.fileio import check_writable

        check_writable(out)  # before the run, not after minutes of generation
    ds = dataset if isinstance(dataset, SquadDataset) else load_squad(dataset)
    examples = ds.examples(split)
    if limit is not None:
        examples = examples[:limit]
    # >>> served models, concurrency and shards (promptkit.evaluation.concurrent / .shards, promptkit.llm)
    if shard is not None:
        from promptkit.evaluation.shards import select_shard

        examples = select_shard(examples, shard)
    if llm is not None:
        from promptkit.llm import load_llm

        llm = load_llm(llm)  # a models.yaml name, a catalogue name, or any LangChain chat model object
    from promptkit.evaluation.concurrent import check_concurrency

    concurrency = check_concurrency(concurrency, llm)
    # <<<
    _check_questions(examples, ds)

    replay, owned = _open_cache(cache)
    hits0, misses0 = replay.hits, replay.misses
    recorder = _model_recorder()
    try:
        runnable, chain_name = _resolve_chain(chain, llm=llm, prompt=prompt, index=index, cache=replay)
        extra_abstentions = _abstain_phrases(prompt)
        # A named chain's model was built with this run's cache; a ready-made runnable's models answer through it
        # as LangChain's global cache (a model with a cache of its own keeps using that one).
        scope = global_cache(replay) if not isinstance(chain, str) else contextlib.nullcontext()
        with scope:
            if concurrency:  # >>> concurrent evaluation (promptkit.evaluation.concurrent)
                from promptkit.evaluation.concurrent import run_concurrent

                rows, outputs, duration = run_concurrent(
                    runnable, examples, concurrency=concurrency, config={"callbacks": [recorder]},
                    make_input=lambda e: {"question": e.question, "context": e.context if mode == "reading" else None},
                    make_row=lambda e, o, t: _make_row(e, o, mode, t, extra_abstentions), as_output=_as_output,
                    cache=replay, llm=llm, show_progress=show_progress, label=chain_name)
            else:  # <<<
                rows, outputs, duration = _run(
                    runnable, examples, mode, chunk_size, show_progress, chain_name, extra_abstentions, recorder
                )
    finally:
        hits, misses = replay.hits - hits0, replay.misses - misses0
        if owned:
            replay.close()

    official, pt, ci = score_rows(rows, na_prob_thresh=na_prob_thresh)
    k = max((len(o.get("contexts") or []) for o in outputs), default=0)
    first = outputs[0] if outputs else {}
    result = EvalResult(
        chain=chain_name,
        mode=mode,  # type: ignore[arg-type]
        dataset=DatasetRef(
            path=str(ds.path) if ds.path else "<memory>",
            name=ds.name,
            sha256=ds.sha256,
            split=split,
            limit=limit,
            total=len(rows),
        ),
        prompt=PromptRef(
            ref=first.get("prompt") or prompt, hash=first.get("prompt_hash"), cross_check=first.get("cross_check_prompt")
        ),
        model=ModelRef(id=first.get("model") or recorder.model_id, settings=recorder.settings),
        metrics=official,
        metrics_pt=pt,
        normalizers={"official": M.OFFICIAL_NORMALIZER, "pt": M.PT_NORMALIZER},
        ci=ci,
        retrieval=retrieval_stats(rows, k) if mode == "rag" else None,
        cache=CacheStats(
            mode=replay.mode, path=str(replay.path) if replay.enabled else None, hits=hits, misses=misses
        ),
        versions=package_versions(),
        timestamp=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        duration_s=round(duration, 3),
        rows=rows,
    )
    if out is not None:
        result.save(out)
    return result


def _check_questions(examples: Sequence[SquadExample], ds: SquadDataset) -> None:
    """Refuse the run before any model call when a question is over the chains' size limit, naming it."""
    from promptkit.limits import check_question

    for ex in examples:
        try:
            check_question(ex.question)
        except ValidationError as exc:
            raise ValidationError(
                f"question {ex.id!r} in {ds.path or ds.name}: {exc.message}",
                hint="shorten that question in the dataset; long material belongs in its context",
            ) from None


def _abstain_phrases(prompt: str | None) -> list[str]:
    """The prompt's own abstention phrase, when the prompt registry knows it."""
    if not prompt:
        return []
    try:
        from promptkit.prompts import get_prompt_spec

        phrase = getattr(get_prompt_spec(prompt), "abstain_phrase", None)
    except Exception:  # noqa: BLE001 - the prompt is validated by the chain itself
        return []
    return [phrase] if phrase else []


def _run(
    runnable: Any,
    examples: Sequence[SquadExample],
    mode: str,
    chunk_size: int,
    show_progress: bool,
    label: str,
    extra_abstentions: Sequence[str],
    recorder: Any = None,
) -> tuple[list[EvalRow], list[dict[str, Any]], float]:
    from tqdm.auto import tqdm

    rows: list[EvalRow] = []
    outputs: list[dict[str, Any]] = []
    started = time.perf_counter()
    with tqdm(
        total=len(examples),
        unit="ex",
        desc=f"eval {label}",
        disable=not show_progress,
        dynamic_ncols=True,
        leave=True,
    ) as bar:
        for start in range(0, len(examples), max(1, chunk_size)):
            chunk = examples[start : start + chunk_size]
            inputs = [
                {"question": e.question, "context": e.context if mode == "reading" else None} for e in chunk
            ]
            t0 = time.perf_counter()
            results = runnable.batch(inputs, {"callbacks": [recorder]} if recorder is not None else None)
            latency = (time.perf_counter() - t0) / len(chunk)
            if len(results) != len(chunk):
                raise ValidationError(
                    f"the chain returned {len(results)} outputs for {len(chunk)} inputs",
                    hint="chain.batch must return one output per input",
                )
            for example, value in zip(chunk, results, strict=True):
                if isinstance(value, BaseException):
                    raise value
                out = _as_output(value)
                outputs.append(out)
                rows.append(_make_row(example, out, mode, round(latency, 4), extra_abstentions))
            bar.update(len(chunk))
    return rows, outputs, time.perf_counter() - started


def load_result(path: str | os.PathLike[str] | EvalResult) -> EvalResult:
    """An :class:`EvalResult` from a results file (or the object itself)."""
    if isinstance(path, EvalResult):
        return path
    return EvalResult.load(Path(path))
