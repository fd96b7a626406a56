"""Regression suites: ``eval/suites/<name>.yaml`` lists what to guard and how much it may move.

    name: course                      # optional; the file name without .yaml by default
    description: Prompts of the course assistant
    entries:
      - id: rag_qa
        chain: rag_course
        prompt: rag_qa@production     # optional; the chain's own prompt otherwise
        dataset: course_qa            # a name under eval/datasets/ or a path
        task: squad                   # optional; inferred from the dataset (see promptkit.evaluation.tasks)
        split: dev
        mode: reading                 # reading (gold context) | rag (the chain retrieves); the task's default
        limit: 40
        metrics: [exact, f1]          # shown in the table; each is guarded (no worsening unless set);
                                      # default: the task's headline metrics
        tolerances:
          f1: {max_drop: 2.0}         # how far the metric may fall, on its own scale (SQuAD: points 0-100)
          exact: {max_drop: 2.0}
          ci_lower_bound: -5.0        # lower end of the paired-bootstrap 95% CI of (now - baseline)
          max_flips: 0                # items correct in the baseline (SQuAD: EM 1) that may become wrong
        allow_flips: [q017]           # ids that may flip without counting
      - id: tutor
        chain: tutor
        dataset: tutor_questions      # a long-form task: its own metrics (0-1 shares, lengths in words)
        split: dev
        metrics: [key_fact_recall, faithfulness, decline_accuracy]
        tolerances:
          key_fact_recall: {max_drop: 0.05}
          false_decline_rate: {max_rise: 0.05}   # lower is better: bounded from above
          answer_words: {max_rise: 20}           # neither better: bounded only where a tolerance says so
          max_flips: 2

Metric names are the task's (``promptkit eval run`` prints them). A metric where higher is better may not fall
(``max_drop``, default 0), one where lower is better may not rise (``max_rise``, default 0), one where neither
is better (a length) is bounded only by the tolerances given. The schema is strict: unknown keys, unknown
metrics and wrong types are one-line errors naming the file and the field.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from promptkit.errors import NotFoundError, ValidationError, unknown

#: suite-wide tolerance settings (every other key of ``tolerances`` names a metric)
SUITE_WIDE = ("ci_lower_bound", "max_flips")
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


def dataset_ref(ref: str) -> str:
    """A suite's dataset: a name under ``eval/datasets/``, a path, or a path relative to the project root."""
    path = Path(ref).expanduser()
    if path.exists() or path.is_absolute() or not (path.suffix or len(path.parts) > 1):
        return ref
    from promptkit.paths import project_root

    candidate = project_root() / path
    return str(candidate) if candidate.exists() else ref


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MetricTolerance(_Strict):
    """How far one metric may move against the baseline, on the metric's own scale (SQuAD: points 0-100)."""

    max_drop: float | None = Field(default=None, ge=0.0, description="largest allowed fall of the metric")
    max_rise: float | None = Field(default=None, ge=0.0, description="largest allowed rise of the metric")
    ci_lower_bound: float | None = Field(
        default=None, description="the CI of the improvement (now - baseline, or baseline - now where lower "
        "is better) must have its lower end at or above this"
    )

    def bounds(self, better: str | None) -> tuple[float | None, float | None]:
        """(largest fall, largest rise) allowed; unset, the worse direction defaults to 0."""
        drop, rise = self.max_drop, self.max_rise
        if drop is None and rise is None:
            if better == "higher":
                drop = 0.0
            elif better == "lower":
                rise = 0.0
        return drop, rise


class Tolerances(_Strict):
    """Per-metric tolerances (one key per metric name) plus the suite-wide CI and flip rules."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, MetricTolerance] = Field(init=False)  # type: ignore[assignment]

    ci_lower_bound: float | None = Field(
        default=None, description="default CI bound for every guarded metric that has per-item scores"
    )
    max_flips: int | None = Field(default=None, ge=0, description="correct → wrong items allowed")

    @model_validator(mode="before")
    @classmethod
    def _metric_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out = {}
        for key, value in data.items():
            if key in SUITE_WIDE:
                out[key] = value
            elif value is None:
                continue  # a metric without a tolerance (baselines record every SQuAD metric, most as null)
            elif not isinstance(value, dict | MetricTolerance):
                raise ValueError(f"{key}: a metric tolerance is a mapping such as {{max_drop: 2.0}}, "
                                 f"got {value!r} (the suite-wide settings are {' and '.join(SUITE_WIDE)})")
            else:
                out[key] = value
        return out

    def for_metric(self, name: str) -> MetricTolerance:
        return (self.__pydantic_extra__ or {}).get(name) or MetricTolerance()

    def named(self) -> list[str]:
        """The metrics a tolerance is given for, in the order written."""
        return list(self.__pydantic_extra__ or {})


class SuiteEntry(_Strict):
    """One guarded configuration: a chain (and prompt) on a dataset split."""

    id: str = Field(pattern=ID_PATTERN)
    chain: str
    prompt: str | None = None
    dataset: str
    task: str | None = None
    split: str | None = None
    mode: Literal["reading", "rag"] | None = None
    limit: int | None = Field(default=None, ge=1)
    metrics: list[str] | None = None
    tolerances: Tolerances = Field(default_factory=Tolerances)
    allow_flips: list[str] = Field(default_factory=list)
    judge: str | None = Field(default=None, description="a chat model (catalogue name) asked the task's "
                              "judge questions")
    description: str = ""

    @field_validator("metrics")
    @classmethod
    def _listed(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("list at least one metric, or leave metrics out for the task's headline metrics")
        return None if value is None else list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _known_metrics(self) -> SuiteEntry:
        try:
            task = self.task_or_none()
        except NotFoundError as exc:
            raise ValueError(f"task: {exc.message}") from None
        if task is None:
            return self
        known = task.guardable()
        for name in [*(self.metrics or []), *self.tolerances.named()]:
            if name not in known:
                where = "metrics" if name in (self.metrics or []) else f"tolerances.{name}"
                raise ValueError(f"{where}: unknown metric {name!r} of task {task.name}; expected some of: "
                                 f"{', '.join(known)}")
        if self.mode is not None and self.mode not in task.modes:
            modes = " or ".join(task.modes)
            raise ValueError(f"mode: task {task.name} runs in mode {modes}, not {self.mode!r}")
        return self

    def task_or_none(self) -> Any:
        """The entry's evaluation task: named, or inferred from its dataset (``None`` when the dataset cannot
        be read now; the run reports it then)."""
        from promptkit.evaluation.tasks import get_task, infer_task

        if self.task is not None:
            return get_task(self.task)
        try:
            return infer_task(dataset_ref(self.dataset))
        except Exception:  # noqa: BLE001 - a missing or broken dataset fails the run with its own error
            return None

    def resolved_task(self) -> Any:
        """The entry's evaluation task (raising the dataset's own error when it cannot be told)."""
        from promptkit.evaluation.tasks import get_task, infer_task

        return get_task(self.task) if self.task is not None else infer_task(dataset_ref(self.dataset))

    def guarded(self) -> list[str]:
        """Metrics checked: those listed (else the task's headline ones) plus any a tolerance names."""
        listed = self.metrics if self.metrics is not None else self.resolved_task().default_metrics()
        return list(dict.fromkeys([*listed, *self.tolerances.named()]))

    def effective_mode(self) -> str | None:
        """The mode the entry runs in: its own, else its task's default (``None``: task unknown)."""
        if self.mode is not None:
            return self.mode
        task = self.task_or_none()
        return task.default_mode if task is not None else None

    def run_config(self) -> dict[str, Any]:
        """What a recorded baseline must match for its numbers to be comparable."""
        return {
            "chain": self.chain,
            "prompt": self.prompt,
            "dataset": self.dataset,
            "task": self.task,
            "split": self.split,
            "mode": self.mode,
            "limit": self.limit,
            "judge": self.judge,
        }


class Suite(_Strict):
    """A validated suite file."""

    name: str = Field(default="", pattern=r"^$|" + ID_PATTERN)
    description: str = ""
    entries: list[SuiteEntry] = Field(min_length=1)
    _path: Path | None = PrivateAttr(default=None)

    @property
    def path(self) -> Path | None:
        """The file this suite was read from."""
        return self._path

    @model_validator(mode="after")
    def _unique_ids(self) -> Suite:
        seen: set[str] = set()
        for entry in self.entries:
            if entry.id in seen:
                raise ValueError(f"entry id {entry.id!r} appears twice")
            seen.add(entry.id)
        return self

    def entry(self, entry_id: str) -> SuiteEntry:
        for entry in self.entries:
            if entry.id == entry_id:
                return entry
        raise unknown(f"entry of suite {self.name!r}", entry_id, [e.id for e in self.entries])

    def select(self, entry_id: str | None) -> list[SuiteEntry]:
        return [self.entry(entry_id)] if entry_id else list(self.entries)

    @property
    def baseline_dir(self) -> Path:
        """``eval/baselines/<name>/`` beside the ``suites/`` folder holding this file."""
        if self.path is not None and self.path.parent.name == "suites":
            return self.path.parent.parent / "baselines" / self.name
        from promptkit.paths import eval_dir

        return eval_dir() / "baselines" / self.name


def _one_line(exc: PydanticValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "top level"
    msg = first["msg"].removeprefix("Value error, ")
    field = re.match(r"^([A-Za-z_][\w.]*): ", msg)
    if field and first["loc"]:  # "entries.0" + "metrics: unknown …" → "entries.0.metrics: unknown …"
        where, msg = f"{where}.{field.group(1)}", msg[field.end():]
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {msg}{more}"


def parse_suite(data: Any, *, path: Path | None = None, name: str | None = None) -> Suite:
    """Validate a suite mapping (one :class:`ValidationError` line on any problem)."""
    label = str(path) if path else "<suite>"
    if not isinstance(data, dict):
        raise ValidationError(f"suite {label} must be a mapping with an 'entries' list, got {type(data).__name__}")
    try:
        suite = Suite.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationError(f"suite {label}: {_one_line(exc)}", hint="see eval/suites/course.yaml") from None
    suite._path = path
    if not suite.name:
        suite.name = name or (path.stem if path else "suite")
    return suite


def suites_dir() -> Path:
    from promptkit.paths import eval_dir

    return eval_dir() / "suites"


def list_suites() -> list[Path]:
    """The suite files of the project, sorted by name."""
    folder = suites_dir()
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


def resolve_suite_path(ref: str | os.PathLike[str]) -> Path:
    """A suite file from a path, or a name under ``eval/suites/``."""
    path = Path(ref).expanduser()
    if path.is_file():
        return path.resolve()
    if path.suffix not in (".yaml", ".yml") and os.sep not in str(ref):
        candidate = suites_dir() / f"{ref}.yaml"
        if candidate.is_file():
            return candidate.resolve()
        raise unknown("suite", str(ref), [p.stem for p in list_suites()])
    raise NotFoundError(f"suite file {path} does not exist", hint="create it under eval/suites/")


def load_suite(ref: str | os.PathLike[str] | Suite) -> Suite:
    """Load and validate a suite (a :class:`Suite`, a path or a name under ``eval/suites/``)."""
    if isinstance(ref, Suite):
        return ref
    path = resolve_suite_path(ref)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ValidationError(f"suite {path} is not valid YAML{where}") from None
    return parse_suite(data, path=path)
