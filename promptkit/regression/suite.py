"""Regression suites: ``eval/suites/<name>.yaml`` lists what to guard and how much it may move.

    name: course                      # optional; the file name without .yaml by default
    description: Prompts of the course assistant
    entries:
      - id: rag_qa
        chain: rag_course
        prompt: rag_qa@production     # optional; the chain's own prompt otherwise
        dataset: course_qa            # a name under eval/datasets/ or a path
        split: dev
        mode: reading                 # reading (gold context) | rag (the chain retrieves)
        limit: 40
        metrics: [exact, f1]          # shown in the table; each is guarded (max_drop 0 unless set)
        tolerances:
          f1: {max_drop: 2.0}         # points (0-100) the metric may fall
          exact: {max_drop: 2.0}
          ci_lower_bound: -5.0        # lower end of the paired-bootstrap 95% CI of (now - baseline)
          max_flips: 0                # items correct (EM) in the baseline that may become wrong
        allow_flips: [q017]           # ids that may flip without counting

The schema is strict: unknown keys and wrong types are one-line errors naming the file and the field.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from promptkit.errors import NotFoundError, ValidationError, unknown

#: metrics a tolerance may name: official SQuAD 2.0 keys and their Portuguese-normalised twins (``*_pt``)
GUARDABLE = ("exact", "f1", "exact_pt", "f1_pt", "HasAns_exact", "HasAns_f1", "NoAns_exact", "NoAns_f1")
#: metrics with a per-item score, hence a paired-bootstrap CI of the difference
PAIRED = ("exact", "f1", "exact_pt", "f1_pt")
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MetricTolerance(_Strict):
    """How far one metric may move against the baseline (points on the 0-100 scale)."""

    max_drop: float = Field(default=0.0, ge=0.0, description="largest allowed fall of the metric")
    ci_lower_bound: float | None = Field(
        default=None, description="the CI of (now - baseline) must have its lower end at or above this"
    )


class Tolerances(_Strict):
    """Per-metric tolerances plus the suite-wide CI and flip rules."""

    exact: MetricTolerance | None = None
    f1: MetricTolerance | None = None
    exact_pt: MetricTolerance | None = None
    f1_pt: MetricTolerance | None = None
    HasAns_exact: MetricTolerance | None = None
    HasAns_f1: MetricTolerance | None = None
    NoAns_exact: MetricTolerance | None = None
    NoAns_f1: MetricTolerance | None = None
    ci_lower_bound: float | None = Field(
        default=None, description="default CI bound for every guarded metric that has per-item scores"
    )
    max_flips: int | None = Field(default=None, ge=0, description="correct → wrong items allowed")

    def for_metric(self, name: str) -> MetricTolerance:
        return getattr(self, name, None) or MetricTolerance()

    def named(self) -> list[str]:
        return [m for m in GUARDABLE if getattr(self, m) is not None]


class SuiteEntry(_Strict):
    """One guarded configuration: a chain (and prompt) on a dataset split."""

    id: str = Field(pattern=ID_PATTERN)
    chain: str
    prompt: str | None = None
    dataset: str
    split: str | None = None
    mode: Literal["reading", "rag"] = "reading"
    limit: int | None = Field(default=None, ge=1)
    metrics: list[str] = Field(default_factory=lambda: ["exact", "f1"])
    tolerances: Tolerances = Field(default_factory=Tolerances)
    allow_flips: list[str] = Field(default_factory=list)
    description: str = ""

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: list[str]) -> list[str]:
        for name in value:
            if name not in GUARDABLE:
                raise ValueError(f"unknown metric {name!r}; expected some of: {', '.join(GUARDABLE)}")
        if not value:
            raise ValueError("list at least one metric")
        return list(dict.fromkeys(value))

    def guarded(self) -> list[str]:
        """Metrics checked: those listed plus any a tolerance names, in a stable order."""
        return list(dict.fromkeys([*self.metrics, *self.tolerances.named()]))

    def run_config(self) -> dict[str, Any]:
        """What a recorded baseline must match for its numbers to be comparable."""
        return {
            "chain": self.chain,
            "prompt": self.prompt,
            "dataset": self.dataset,
            "split": self.split,
            "mode": self.mode,
            "limit": self.limit,
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
