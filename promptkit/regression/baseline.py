"""Blessed baselines: ``eval/baselines/<suite>/<entry>.json`` plus the model calls they need, ``replay.sqlite``.

A baseline holds the full evaluation result of one suite entry (of any evaluation task) and the *fingerprint*
of what produced it: the chain definition, the prompt version and its content hash, the model id with its
revision, numerics and generation settings, the task, the judge's model when one was asked, and the dataset's
sha256, split, mode and limit. The replay file holds exactly the model calls the recorded runs made (their
cache keys are listed in each JSON), so a check can replay them without the model and regenerate only what
changed.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr
from pydantic import ValidationError as PydanticValidationError

from promptkit.errors import IntegrityError, NotFoundError, ValidationError
from promptkit.evaluation.results import AnyResult, EvalResult, TaskResult
from promptkit.fileio import atomic_write_text, canonical_json, read_json, sha256_bytes
from promptkit.regression.suite import Suite, SuiteEntry, dataset_ref, load_suite

BASELINE_SCHEMA = "promptkit.baseline/v1"
REPLAY_FILE = "replay.sqlite"
#: model settings that do not change what the model answers (left out of explanations)
_INERT_SETTINGS = ("batch_size",)


class Fingerprint(BaseModel):
    """Everything a baseline's numbers depend on."""

    model_config = ConfigDict(extra="forbid")

    chain: str
    chain_sha256: str | None = None
    chain_definition: dict[str, Any] = Field(default_factory=dict)
    prompt_ref: str | None = Field(default=None, description="the reference the suite names (rag_qa@production)")
    prompt: str | None = Field(default=None, description="the version it resolved to (rag_qa@2)")
    prompt_hash: str | None = None
    model: str | None = None
    model_settings: dict[str, Any] = Field(default_factory=dict)
    dataset: str
    dataset_sha256: str
    task: str | None = Field(default=None, description="the evaluation task (None in baselines recorded "
                             "before tasks existed: squad)")
    judge: str | None = Field(default=None, description="the LLM judge's model, when one was asked")
    split: str | None = None
    mode: str = "reading"
    limit: int | None = None


class ReplayInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file: str = REPLAY_FILE
    keys: list[str] = Field(default_factory=list)


class Baseline(BaseModel):
    """One recorded suite entry."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: Literal["promptkit.baseline/v1"] = Field(default=BASELINE_SCHEMA, alias="schema")
    suite: str
    entry: SuiteEntry
    fingerprint: Fingerprint
    replay: ReplayInfo
    recorded: str
    result: AnyResult
    _folder: Path | None = PrivateAttr(default=None)

    @property
    def folder(self) -> Path | None:
        return self._folder

    @property
    def replay_path(self) -> Path | None:
        """The committed replay file of this baseline's suite."""
        return self._folder / self.replay.file if self._folder else None

    def evaluate_kwargs(self) -> dict[str, Any]:
        """The arguments of :func:`promptkit.evaluation.evaluate` that reproduce this run."""
        e = self.entry
        out = {"chain": e.chain, "dataset": dataset_ref(e.dataset), "prompt": e.prompt, "split": e.split,
               "limit": e.limit, "mode": e.mode}
        if e.task is not None:
            out["task"] = e.task
        return out

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, indent=2) + "\n"


# -- fingerprints --------------------------------------------------------------------------------------------


def chain_definition(chain: str) -> dict[str, Any]:
    """A chain's validated definition with its defaults (empty when the chain is not a definition file)."""
    try:
        from promptkit.chains import get_definition

        return get_definition(chain).model_dump(mode="json")
    except Exception:  # noqa: BLE001 - a fingerprint is best effort; the run reports real errors
        return {}


def chain_sha256(chain: str) -> str | None:
    """Hash of a chain definition (``None`` when the chain is not a definition file)."""
    data = chain_definition(chain)
    return sha256_bytes(canonical_json(data).encode("utf-8")) if data else None


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): data}


def expected_prompt(entry: SuiteEntry) -> tuple[str | None, str | None, str | None]:
    """(reference, resolved version ref, content hash) of the prompt an entry will use, before running it."""
    ref = entry.prompt
    try:
        if ref is None:
            from promptkit.chains import get_definition

            ref = get_definition(entry.chain).prompt
        from promptkit.prompts import get_prompt_spec

        spec = get_prompt_spec(ref)
        return ref, spec.ref, spec.hash
    except Exception:  # noqa: BLE001 - a fingerprint is best effort
        return ref, None, None


def fingerprint_of(entry: SuiteEntry, result: EvalResult | TaskResult) -> Fingerprint:
    """The fingerprint of a finished run of ``entry``."""
    ref, _, _ = expected_prompt(entry)
    return Fingerprint(
        chain=entry.chain,
        chain_sha256=chain_sha256(entry.chain),
        chain_definition=chain_definition(entry.chain),
        prompt_ref=ref,
        prompt=result.prompt.ref,
        prompt_hash=result.prompt.hash,
        model=result.model.id,
        model_settings=dict(result.model.settings),
        dataset=result.dataset.name,
        dataset_sha256=result.dataset.sha256,
        task=result.task,
        judge=result.judge.id if isinstance(result, TaskResult) and result.judge else None,
        split=result.dataset.split,
        mode=result.mode,
        limit=result.dataset.limit,
    )


def _short(value: Any) -> str:
    return str(value)[:8] if value else "-"


def explain_changes(old: Fingerprint, new: Fingerprint, *, versions: tuple[dict, dict] | None = None) -> list[str]:
    """Plain sentences saying what differs between two fingerprints (empty when nothing does)."""
    out: list[str] = []
    if old.dataset_sha256 != new.dataset_sha256:
        out.append(f"dataset changed: {new.dataset} sha256 {_short(old.dataset_sha256)} → "
                   f"{_short(new.dataset_sha256)}")
    if old.prompt != new.prompt or old.prompt_hash != new.prompt_hash:
        if old.prompt == new.prompt:
            out.append(f"prompt {new.prompt} was edited: hash {_short(old.prompt_hash)} → {_short(new.prompt_hash)}")
        else:
            via = f"{new.prompt_ref}: " if new.prompt_ref else ""
            out.append(f"prompt {via}{old.prompt} (hash {_short(old.prompt_hash)}) → {new.prompt} "
                       f"(hash {_short(new.prompt_hash)})")
    if old.chain_sha256 and new.chain_sha256 and old.chain_sha256 != new.chain_sha256:
        a, b = _flatten(old.chain_definition), _flatten(new.chain_definition)
        fields = [f"{k} {a.get(k)!r} → {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        detail = ": " + ", ".join(fields[:4]) + (" …" if len(fields) > 4 else "") if a and b and fields else ""
        out.append(f"chain {new.chain} definition changed{detail}")
    if new.model is not None and old.model != new.model:
        out.append(f"model {old.model} → {new.model}")
    if new.model_settings:
        keys = sorted(set(old.model_settings) | set(new.model_settings))
        for key in keys:
            if key in _INERT_SETTINGS:
                continue
            a, b = old.model_settings.get(key), new.model_settings.get(key)
            if a != b:
                out.append(f"model setting {key}: {a!r} → {b!r}")
    if (old.task or "squad") != (new.task or "squad"):
        out.append(f"task {old.task or 'squad'} → {new.task or 'squad'}")
    if old.judge != new.judge:
        out.append(f"judge {old.judge or 'none'} → {new.judge or 'none'}")
    for field in ("split", "mode", "limit"):
        a, b = getattr(old, field), getattr(new, field)
        if a != b:
            out.append(f"{field}: {a!r} → {b!r}")
    if versions is not None:
        va, vb = versions
        for name in sorted(set(va) | set(vb)):
            if name != "promptkit" and va.get(name) != vb.get(name):
                out.append(f"package {name}: {va.get(name)} → {vb.get(name)}")
    return out


def expected_fingerprint(entry: SuiteEntry, baseline: Baseline, *, llm: Any = None,
                         dataset_sha256: str | None = None) -> Fingerprint:
    """What the next run of ``entry`` will be, as far as it is known before running it (model settings
    are only known after the run, so the baseline's are kept)."""
    ref, resolved, digest = expected_prompt(entry)
    old = baseline.fingerprint
    model = getattr(llm, "model_id", None) if llm is not None else None
    return old.model_copy(update={
        "chain": entry.chain,
        "chain_sha256": chain_sha256(entry.chain),
        "chain_definition": chain_definition(entry.chain),
        "prompt_ref": ref,
        "prompt": resolved or old.prompt,
        "prompt_hash": digest or old.prompt_hash,
        "model": model or old.model,
        "dataset_sha256": dataset_sha256 or old.dataset_sha256,
        "judge": entry.judge,
    })


def entry_dataset(entry: SuiteEntry) -> tuple[Any, Any]:
    """The evaluation task of a suite entry and its loaded dataset."""
    task = entry.resolved_task()
    return task, task.load(dataset_ref(entry.dataset))


def judge_model(entry: SuiteEntry, cache: Any) -> Any:
    """The chat model a suite entry asks the judge questions (``None`` when it names none), answering through
    ``cache``."""
    if entry.judge is None:
        return None
    from promptkit.llm import load_llm

    return load_llm(entry.judge, cache=cache)


# -- files ---------------------------------------------------------------------------------------------------


def baseline_path(suite: Suite, entry_id: str) -> Path:
    return suite.baseline_dir / f"{entry_id}.json"


def record_hint(suite: Suite, entry_id: str | None = None) -> str:
    where = suite.path if suite.path else suite.name
    try:
        where = Path(where).resolve().relative_to(Path.cwd())  # type: ignore[arg-type]
    except ValueError:
        pass
    entry = f" --entry {entry_id}" if entry_id else ""
    return f"promptkit eval baseline {where}{entry}"


def load_baseline(suite: Suite | str | os.PathLike[str], entry_id: str) -> Baseline:
    """The recorded baseline of one suite entry."""
    suite = load_suite(suite)
    suite.entry(entry_id)
    path = baseline_path(suite, entry_id)
    if not path.is_file():
        raise NotFoundError(
            f"no baseline recorded for suite {suite.name!r} entry {entry_id!r} ({path} is missing)",
            hint=f"record it with `{record_hint(suite, entry_id)}` and commit {suite.baseline_dir}",
        )
    try:
        baseline = Baseline.model_validate(read_json(path, what="baseline file"))
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "top level"
        raise ValidationError(
            f"{path} is not a promptkit baseline ({where}: {first['msg']})",
            hint=f"re-record it with `{record_hint(suite, entry_id)}`",
        ) from None
    baseline._folder = path.parent
    return baseline


def _finish_sqlite(path: Path) -> None:
    """Make a SQLite file self-contained and compact (no WAL sidecar) before it is committed."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("VACUUM")
    finally:
        conn.close()


def _copy_sqlite(src: Path, dest: Path) -> None:
    """A consistent copy of a SQLite file, including what still sits in its write-ahead log."""
    source = sqlite3.connect(f"{src.resolve().as_uri()}?mode=ro", uri=True)
    target = sqlite3.connect(dest)
    try:
        source.backup(target)
    except sqlite3.DatabaseError as exc:
        raise IntegrityError(
            f"replay file {src} is not a readable SQLite database ({exc}; truncated or damaged)",
            hint="restore it from version control, or re-record with `promptkit eval baseline SUITE`",
        ) from None
    finally:
        target.close()
        source.close()


def write_replay(folder: Path, sources: Sequence[tuple[Path, Sequence[str]]]) -> int:
    """Atomically replace ``folder/replay.sqlite`` with the given keys copied from the given cache files."""
    from promptkit.cache import ReplayCache

    folder.mkdir(parents=True, exist_ok=True)
    target = folder / REPLAY_FILE
    with tempfile.TemporaryDirectory(prefix="promptkit-replay-") as scratch:
        tmp = Path(scratch) / REPLAY_FILE
        total = 0
        for i, (source, keys) in enumerate(sources):
            if not keys:
                continue
            if not source.is_file():
                raise IntegrityError(f"replay cache {source} is missing; cannot export {len(keys)} call(s)")
            copy = Path(scratch) / f"source-{i}.sqlite"  # never open (and so never touch) the source in place
            _copy_sqlite(source, copy)
            with ReplayCache(copy, mode="use") as cache:
                total += cache.export(keys, tmp)
        if not tmp.exists():
            ReplayCache(tmp, mode="use")._connect().close()
        _finish_sqlite(tmp)
        staged = folder / f".{REPLAY_FILE}.{os.getpid()}.tmp"
        shutil.copyfile(tmp, staged)
        os.replace(staged, target)
    return total


def record_baseline(
    suite: Suite | str | os.PathLike[str],
    entry_id: str | None = None,
    *,
    cache: str = "use",
    cache_path: str | os.PathLike[str] | None = None,
    llm: Any = None,
    show_progress: bool = True,
) -> list[Baseline]:
    """Run the entries of ``suite`` (or one) and record them as the blessed baselines.

    Model calls go through the replay cache at ``cache_path`` (default: the user's cache) in mode ``cache``
    (``use`` reuses earlier generations, ``refresh`` regenerates everything); the calls each run made are then
    exported into the suite's ``replay.sqlite``, which keeps the other entries' calls.
    """
    from promptkit.cache import ReplayCache
    from promptkit.evaluation import evaluate
    from promptkit.paths import replay_cache_path

    if cache not in ("use", "refresh"):
        raise ValidationError(f"a baseline is recorded with cache mode use or refresh, not {cache!r}")
    suite = load_suite(suite)
    chosen = suite.select(entry_id)
    source = Path(cache_path) if cache_path else replay_cache_path()
    folder = suite.baseline_dir
    recorded: list[Baseline] = []
    new_keys: list[str] = []
    for entry in chosen:
        task, dataset = entry_dataset(entry)
        with ReplayCache(source, mode=cache) as replay:
            result = evaluate(chain=entry.chain, dataset=dataset, task=task, mode=entry.mode,
                              split=entry.split, limit=entry.limit, cache=replay, prompt=entry.prompt,
                              llm=llm,
                              judge=judge_model(entry, replay), show_progress=show_progress)
            keys = sorted(replay.touched)
        new_keys += keys
        recorded.append(Baseline(
            suite=suite.name,
            entry=entry,
            fingerprint=fingerprint_of(entry, result),
            replay=ReplayInfo(keys=keys),
            recorded=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            result=result,
        ))
    # Keep the calls of the entries not re-recorded now.
    chosen_ids = {e.id for e in chosen}
    kept: list[str] = []
    for entry in suite.entries:
        if entry.id in chosen_ids or not baseline_path(suite, entry.id).is_file():
            continue
        with contextlib.suppress(ValidationError):
            kept += load_baseline(suite, entry.id).replay.keys
    wanted = set(new_keys)
    old_keys = [k for k in dict.fromkeys(kept) if k not in wanted]
    sources = [(folder / REPLAY_FILE, old_keys), (source, list(dict.fromkeys(new_keys)))]
    stored = write_replay(folder, sources)
    expected = len(old_keys) + len(wanted)
    if stored != expected:
        raise IntegrityError(
            f"only {stored} of {expected} model calls could be exported to {folder / REPLAY_FILE}",
            hint="record again with --cache refresh",
        )
    for baseline in recorded:
        atomic_write_text(baseline_path(suite, baseline.entry.id), baseline.to_json())
        baseline._folder = folder
    return recorded


@contextlib.contextmanager
def replay_for(baselines: Sequence[Baseline], mode: str, *,
               cache_path: str | os.PathLike[str] | None = None) -> Iterator[Any]:
    """The replay cache a check runs against.

    ``strict``: a private copy of the committed replay file (the committed file is never opened in place);
    ``use``: the user's cache, with the baseline calls imported, so only what changed is generated and kept;
    ``refresh``: the user's cache, regenerating everything.
    """
    from promptkit.cache import ReplayCache, check_mode
    from promptkit.paths import replay_cache_path

    check_mode(mode)
    if mode not in ("use", "strict", "refresh"):
        raise ValidationError(f"a check runs with cache mode use, strict or refresh, not {mode!r}")
    with tempfile.TemporaryDirectory(prefix="promptkit-check-") as scratch:
        copies: list[tuple[Path, list[str]]] = []
        for i, b in enumerate(baselines):
            path = b.replay_path
            if path is None or not path.is_file():
                if mode == "strict":
                    raise NotFoundError(
                        f"replay file {path} of suite {b.suite!r} is missing",
                        hint="re-record the baseline with `promptkit eval baseline SUITE` and commit it",
                    )
                continue
            copy = Path(scratch) / f"replay-{i}.sqlite"
            _copy_sqlite(path, copy)
            copies.append((copy, b.replay.keys))
        if mode == "strict":
            merged = Path(scratch) / "merged.sqlite"
            if len(copies) == 1:
                merged = copies[0][0]
            else:
                for copy, keys in copies:
                    with ReplayCache(copy, mode="use") as c:
                        c.export(keys, merged)
            with ReplayCache(merged, mode="strict") as cache:
                yield cache
            return
        target = Path(cache_path) if cache_path else replay_cache_path()
        if mode == "use":
            for copy, keys in copies:
                with ReplayCache(copy, mode="use") as c:
                    c.export(keys, target)
        with ReplayCache(target, mode=mode) as cache:
            yield cache
