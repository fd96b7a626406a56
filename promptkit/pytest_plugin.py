"""pytest plugin for prompt regression tests (registered through the ``pytest11`` entry point).

Fixtures:

* ``promptkit_eval(chain=, dataset=, prompt=, split=, limit=, mode=, llm=, baseline=, replay=, cache=,
  task=…)`` runs an evaluation of any task and returns its results (:class:`~promptkit.evaluation.EvalResult`
  for SQuAD, :class:`~promptkit.evaluation.TaskResult` for others). Model calls go through a replay cache in
  the mode of ``--promptkit-cache`` (default ``use``; CI passes ``strict``): the baseline's recorded calls
  when ``baseline=`` is given, the file ``replay=`` otherwise, else the user's cache.
* ``promptkit_baseline(suite, entry)`` loads a recorded baseline (``eval/baselines/<suite>/<entry>.json``).
* ``promptkit_check(suite, entry=None)`` runs ``promptkit eval check`` and returns the report (``.ok``,
  ``.summary()``).
* ``prompt_snapshot(ref, inputs)`` renders a prompt and compares it with ``tests/snapshots/…``;
  ``promptkit_snapshot(name, value)`` does the same for any text or JSON value (model outputs under the
  replay cache). ``--promptkit-update-snapshots`` re-records them.

Assertions: :func:`promptkit.regression.assert_no_regression` (also importable from ``promptkit.testing``).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

CACHE_MODES = ("use", "strict", "refresh", "off")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("promptkit", "promptkit prompt regression testing")
    group.addoption(
        "--promptkit-cache",
        choices=CACHE_MODES,
        default="use",
        help="replay-cache mode of promptkit_eval/promptkit_check: use (default), strict (CI: fail on any "
        "model call not recorded), refresh, off",
    )
    group.addoption(
        "--promptkit-update-snapshots",
        action="store_true",
        default=False,
        help="re-record prompt and output snapshots instead of comparing with them",
    )
    parser.addini("promptkit_snapshot_dir", "folder of promptkit snapshots", default="tests/snapshots")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "model: loads the real default model (slow)")


@pytest.fixture
def promptkit_cache_mode(request: pytest.FixtureRequest) -> str:
    """The replay-cache mode given by ``--promptkit-cache``."""
    return str(request.config.getoption("--promptkit-cache"))


@pytest.fixture
def promptkit_baseline() -> Callable[..., Any]:
    """Factory: ``promptkit_baseline(suite, entry)`` → :class:`promptkit.regression.Baseline`."""
    from promptkit.regression import load_baseline

    return load_baseline


@pytest.fixture
def promptkit_eval(promptkit_cache_mode: str, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Any]:
    """Factory running :func:`promptkit.evaluation.evaluate` under the replay cache of this test run."""
    import shutil

    from promptkit.cache import ReplayCache
    from promptkit.evaluation import evaluate
    from promptkit.regression.baseline import replay_for

    def run(
        chain: Any = None,
        dataset: Any = None,
        *,
        prompt: str | None = None,
        split: str | None = None,
        limit: int | None = None,
        mode: str | None = None,
        llm: Any = None,
        baseline: Any = None,
        replay: str | Path | None = None,
        cache: str | None = None,
        **kwargs: Any,
    ) -> Any:
        cache_mode = cache or promptkit_cache_mode
        args: dict[str, Any] = {}
        if baseline is not None:
            args = baseline.evaluate_kwargs()
        given = {"chain": chain, "dataset": dataset, "prompt": prompt, "split": split, "limit": limit,
                 "mode": mode}
        args.update({k: v for k, v in given.items() if v is not None})  # mode: the task's default when unset
        if args.get("chain") is None or args.get("dataset") is None:
            raise TypeError("promptkit_eval needs chain= and dataset= (or baseline=)")
        kwargs.setdefault("show_progress", False)
        if baseline is not None and replay is None:
            with replay_for([baseline], "use" if cache_mode == "off" else cache_mode) as store:
                return evaluate(**args, llm=llm, cache=store, **kwargs)
        if replay is not None:
            path = Path(replay)
            if cache_mode == "strict":  # replay from a private copy: the committed file stays untouched
                copy = tmp_path_factory.mktemp("replay") / path.name
                if path.is_file():
                    shutil.copyfile(path, copy)
                path = copy
            with ReplayCache(path, mode=cache_mode) as store:
                return evaluate(**args, llm=llm, cache=store, **kwargs)
        return evaluate(**args, llm=llm, cache=cache_mode, **kwargs)

    return run


@pytest.fixture
def promptkit_check(promptkit_cache_mode: str) -> Callable[..., Any]:
    """Factory: ``promptkit_check(suite, entry=None, llm=None, cache=None)`` → a
    :class:`promptkit.regression.SuiteCheck` (``.ok``, ``.exit_code``, ``.summary()``)."""
    from promptkit.regression import check_suite

    def run(suite: Any, entry: str | None = None, *, llm: Any = None, cache: str | None = None) -> Any:
        return check_suite(suite, entry, cache=cache or promptkit_cache_mode, llm=llm, show_progress=False)

    return run


# -- snapshots -----------------------------------------------------------------------------------------------


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.@=-]+", "-", text).strip("-") or "snapshot"


class SnapshotStore:
    """Text snapshots under ``<rootdir>/tests/snapshots/<test module>/<test>--<name>.txt``."""

    def __init__(self, request: pytest.FixtureRequest):
        config = request.config
        self.update = bool(config.getoption("--promptkit-update-snapshots"))
        self.folder = Path(config.rootpath) / str(config.getini("promptkit_snapshot_dir")) / _safe(
            Path(str(request.node.path)).stem
        )
        self.test = _safe(request.node.name)

    def path(self, name: str) -> Path:
        return self.folder / f"{self.test}--{_safe(name)}.txt"

    def check(self, name: str, text: str) -> str:
        from promptkit.fileio import atomic_write_text

        path = self.path(name)
        if self.update:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_text(path, text)
            return text
        if not path.is_file():
            pytest.fail(f"snapshot {path} does not exist; record it with `pytest --promptkit-update-snapshots`",
                        pytrace=False)
        recorded = path.read_text(encoding="utf-8")
        if recorded != text:
            diff = "".join(difflib.unified_diff(recorded.splitlines(keepends=True), text.splitlines(keepends=True),
                                                fromfile=f"{path.name} (recorded)", tofile="now"))
            pytest.fail(f"snapshot {path} differs:\n{diff}\nif the change is intended, re-record with "
                        "`pytest --promptkit-update-snapshots`", pytrace=False)
        return text


def as_snapshot_text(value: Any) -> str:
    """Text as is (with a final newline); anything else as sorted, indented JSON."""
    if isinstance(value, str):
        return value if value.endswith("\n") else value + "\n"
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


@pytest.fixture
def promptkit_snapshot(request: pytest.FixtureRequest) -> Callable[[str, Any], str]:
    """``promptkit_snapshot(name, value)``: compare a text (or JSON value, e.g. model answers) with its snapshot."""
    store = SnapshotStore(request)
    return lambda name, value: store.check(name, as_snapshot_text(value))


@pytest.fixture
def prompt_snapshot(request: pytest.FixtureRequest) -> Callable[..., str]:
    """``prompt_snapshot(ref, inputs, name=None, embeddings=None)``: render a prompt version and compare it
    with its snapshot; returns the rendered text. Few-shot prompts select examples with ``embeddings``
    (default: the deterministic hashing embeddings, so no model is needed)."""
    store = SnapshotStore(request)

    def check(ref: str, inputs: dict[str, Any], *, name: str | None = None, embeddings: Any = None) -> str:
        from promptkit.prompts import render

        if embeddings is None:
            from promptkit.testing import FakeEmbeddings

            embeddings = FakeEmbeddings()
        text = render(ref, inputs, embeddings=embeddings)
        return store.check(name or ref, as_snapshot_text(text))

    return check
