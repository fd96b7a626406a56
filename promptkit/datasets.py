"""Evaluation datasets: SQuAD 2.0 QA files (strict loading, splits, merging) and JSON Lines item sets.

A SQuAD dataset file has the official SQuAD shape (``{"version", "data": [{"title", "paragraphs": [{"context",
"qas": [{"id", "question", "answers": [{"text", "answer_start"}], "is_impossible"}]}]}]}``). Two optional
extras are understood: a per-question ``split`` (e.g. ``"dev"``/``"test"``) and a per-paragraph ``source``
(the corpus file the context comes from). Every problem is reported as one
:class:`~promptkit.errors.ValidationError` naming the file, the question id and the fix.

A JSON Lines dataset (``.jsonl``) holds one item per line, a JSON object with an ``id`` and, optionally, a
``split``; the fields of the rest are the business of the evaluation task that reads it
(:mod:`promptkit.evaluation.tasks`), which validates each row with its item model. A row may declare the task
it is written for with a ``"task"`` key (the same on every row). :func:`read_jsonl` reads and checks the
lines, :class:`JsonlDataset` holds the validated items.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptkit.errors import NotFoundError, ValidationError
from promptkit.fileio import read_json, sha256_bytes

#: dataset file kinds: SQuAD JSON, and JSON Lines item sets
DATASET_SUFFIXES = (".json", ".jsonl")


@dataclass(frozen=True)
class SquadExample:
    """One question with its context and gold answers (``answers`` is empty for an unanswerable question)."""

    id: str
    question: str
    context: str
    answers: tuple[str, ...]
    answer_starts: tuple[int, ...]
    is_impossible: bool
    split: str | None = None
    title: str = ""
    source: str | None = None
    plausible_answers: tuple[str, ...] = field(default=())


@dataclass
class SquadDataset:
    """A validated SQuAD 2.0 dataset (the raw JSON is kept in :attr:`raw`)."""

    path: Path | None
    raw: dict[str, Any]
    sha256: str
    _examples: list[SquadExample] = field(default_factory=list, repr=False)

    @property
    def name(self) -> str:
        return self.path.stem if self.path else "<memory>"

    @property
    def version(self) -> str:
        return str(self.raw.get("version", ""))

    def examples(self, split: str | None = None) -> list[SquadExample]:
        """All examples in file order, or those of one ``split``."""
        if split is None:
            return list(self._examples)
        chosen = [e for e in self._examples if e.split == split]
        if not chosen:
            available = ", ".join(self.splits()) or "none (no question has a 'split' key)"
            raise NotFoundError(
                f"dataset {self.name} has no question in split {split!r}; available splits: {available}"
            )
        return chosen

    def splits(self) -> list[str]:
        return sorted({e.split for e in self._examples if e.split})

    def golds(self, split: str | None = None) -> dict[str, list[str]]:
        """Question id → gold answer texts (the input of :func:`promptkit.metrics.squad_v2_eval`)."""
        return {e.id: list(e.answers) for e in self.examples(split)}

    def __len__(self) -> int:
        return len(self._examples)

    def __iter__(self):
        return iter(self._examples)


def _where(name: str, qid: str | None) -> str:
    return f"{name}, question {qid!r}" if qid else name


def _fail(name: str, qid: str | None, problem: str, fix: str) -> ValidationError:
    return ValidationError(f"{_where(name, qid)}: {problem}", hint=fix)


def _check_answers(
    name: str, qid: str, context: str, answers: Any, key: str
) -> tuple[tuple[str, ...], tuple[int, ...]]:
    if not isinstance(answers, list):
        raise _fail(
            name,
            qid,
            f"{key!r} must be a list, got {type(answers).__name__}",
            f'write "{key}": [{{"text": ..., "answer_start": ...}}]',
        )
    texts: list[str] = []
    starts: list[int] = []
    for answer in answers:
        if (
            not isinstance(answer, dict)
            or not isinstance(answer.get("text"), str)
            or not isinstance(answer.get("answer_start"), int)
            or isinstance(answer.get("answer_start"), bool)
        ):
            raise _fail(
                name,
                qid,
                f"each item of {key!r} needs a string 'text' and an integer 'answer_start', "
                f"got {json.dumps(answer, ensure_ascii=False)[:120]}",
                "fix that answer object",
            )
        text, start = answer["text"], answer["answer_start"]
        found = context[start : start + len(text)] if start >= 0 else ""
        if found != text:
            at = context.find(text)
            fix = (
                f"set answer_start to {at}"
                if at >= 0
                else "the text does not occur in the context; copy the answer verbatim from the context"
            )
            raise _fail(
                name,
                qid,
                f"answer {text!r} does not match the context at answer_start={start} " f"(found {found!r})",
                fix,
            )
        texts.append(text)
        starts.append(start)
    return tuple(texts), tuple(starts)


def parse_squad(obj: Any, *, name: str = "<memory>") -> list[SquadExample]:
    """Validate a SQuAD 1.1/2.0 object and return its examples; raise one clear error otherwise."""
    shape_fix = 'expected {"version": "v2.0", "data": [{"title", "paragraphs": [{"context", "qas": [...]}]}]}'
    if not isinstance(obj, dict) or not isinstance(obj.get("data"), list):
        got = type(obj).__name__ if not isinstance(obj, dict) else f"keys {sorted(obj)}"
        raise _fail(name, None, f"not a SQuAD dataset (got {got})", shape_fix)
    examples: list[SquadExample] = []
    seen: set[str] = set()
    for a, article in enumerate(obj["data"]):
        if not isinstance(article, dict) or not isinstance(article.get("paragraphs"), list):
            raise _fail(name, None, f"data[{a}] is not an article with a 'paragraphs' list", shape_fix)
        title = str(article.get("title", ""))
        for p, paragraph in enumerate(article["paragraphs"]):
            where = f"data[{a}].paragraphs[{p}]"
            if not isinstance(paragraph, dict) or not isinstance(paragraph.get("context"), str):
                raise _fail(name, None, f"{where} has no string 'context'", shape_fix)
            if not isinstance(paragraph.get("qas"), list):
                raise _fail(name, None, f"{where} has no 'qas' list", shape_fix)
            context = paragraph["context"]
            source = paragraph.get("source")
            for qa in paragraph["qas"]:
                if not isinstance(qa, dict):
                    raise _fail(
                        name, None, f"{where}.qas holds a {type(qa).__name__}, not an object", shape_fix
                    )
                qid = qa.get("id")
                if not isinstance(qid, str) or not qid:
                    raise _fail(
                        name, None, f"a question in {where} has no string 'id'", "give it a unique id"
                    )
                if qid in seen:
                    raise _fail(name, qid, "duplicate question id", "give every question a unique id")
                seen.add(qid)
                question = qa.get("question")
                if not isinstance(question, str) or not question.strip():
                    raise _fail(name, qid, "missing or empty 'question'", "write the question text")
                answers, starts = _check_answers(name, qid, context, qa.get("answers", None), "answers")
                plausible, _ = _check_answers(
                    name, qid, context, qa.get("plausible_answers", []), "plausible_answers"
                )
                impossible = qa.get("is_impossible", not answers)
                if not isinstance(impossible, bool):
                    raise _fail(
                        name,
                        qid,
                        f"'is_impossible' must be true or false, got {impossible!r}",
                        "use a JSON boolean",
                    )
                if impossible and answers:
                    raise _fail(
                        name,
                        qid,
                        "is_impossible is true but 'answers' is not empty",
                        "move the answers to 'plausible_answers' or set is_impossible to false",
                    )
                if not impossible and not answers:
                    raise _fail(
                        name,
                        qid,
                        "an answerable question has no 'answers'",
                        "add at least one answer or set is_impossible to true",
                    )
                split = qa.get("split")
                if split is not None and (not isinstance(split, str) or not split):
                    raise _fail(
                        name,
                        qid,
                        f"'split' must be a non-empty string, got {split!r}",
                        'use e.g. "dev" or "test"',
                    )
                examples.append(
                    SquadExample(
                        id=qid,
                        question=question,
                        context=context,
                        answers=answers,
                        answer_starts=starts,
                        is_impossible=impossible,
                        split=split,
                        title=title,
                        source=source if isinstance(source, str) else None,
                        plausible_answers=plausible,
                    )
                )
    if not examples:
        raise _fail(name, None, "the dataset holds no questions", shape_fix)
    return examples


def resolve_dataset_path(ref: str | os.PathLike[str]) -> Path:
    """A path as given if it exists, else a name under ``eval/datasets/`` (``course_qa``,
    ``tutor_questions``): ``NAME``, ``NAME.json`` or ``NAME.jsonl``, the project's datasets first, then the
    shipped ones."""
    path = Path(ref)
    if path.exists():
        return path
    if path.suffix or len(path.parts) > 1:
        raise NotFoundError(f"dataset file {path} does not exist", hint="check the path")
    from promptkit.paths import layer_dirs

    folders = [folder for _, folder in layer_dirs("eval/datasets")]
    for folder in folders:
        for candidate in (folder / str(ref), folder / f"{ref}.json", folder / f"{ref}.jsonl"):
            if candidate.is_file():
                return candidate
    from promptkit.errors import unknown

    names = sorted({p.stem for folder in folders for p in folder.glob("*.json*") if p.suffix in DATASET_SUFFIXES})
    err = unknown("dataset", str(ref), names)
    raise NotFoundError(f"{err.message}; or pass the path of a SQuAD 2.0 JSON file or a JSON Lines file")


def load_squad(path: str | os.PathLike[str]) -> SquadDataset:
    """Load and validate a SQuAD 2.0 file (a path, or a name under ``eval/datasets/``)."""
    resolved = resolve_dataset_path(path)
    try:
        data = resolved.read_bytes()
    except OSError as exc:
        raise ValidationError(f"cannot read dataset {resolved}: {exc.strerror}") from None
    obj = read_json(resolved, what="dataset")
    examples = parse_squad(obj, name=str(resolved))
    return SquadDataset(path=resolved, raw=obj, sha256=sha256_bytes(data), _examples=examples)


def dataset_from_dict(obj: dict[str, Any], *, name: str = "<memory>") -> SquadDataset:
    """Validate an in-memory SQuAD object (its sha256 is that of its canonical JSON)."""
    from promptkit.fileio import canonical_json

    examples = parse_squad(obj, name=name)
    digest = sha256_bytes(canonical_json(obj).encode("utf-8"))
    return SquadDataset(path=None, raw=obj, sha256=digest, _examples=examples)


def merge_squad(paths: Iterable[str | os.PathLike[str]], *, version: str = "v2.0") -> dict[str, Any]:
    """Merge validated SQuAD files into one object (articles in the given order; ids must not clash)."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValidationError("nothing to merge: no dataset files given")
    data: list[Any] = []
    owner: dict[str, Path] = {}
    for path in paths:
        dataset = load_squad(path)
        for example in dataset:
            if example.id in owner:
                raise ValidationError(
                    f"question id {example.id!r} appears in both {owner[example.id]} and {path}",
                    hint="rename one of them; ids must be unique across all parts",
                )
            owner[example.id] = path
        data.extend(dataset.raw["data"])
    merged = {"version": version, "data": data}
    parse_squad(merged, name="merged dataset")
    return merged


def split_counts(examples: Sequence[SquadExample]) -> dict[str, int]:
    """How many examples per split (``"-"`` for those without one)."""
    counts: dict[str, int] = {}
    for e in examples:
        counts[e.split or "-"] = counts.get(e.split or "-", 0) + 1
    return counts


# -- JSON Lines item sets ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JsonlRow:
    """One line of a JSON Lines dataset: its 1-based line number and its object."""

    line: int
    data: dict[str, Any]

    @property
    def id(self) -> str | None:
        value = self.data.get("id")
        return value if isinstance(value, str) else None


def parse_jsonl(raw: bytes, *, name: str) -> list[JsonlRow]:
    """The objects of a JSON Lines text (blank lines skipped), each with a string ``id`` unique in the file
    and an optional non-empty string ``split``; one :class:`ValidationError` naming the line otherwise."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError(f"dataset {name} is not UTF-8 text") from None
    rows: list[JsonlRow] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "number too long"
            raise ValidationError(
                f"{name}, line {number}: not valid JSON ({reason})",
                hint="write one JSON object per line; the file may be truncated",
            ) from None
        if not isinstance(obj, dict):
            raise ValidationError(f"{name}, line {number}: expected a JSON object, got {type(obj).__name__}",
                                  hint='write one object per line, e.g. {"id": "x-001", ...}')
        qid = obj.get("id")
        if not isinstance(qid, str) or not qid.strip():
            raise ValidationError(f"{name}, line {number}: missing or empty string 'id'",
                                  hint="give every item a unique id")
        if qid in seen:
            raise ValidationError(f"{name}, line {number}: duplicate id {qid!r} (first on line {seen[qid]})",
                                  hint="give every item a unique id")
        seen[qid] = number
        split = obj.get("split")
        if split is not None and (not isinstance(split, str) or not split):
            raise ValidationError(f"{name}, line {number} (id {qid!r}): 'split' must be a non-empty string, "
                                  f"got {split!r}", hint='use e.g. "dev" or "test"')
        rows.append(JsonlRow(number, obj))
    if not rows:
        raise ValidationError(f"dataset {name} holds no items", hint="write one JSON object per line")
    return rows


def read_jsonl(path: str | os.PathLike[str]) -> tuple[Path, bytes, list[JsonlRow]]:
    """Resolve, read and check a JSON Lines dataset (a path or a name under ``eval/datasets/``)."""
    resolved = resolve_dataset_path(path)
    try:
        data = resolved.read_bytes()
    except IsADirectoryError:
        raise ValidationError(f"dataset {resolved} is a folder, not a file") from None
    except OSError as exc:
        raise ValidationError(f"cannot read dataset {resolved}: {exc.strerror}") from None
    return resolved, data, parse_jsonl(data, name=str(resolved))


@dataclass
class JsonlDataset:
    """A validated JSON Lines dataset: the items of one evaluation task, in file order.

    ``items`` are whatever the task's item model made of each row (each has ``id`` and ``split``)."""

    path: Path | None
    sha256: str
    task: str
    _items: list[Any] = field(default_factory=list, repr=False)
    label: str = "<memory>"

    @property
    def name(self) -> str:
        return self.path.stem if self.path else self.label

    def items(self, split: str | None = None) -> list[Any]:
        """All items in file order, or those of one ``split``."""
        if split is None:
            return list(self._items)
        chosen = [e for e in self._items if e.split == split]
        if not chosen:
            available = ", ".join(self.splits()) or "none (no item has a 'split' key)"
            raise NotFoundError(
                f"dataset {self.name} has no item in split {split!r}; available splits: {available}"
            )
        return chosen

    examples = items  # the name SquadDataset uses

    def splits(self) -> list[str]:
        return sorted({e.split for e in self._items if e.split})

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self):
        return iter(self._items)


def declared_task(rows: Sequence[JsonlRow], *, name: str) -> str | None:
    """The task the rows declare with a ``"task"`` key (``None`` when none does); every row must agree."""
    declared = {r.data.get("task") for r in rows}
    if declared == {None}:
        return None
    if len(declared) > 1 or not all(isinstance(t, str) and t for t in declared):
        shown = ", ".join(sorted(repr(t) for t in declared))
        raise ValidationError(f"dataset {name}: the rows declare different tasks ({shown})",
                              hint='give every row the same "task" key, or none')
    return declared.pop()  # type: ignore[return-value]
