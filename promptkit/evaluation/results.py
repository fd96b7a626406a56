"""The results of one evaluation run: scores, per-example rows and the versions of what produced them.

Two file schemas, both strict pydantic models:

* ``promptkit.eval/v1`` (:class:`EvalResult`): SQuAD 2.0 question answering, official and
  Portuguese-normalised EM/F1 (the schema every SQuAD run writes, unchanged);
* ``promptkit.eval/v2`` (:class:`TaskResult`): any other evaluation task (:mod:`promptkit.evaluation.tasks`):
  the task's name, its metrics with bootstrap intervals, the same metrics per group of items (e.g. per
  question type and language), and one :class:`TaskRow` per item with its per-row scores.

:func:`load_result_file` reads either, by its ``schema`` key.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from promptkit.errors import ValidationError
from promptkit.fileio import atomic_write_text, read_json

RESULTS_SCHEMA = "promptkit.eval/v1"
TASK_RESULTS_SCHEMA = "promptkit.eval/v2"


class EvalRow(BaseModel):
    """One question: the gold answers, what the chain said, and its scores (raw: EM 0/1, F1 in [0, 1])."""

    model_config = ConfigDict(extra="forbid")

    id: str
    question: str
    answers: list[str]
    is_impossible: bool
    split: str | None = None
    prediction: str = Field(description='the answer scored ("" for an abstention)')
    raw: str = Field(description="the model's text before parsing")
    exact: int
    f1: float
    exact_pt: int
    f1_pt: float
    abstained: bool
    na_prob: float | None = None
    sources: list[dict[str, Any]] = Field(default_factory=list)
    hit_rank: int | None = Field(
        default=None,
        description="rag mode: 1-based rank of the first context "
        "holding a gold answer, 0 if none; None for unanswerable or reading mode",
    )
    examples: list[str] = Field(default_factory=list)
    check_raw: str | None = Field(default=None, description="the cross-check prompt's text, when the chain has one")
    latency_s: float = 0.0


class DatasetRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str
    name: str
    sha256: str
    split: str | None = None
    limit: int | None = None
    total: int


class PromptRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ref: str | None = None
    hash: str | None = None
    cross_check: str | None = Field(default=None, description="the chain's second prompt, when it has one")


class ModelRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)


class CacheStats(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: str
    path: str | None = None
    hits: int = 0
    misses: int = 0


class RetrievalStats(BaseModel):
    model_config = ConfigDict(extra="forbid")

    k: int
    hit_at_1: float
    hit_at_k: float
    total: int


class _ResultsFile(BaseModel):
    """What both results schemas do the same way: a label, rows by id, and the file itself (atomic save,
    validated load). Subclasses hold ``chain``, ``prompt`` and ``rows``."""

    @property
    def label(self) -> str:
        """A short name for tables and charts: the prompt ref, else the chain name."""
        return self.prompt.ref or self.chain  # type: ignore[attr-defined]

    def row_map(self) -> dict[str, Any]:
        return {r.id: r for r in self.rows}  # type: ignore[attr-defined]

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, indent=2) + "\n"

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the results atomically (a crash leaves the old file or the new one)."""
        target = Path(path)
        atomic_write_text(target, self.to_json())
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Self:
        return _validate(cls, read_json(path, what="results file"), path)


class EvalResult(_ResultsFile):
    """Everything one ``evaluate`` call produced; saved as JSON with :meth:`save`."""

    model_config = ConfigDict(extra="forbid")

    schema_: Literal["promptkit.eval/v1"] = Field(default=RESULTS_SCHEMA, alias="schema")
    chain: str
    mode: Literal["reading", "rag"]
    dataset: DatasetRef
    prompt: PromptRef
    model: ModelRef
    metrics: dict[str, float | int] = Field(description="official SQuAD 2.0 keys")
    metrics_pt: dict[str, float | int] = Field(description="same keys, Portuguese-aware normaliser")
    normalizers: dict[str, str]
    ci: dict[str, dict[str, Any]] = Field(default_factory=dict)
    retrieval: RetrievalStats | None = None
    cache: CacheStats
    versions: dict[str, str | None]
    timestamp: str
    duration_s: float
    rows: list[EvalRow]

    # -- convenience -----------------------------------------------------------------------------------------
    @property
    def task(self) -> str:
        """The evaluation task: always SQuAD question answering for this schema."""
        return "squad"

    def metric(self, name: str) -> float | None:
        """A metric by name: an official key, or its Portuguese-normalised twin with the suffix ``_pt``."""
        value = self.metrics_pt.get(name[: -len("_pt")]) if name.endswith("_pt") else self.metrics.get(name)
        return None if value is None else float(value)

    def summary(self) -> str:
        """A plain-text table of the scores."""
        return format_summary(self)


class TaskRow(BaseModel):
    """One item of a task other than SQuAD: what it expects, what the chain said and the per-row scores.

    ``scores`` holds every per-row metric of the task, ``None`` where a metric does not apply to this item
    (e.g. key-fact recall of a question the material does not cover); ``correct`` is the task's verdict used
    for flips (``None``: not counted)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    split: str | None = None
    question: str = Field(description="the item's text as shown in reports (a question, a text to classify…)")
    gold: dict[str, Any] = Field(default_factory=dict, description="what the item expects (the dataset's)")
    groups: dict[str, str] = Field(default_factory=dict, description="the item's group per breakdown key")
    prediction: str = Field(description="the answer scored")
    output: dict[str, Any] = Field(default_factory=dict, description="what the task keeps of the output")
    scores: dict[str, float | None]
    correct: bool | None = None
    details: dict[str, Any] = Field(default_factory=dict, description="how the scores came about")
    latency_s: float = 0.0


class TaskResult(_ResultsFile):
    """Everything one ``evaluate`` call of a task other than SQuAD produced; saved as JSON with :meth:`save`.

    Its text summary needs the task's metric definitions: :func:`promptkit.evaluation.format_summary`."""

    model_config = ConfigDict(extra="forbid")

    schema_: Literal["promptkit.eval/v2"] = Field(default=TASK_RESULTS_SCHEMA, alias="schema")
    task: str
    chain: str
    mode: str
    dataset: DatasetRef
    prompt: PromptRef
    model: ModelRef
    judge: ModelRef | None = Field(default=None, description="the LLM judge's model, when one was asked")
    metrics: dict[str, float | int | None] = Field(description="the task's metrics over all items")
    ci: dict[str, dict[str, Any]] = Field(default_factory=dict)
    groups: dict[str, dict[str, dict[str, float | int | None]]] = Field(
        default_factory=dict, description="breakdown key → group → the metrics of its items (with n)"
    )
    cache: CacheStats
    versions: dict[str, str | None]
    timestamp: str
    duration_s: float
    rows: list[TaskRow]

    def metric(self, name: str) -> float | None:
        value = self.metrics.get(name)
        return None if value is None else float(value)



#: a results file of either schema
AnyResult = Annotated[EvalResult | TaskResult, Field(discriminator="schema_")]
_SCHEMAS: dict[str, type[BaseModel]] = {RESULTS_SCHEMA: EvalResult, TASK_RESULTS_SCHEMA: TaskResult}


def _validate(cls: type[Any], obj: Any, path: Any) -> Any:
    try:
        return cls.model_validate(obj)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "top level"
        raise ValidationError(
            f"{path} is not a promptkit results file ({where}: {first['msg']})",
            hint="pass a file written by `promptkit eval run --out`",
        ) from None


def load_result_file(path: str | os.PathLike[str]) -> EvalResult | TaskResult:
    """A results file of either schema, chosen by its ``schema`` key (v1 when it has none that is known)."""
    obj = read_json(path, what="results file")
    schema = obj.get("schema") if isinstance(obj, dict) else None
    return _validate(_SCHEMAS.get(schema, EvalResult) if isinstance(schema, str) else EvalResult, obj, path)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _ci_text(ci: dict[str, Any] | None) -> str:
    if not ci:
        return ""
    return f"[{ci['low']:.1f}, {ci['high']:.1f}]"


def format_summary(result: EvalResult) -> str:
    """Render the scores of one run as an aligned plain-text table."""
    m, p = result.metrics, result.metrics_pt
    lines = [
        f"chain {result.chain} · prompt {result.prompt.ref or '-'} · model {result.model.id or '-'} · "
        f"mode {result.mode}",
        f"dataset {result.dataset.name} (split {result.dataset.split or 'all'}, "
        f"{result.dataset.total} questions)"
        f" · cache {result.cache.mode}: {result.cache.hits} hits, {result.cache.misses} misses"
        f" · {result.duration_s:.1f} s",
        "",
    ]
    header = (
        "metric",
        result.normalizers.get("official", "official"),
        "95% CI",
        result.normalizers.get("pt", "pt"),
        "95% CI",
    )
    body = [
        (
            "EM",
            m.get("exact"),
            _ci_text(result.ci.get("exact")),
            p.get("exact"),
            _ci_text(result.ci.get("exact_pt")),
        ),
        ("F1", m.get("f1"), _ci_text(result.ci.get("f1")), p.get("f1"), _ci_text(result.ci.get("f1_pt"))),
        ("HasAns EM", m.get("HasAns_exact"), "", p.get("HasAns_exact"), ""),
        ("HasAns F1", m.get("HasAns_f1"), "", p.get("HasAns_f1"), ""),
        ("NoAns EM", m.get("NoAns_exact"), "", p.get("NoAns_exact"), ""),
    ]
    if "best_f1" in m:
        body.append(
            ("best F1", m.get("best_f1"), f"thresh {m.get('best_f1_thresh'):.3f}", p.get("best_f1"), "")
        )
    table = [header, *[(a, _fmt(b), c, _fmt(d), e) for a, b, c, d, e in body]]
    widths = [max(len(str(r[i])) for r in table) for i in range(len(header))]
    for i, row in enumerate(table):
        lines.append(
            "  ".join(
                str(c).ljust(w) if j == 0 else str(c).rjust(w)
                for j, (c, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    abstained = sum(r.abstained for r in result.rows)
    lines.append("")
    lines.append(
        f"abstained on {abstained} of {len(result.rows)} questions "
        f"({sum(r.is_impossible for r in result.rows)} unanswerable)"
    )
    if result.retrieval:
        r = result.retrieval
        at_k = f" · hit@{r.k} {r.hit_at_k:.1f}" if r.k > 1 else " (k=1)"
        lines.append(f"retrieval: hit@1 {r.hit_at_1:.1f}{at_k} ({r.total} answerable)")
    return "\n".join(lines)
