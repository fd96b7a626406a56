"""``check``: re-run suite entries against their baselines and judge the difference.

Outcomes per entry: ``pass``; ``regression`` (a tolerance was exceeded); ``dataset_changed`` (the dataset's
sha256 differs from the baseline's, so the numbers are not comparable: re-record the baseline);
``entry_changed`` (the suite entry's chain, dataset, task, split, mode, limit or judge differs from what was
recorded).
Every outcome but ``pass`` makes the check fail (exit 1). A strict replay that needs a model call the baseline
does not hold raises :class:`~promptkit.errors.CacheMissError` (exit 2) saying what changed and how to re-record.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Literal

from promptkit.errors import CacheMissError
from promptkit.evaluation.results import EvalResult, TaskResult
from promptkit.regression.baseline import (
    REPLAY_FILE,
    Baseline,
    entry_dataset,
    explain_changes,
    expected_fingerprint,
    fingerprint_of,
    judge_model,
    load_baseline,
    record_hint,
    replay_for,
)
from promptkit.regression.gate import Verdict, format_verdict, gate
from promptkit.regression.suite import Suite, SuiteEntry, load_suite

Status = Literal["pass", "regression", "dataset_changed", "entry_changed"]


@dataclass
class EntryCheck:
    """The check of one suite entry."""

    suite: str
    entry: SuiteEntry
    baseline: Baseline
    status: Status
    changes: list[str]
    verdict: Verdict | None = None
    result: EvalResult | TaskResult | None = None
    hint: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "pass"

    @property
    def failures(self) -> list[str]:
        if self.status in ("dataset_changed", "entry_changed"):
            return self.changes[:1]
        return self.verdict.failures if self.verdict else []

    def summary(self) -> str:
        b = self.baseline.fingerprint
        head = f"== {self.suite}/{self.entry.id}: chain {self.entry.chain} · prompt {self.entry.prompt or b.prompt_ref}"
        lines = [head]
        if self.result is not None:
            r = self.result
            task = "" if (b.task or "squad") == "squad" else f"task {b.task}, "
            lines.append(f"   baseline {b.prompt} · model {b.model} · {b.dataset} {b.split or 'all'} "
                         f"({task}{self.baseline.result.dataset.total} questions, mode {b.mode})")
            lines.append(f"   now      {r.prompt.ref} · model {r.model.id} · cache {r.cache.mode}: "
                         f"{r.cache.hits} replayed, {r.cache.misses} generated")
        if self.status == "dataset_changed":
            lines.append(f"   DATASET CHANGED (not a regression): {self.changes[0]}")
            lines.append(f"   re-record the baseline: {self.hint}")
            return "\n".join(lines)
        if self.status == "entry_changed":
            lines.append(f"   SUITE ENTRY CHANGED since the baseline: {'; '.join(self.changes)}")
            lines.append(f"   re-record the baseline: {self.hint}")
            return "\n".join(lines)
        if self.changes:
            lines.append("   what changed: " + "; ".join(self.changes))
        else:
            lines.append("   what changed: nothing (prompt, model, settings and dataset match the baseline)")
        lines.append("")
        assert self.verdict is not None
        lines += ["   " + line if line else "" for line in format_verdict(self.verdict).splitlines()]
        lines.append("")
        if self.ok:
            lines.append("   PASS")
        else:
            lines.append("   REGRESSION")
            lines += [f"   - {f}" for f in self.verdict.failures]
            lines.append(f"   if the change is intended, re-record the baseline: {self.hint}")
        return "\n".join(lines)


@dataclass
class SuiteCheck:
    """The checks of one or more suites."""

    entries: list[EntryCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(e.ok for e in self.entries)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def tail(self) -> str:
        """One closing line: how many entries passed and which failed, and why."""
        passed = sum(e.ok for e in self.entries)
        failed = [f"{e.suite}/{e.entry.id} ({e.status.replace('_', ' ')})" for e in self.entries if not e.ok]
        line = f"{passed} of {len(self.entries)} entries passed"
        return line + ("; failed: " + ", ".join(failed) if failed else "")

    def summary(self) -> str:
        return "\n\n".join([*(e.summary() for e in self.entries), self.tail()])


def _config_changes(entry: SuiteEntry, baseline: Baseline) -> list[str]:
    now, then = entry.run_config(), baseline.entry.run_config()
    now["mode"] = entry.effective_mode()
    then["mode"] = baseline.entry.effective_mode() or baseline.fingerprint.mode
    task = entry.task_or_none()
    now["task"] = task.name if task is not None else entry.task
    then["task"] = baseline.entry.task or baseline.fingerprint.task or "squad"
    keys = ("chain", "dataset", "task", "split", "mode", "limit", "judge")
    return [f"{k}: {then[k]!r} → {now[k]!r}" for k in keys if now[k] != then[k]]


def check_entry(
    suite: Suite,
    entry: SuiteEntry,
    *,
    cache: str = "use",
    llm: Any = None,
    cache_path: str | os.PathLike[str] | None = None,
    show_progress: bool = True,
) -> EntryCheck:
    """Re-run one entry against its baseline's replay calls and judge it."""
    from promptkit.evaluation import evaluate

    baseline = load_baseline(suite, entry.id)
    folder = suite.baseline_dir
    with contextlib.suppress(ValueError):
        folder = folder.resolve().relative_to(Path.cwd())
    hint = f"`{record_hint(suite, entry.id)}`, then commit {folder}/"
    config = _config_changes(entry, baseline)
    if config:
        return EntryCheck(suite.name, entry, baseline, "entry_changed", config, hint=hint)
    task, dataset = entry_dataset(entry)
    expected = expected_fingerprint(entry, baseline, llm=llm, dataset_sha256=dataset.sha256)
    if dataset.sha256 != baseline.fingerprint.dataset_sha256:
        return EntryCheck(suite.name, entry, baseline, "dataset_changed",
                          explain_changes(baseline.fingerprint, expected), hint=hint)
    with replay_for([baseline], cache, cache_path=cache_path) as replay:
        try:
            result = evaluate(chain=entry.chain, dataset=dataset, task=task, mode=entry.mode,
                              split=entry.split, limit=entry.limit, cache=replay, prompt=entry.prompt,
                              llm=llm,
                              judge=judge_model(entry, replay), show_progress=show_progress)
        except CacheMissError as exc:
            changed = explain_changes(baseline.fingerprint, expected) or [
                "nothing visible in the prompt, chain or dataset (the model or its settings may differ)"]
            found = re.search(r"(\d+) model call", exc.message)
            count = f" ({found.group(1)} missing in the first batch)" if found else ""
            raise CacheMissError(
                f"strict replay of {suite.name}/{entry.id}: model calls are missing from "
                f"{folder / REPLAY_FILE}{count}; what changed: {'; '.join(changed)}",
                hint=f"re-record with {hint} (or run `promptkit eval check --cache use` to generate "
                "only the new calls)",
            ) from None
    changes = explain_changes(baseline.fingerprint, fingerprint_of(entry, result),
                              versions=(baseline.result.versions, result.versions))
    verdict = gate(baseline.result, result, metrics=entry.metrics, tolerances=entry.tolerances,
                   allow_flips=entry.allow_flips)
    status: Status = "pass" if verdict.ok else "regression"
    return EntryCheck(suite.name, entry, baseline, status, changes, verdict, result, hint=hint)


def check_suite(
    suite: Suite | str | os.PathLike[str],
    entry_id: str | None = None,
    *,
    cache: str = "use",
    llm: Any = None,
    cache_path: str | os.PathLike[str] | None = None,
    show_progress: bool = True,
    entries: list[SuiteEntry] | None = None,
    on_entry: Callable[[EntryCheck], None] | None = None,
) -> SuiteCheck:
    """Check the entries of one suite (all, one by id, or the given ones)."""
    suite = load_suite(suite)
    chosen = entries if entries is not None else suite.select(entry_id)
    report = SuiteCheck()
    for entry in chosen:
        done = check_entry(suite, entry, cache=cache, llm=llm, cache_path=cache_path, show_progress=show_progress)
        report.entries.append(done)
        if on_entry:
            on_entry(done)
    return report


def entries_using_label(name: str, label: str, suites: list[Suite]) -> list[tuple[Suite, SuiteEntry]]:
    """Suite entries whose prompt reference resolves through ``name@label`` (``name`` alone means the
    production label when the prompt has one)."""
    from promptkit.chains import get_definition
    from promptkit.prompts.store import parse_ref

    out = []
    for suite in suites:
        for entry in suite.entries:
            ref = entry.prompt
            if ref is None:
                try:
                    ref = get_definition(entry.chain).prompt
                except Exception:  # noqa: BLE001 - an unknown chain fails in the check itself
                    continue
            try:
                ref_name, selector = parse_ref(ref)
            except Exception:  # noqa: BLE001
                continue
            if ref_name == name and (selector == label or (selector is None and label == "production")):
                out.append((suite, entry))
    return out
