"""The evaluation task interface: what the harness must know to run, score, compare and gate a dataset.

A task is a :class:`Task` subclass. For a JSON Lines dataset it declares:

* ``name`` (what ``--task``, suite entries and results files call it) and ``item_model``, the pydantic model
  of one line (``id``, optional ``split`` and the task's own fields); a dataset is recognised as the task's
  when its first row has every required field of the model, or when its rows say ``"task": NAME``;
* ``metrics``: one :class:`MetricSpec` per figure (per-row scores are averaged over the rows where they apply,
  with a bootstrap interval; a suite tolerance may name any of them), ``headline`` (shown first, guarded by a
  suite entry that lists no metrics, drawn in the report's chart), ``group_by`` (item fields the report breaks
  the metrics down by) and ``drop_metric`` (the graded score whose falls ``eval compare`` lists);
* :meth:`Task.chain_input` (an item → the chain's input) and :meth:`Task.score` (an item and the chain's
  output → the answer scored, the per-row scores, whether the row counts as correct for flips, what to keep);
* optionally :meth:`Task.totals` (figures of the whole run, such as a precision or a confusion matrix,
  stored in the metrics under dotted keys when they are not single metrics) and :meth:`Task.tables` (the
  tables the text summary and the HTML report show besides the metrics and the breakdowns: per category, per
  label…).

Everything else (loading with splits, running in batches through the replay cache, aggregation, intervals,
breakdowns, the results file, compare, report, regression gate) is shared. SQuAD question answering
(:mod:`.squad`) is the one task that keeps its own results schema (``promptkit.eval/v1``) and overrides the
row-level hooks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError

from promptkit import metrics as M
from promptkit.datasets import JsonlDataset, JsonlRow, declared_task, read_jsonl
from promptkit.errors import ValidationError, unknown
from promptkit.evaluation.results import TaskResult, TaskRow
from promptkit.fileio import canonical_json, sha256_bytes

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class MetricSpec:
    """One metric of a task: its name, what it measures and how to show and guard it.

    ``better``: ``"higher"``, ``"lower"`` or ``None`` (neither: a length); a suite tolerance bounds the change
    in the worse direction by default. ``scale`` multiplies per-row scores in the aggregate (100 turns a 0/1
    score into percent points); ``digits`` and ``unit`` format it. ``per_row``: the metric is the mean of a
    per-row score, so two runs get a paired-bootstrap interval of their difference; otherwise it is a figure
    of the whole run (a count, or a score computed over all rows at once)."""

    name: str
    description: str
    better: str | None = "higher"
    scale: float = 1.0
    digits: int = 3
    unit: str = ""
    per_row: bool = True

    def fmt(self, value: float | None, *, signed: bool = False) -> str:
        if value is None:
            return "-"
        return f"{value:+.{self.digits}f}" if signed else f"{value:.{self.digits}f}"


@dataclass
class Scored:
    """What :meth:`Task.score` makes of one chain output."""

    prediction: str
    scores: dict[str, float | None]
    correct: bool | None = None
    output: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Table:
    """A small table a task shows besides its metrics (per category, per label, a confusion matrix): cells are
    already formatted; the first column is a row name."""

    title: str
    header: tuple[str, ...]
    rows: list[tuple[str, ...]]


@dataclass(frozen=True)
class RowView:
    """A row as compare and report show it."""

    question: str
    gold: list[str]
    prediction: str
    raw: str


class Item(BaseModel):
    """Base of a task's item model: an ``id`` and an optional ``split``; extra fields are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    split: str | None = None


class Task:
    """Base class of evaluation tasks; see the module docstring. One instance serves one run."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    file_suffix: ClassVar[str] = ".jsonl"
    item_model: ClassVar[type[Item]] = Item
    modes: ClassVar[tuple[str, ...]] = ("reading",)
    metrics: ClassVar[tuple[MetricSpec, ...]] = ()
    headline: ClassVar[tuple[str, ...]] = ()
    group_by: ClassVar[tuple[str, ...]] = ()
    drop_metric: ClassVar[str | None] = None
    #: how flips name a correct row ("EM" for SQuAD)
    correct_rule: ClassVar[str] = "correct"
    #: yes/no questions an LLM judge may answer per row (each adds the per-row metric ``judge_<criterion>``)
    judge_criteria: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        self.prompt: str | None = None

    def start(self, *, prompt: str | None = None, **options: Any) -> None:
        """Prepare a run (the prompt ref it overrides, task options); an option the task lacks is refused."""
        self.prompt = prompt
        if options:
            raise ValidationError(f"{', '.join(sorted(options))}: not an option of task {self.name!r}",
                                  hint="leave it out for this dataset")

    # -- datasets --------------------------------------------------------------------------------------------
    @classmethod
    def required_fields(cls) -> list[str]:
        return [f.alias or n for n, f in cls.item_model.model_fields.items() if f.is_required()]

    @classmethod
    def recognises(cls, row: Mapping[str, Any]) -> bool:
        """Whether a dataset row looks like one of this task's items (it has every required field)."""
        return bool(cls.required_fields()) and all(k in row for k in cls.required_fields())

    def load(self, dataset: Any) -> JsonlDataset:
        """A validated dataset: a loaded one, a path, or a name under ``eval/datasets/``."""
        if isinstance(dataset, JsonlDataset):
            if dataset.task != self.name:
                raise ValidationError(f"dataset {dataset.name} was loaded for task {dataset.task!r}, "
                                      f"not {self.name!r}")
            return dataset
        path, raw, rows = read_jsonl(dataset)
        declared = declared_task(rows, name=str(path))
        if declared is not None and declared != self.name:
            raise ValidationError(f"dataset {path} declares task {declared!r}, not {self.name!r}",
                                  hint=f"run it as task {declared!r}")
        items = [self.parse_item(r, str(path)) for r in rows]
        return JsonlDataset(path=path, sha256=sha256_bytes(raw), task=self.name, _items=items)

    def from_rows(self, rows: Sequence[Mapping[str, Any]], *, name: str = "<memory>") -> JsonlDataset:
        """A dataset from in-memory rows (its sha256 is that of the canonical JSON lines)."""
        text = "\n".join(canonical_json(dict(r)) for r in rows)
        from promptkit.datasets import parse_jsonl

        checked = parse_jsonl(text.encode("utf-8"), name=name)
        items = [self.parse_item(r, name) for r in checked]
        digest = sha256_bytes(text.encode("utf-8"))
        return JsonlDataset(path=None, sha256=digest, task=self.name, _items=items, label=name)

    def parse_item(self, row: JsonlRow, name: str) -> Any:
        """One row validated by :attr:`item_model` (one error line naming the file, line, id and field)."""
        data = {k: v for k, v in row.data.items() if k != "task"}
        try:
            return self.item_model.model_validate(data)
        except PydanticValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "row"
            msg = first["msg"].removeprefix("Value error, ")
            raise ValidationError(
                f"{name}, line {row.line} (id {row.id!r}): {where}: {msg}",
                hint=f"fields of a {self.name} item: "
                f"{', '.join(f.alias or n for n, f in self.item_model.model_fields.items())}",
            ) from None

    # -- running ---------------------------------------------------------------------------------------------
    @property
    def default_mode(self) -> str:
        return self.modes[0]

    def check_mode(self, mode: str | None) -> str:
        chosen = mode or self.default_mode
        if chosen not in self.modes:
            raise ValidationError(f"unknown mode {chosen!r} for task {self.name}; expected one of: "
                                  f"{', '.join(self.modes)}")
        return chosen

    def question(self, item: Any) -> str:
        """The item's text as reports show it (and as the size limit checks it)."""
        return str(item.question)

    #: what an item is called in error messages
    item_word: ClassVar[str] = "item"
    #: how to fix an item over the chains' size limit
    size_hint: ClassVar[str] = "shorten that item in the dataset"

    def check_size(self, text: str) -> None:
        """Raise when the chains would refuse ``text`` as too long (the question limit)."""
        from promptkit.limits import check_question

        check_question(text)

    def check_item(self, item: Any, where: str) -> None:
        """Refuse an item the chains would refuse (over the size limit), before any model call, naming it and
        the dataset ``where`` it is."""
        try:
            self.check_size(self.question(item))
        except ValidationError as exc:
            raise ValidationError(f"{self.item_word} {item.id!r} in {where}: {exc.message}",
                                  hint=self.size_hint) from None

    def chain_input(self, item: Any, mode: str) -> dict[str, Any]:
        """The chain's input for one item."""
        return {"question": self.question(item)}

    def score(self, item: Any, output: dict[str, Any]) -> Scored:
        """Score one chain output (the contract's dict; a plain string arrives as ``{"answer": text}``)."""
        raise NotImplementedError

    def gold(self, item: Any) -> dict[str, Any]:
        """What the item expects, kept in each row (its fields but id, split and the question)."""
        return item.model_dump(mode="json", exclude={"id", "split", "question"})

    def groups_of(self, item: Any) -> dict[str, str]:
        return {key: str(getattr(item, key)) for key in self.group_by}

    def make_row(self, item: Any, output: dict[str, Any], *, mode: str, latency: float) -> TaskRow:
        scored = self.score(item, output)
        scores = {s.name: None for s in self.metrics if s.per_row}
        scores.update(scored.scores)
        return TaskRow(id=item.id, split=item.split, question=self.question(item), gold=self.gold(item),
                       groups=self.groups_of(item), prediction=scored.prediction, output=scored.output,
                       scores=scores, correct=scored.correct, details=scored.details, latency_s=latency)

    def judge_request(self, row: TaskRow) -> dict[str, Any] | None:
        """What an LLM judge reads of one row (``question``, ``answer``, ``sources``); ``None`` skips it."""
        return None

    def apply_judge(self, rows: Sequence[TaskRow], judge: Any) -> None:
        """Ask ``judge`` (a :class:`promptkit.evaluation.judge.LLMJudge`) the task's criteria for every row it
        reads; each verdict becomes the per-row score ``judge_<criterion>`` (1 yes, 0 no, ``None``
        undecided)."""
        if not self.judge_criteria:
            raise ValidationError(f"task {self.name} asks no judge questions", hint="run it without a judge")
        todo = [(row, req) for row in rows if (req := self.judge_request(row)) is not None]
        verdicts = judge.judge_many([req for _, req in todo], criteria=self.judge_criteria)
        for (row, _), verdict in zip(todo, verdicts, strict=True):
            for criterion in self.judge_criteria:
                v = verdict[criterion]
                row.scores[f"judge_{criterion}"] = None if v.answer is None else float(v.answer)
            row.details["judge"] = {c: verdict[c].as_dict() for c in self.judge_criteria}

    # -- results ---------------------------------------------------------------------------------------------
    def totals(self, rows: Sequence[TaskRow]) -> dict[str, float | int | None]:
        """Figures of the whole run besides the per-row means (counts); ``n`` is always given."""
        return {}

    def aggregate(self, rows: Sequence[TaskRow]) -> dict[str, float | int | None]:
        """``n``, the mean of every per-row metric over the rows where it applies (times its scale), and
        :meth:`totals`."""
        out: dict[str, float | int | None] = {"n": len(rows)}
        for spec in self.metrics:
            if spec.per_row:
                values = [v for r in rows if (v := self.row_scores(r).get(spec.name)) is not None]
                out[spec.name] = spec.scale * sum(values) / len(values) if values else None
        out.update(self.totals(rows))
        return out

    def intervals(self, rows: Sequence[TaskRow]) -> dict[str, dict[str, Any]]:
        """A seeded percentile-bootstrap 95% interval of every per-row metric."""
        out: dict[str, dict[str, Any]] = {}
        for spec in self.metrics:
            if not spec.per_row:
                continue
            values = [v for r in rows if (v := self.row_scores(r).get(spec.name)) is not None]
            if values:
                ci = M.bootstrap_ci(values, resamples=BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED,
                                    scale=spec.scale)
                ci["n"] = len(values)
                out[spec.name] = ci
        return out

    def tables(self, metrics: Mapping[str, float | int | None]) -> list[Table]:
        """Tables built from a run's metrics (or a group's) besides the metric list; none by default."""
        return []

    def breakdown(self, rows: Sequence[TaskRow]) -> dict[str, dict[str, dict[str, float | int | None]]]:
        """The aggregate per group of every :attr:`group_by` key (groups sorted by name)."""
        out: dict[str, dict[str, dict[str, float | int | None]]] = {}
        for key in self.group_by:
            values = sorted({r.groups.get(key, "-") for r in rows})
            out[key] = {v: self.aggregate([r for r in rows if r.groups.get(key, "-") == v]) for v in values}
        return out

    def build_result(self, *, rows: list[Any], outputs: Sequence[dict[str, Any]], mode: str,
                     common: dict[str, Any], judge: Any = None) -> Any:
        return TaskResult(task=self.name, mode=mode, metrics=self.aggregate(rows), ci=self.intervals(rows),
                          groups=self.breakdown(rows), judge=judge, rows=rows, **common)

    # -- reading rows (compare, report, gate) ----------------------------------------------------------------
    def spec(self, name: str) -> MetricSpec:
        for s in self.metrics:
            if s.name == name:
                return s
        raise unknown(f"{self.name} metric", name, self.guardable())

    def guardable(self) -> list[str]:
        """Metric names a suite may list and bound."""
        return [s.name for s in self.metrics]

    def default_metrics(self) -> list[str]:
        return list(self.headline) or [s.name for s in self.metrics if s.per_row][:2]

    def paired_metrics(self) -> list[str]:
        return [s.name for s in self.metrics if s.per_row]

    def row_scores(self, row: Any) -> dict[str, float | None]:
        return row.scores

    def row_correct(self, row: Any) -> bool | None:
        return row.correct

    def row_view(self, row: Any) -> RowView:
        return RowView(row.question, self.gold_text(row), row.prediction, row.prediction)

    def gold_text(self, row: Any) -> list[str]:
        """The gold as one line per expected thing (for flips)."""
        return [str(v) for v in row.gold.values() if isinstance(v, str | int | float)]

    def flip_note(self, scores_a: Mapping[str, float | None], scores_b: Mapping[str, float | None]) -> str:
        """How a flipped row's graded score moved (``F1 1.00 → 0.33``)."""
        name = self.drop_metric
        if not name:
            return ""
        a, b = scores_a.get(name), scores_b.get(name)
        return f"{name} {_two(a)} → {_two(b)}"

    @property
    def drop_title(self) -> str:
        return f"{self.drop_metric} drops" if self.drop_metric else "score drops"


def _two(value: float | None) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.2f}"


class TextTask(Task):
    """A task whose items are texts the chain reads whole (``{"text": ...}``): moderation, classification. The
    text is what reports show, and it must fit the chains' text limit."""

    item_word: ClassVar[str] = "text"
    size_hint: ClassVar[str] = "shorten that text in the dataset"

    def question(self, item: Any) -> str:
        return str(item.text)

    def check_size(self, text: str) -> None:
        from promptkit.limits import check_text

        check_text(text)

    def chain_input(self, item: Any, mode: str) -> dict[str, Any]:
        return {"text": item.text}
