"""Evaluation tasks: one module per kind of dataset, found automatically.

* ``squad`` (:mod:`.squad`): SQuAD 2.0 question answering, EM/F1 (``.json`` datasets);
* ``longform`` (:mod:`.longform`): long-form cited answers of the course tutor (``tutor_questions.jsonl``);
* ``moderation`` (:mod:`.moderation`): unsafe-vs-safe and category verdicts (``guard_texts.jsonl``);
* ``summaries`` (:mod:`.summaries`): key-point coverage, faithfulness and length (``summary_sources.jsonl``);
* ``classification`` (:mod:`.classification`): one label per text (``student_comments.jsonl``).

Adding a task is one module in this package defining a :class:`~.base.Task` subclass with a ``name``: its item
model, metrics, chain input and scoring (see :mod:`.base`). A dataset's task is the one named (``task=``,
``--task``, a suite entry's ``task:``), else the one its rows declare (``"task": NAME``), else inferred: a
``.json`` file is SQuAD, a ``.jsonl`` file belongs to the one task whose required fields its first row has.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from typing import Any

from promptkit.errors import ValidationError, unknown
from promptkit.evaluation.tasks.base import Item, MetricSpec, RowView, Scored, Table, Task

__all__ = ["Item", "MetricSpec", "RowView", "Scored", "Table", "Task", "get_task", "infer_task", "task_class",
           "task_names", "task_of"]

_REGISTRY: dict[str, type[Task]] = {}


def _discover() -> dict[str, type[Task]]:
    if not _REGISTRY:
        found: dict[str, type[Task]] = {}
        for info in pkgutil.iter_modules(__path__):
            if info.name.startswith("_") or info.name == "base":
                continue
            module = importlib.import_module(f"{__name__}.{info.name}")
            for value in vars(module).values():
                own = isinstance(value, type) and value.__module__ == module.__name__
                if own and issubclass(value, Task) and value.name:
                    if value.name in found and found[value.name] is not value:
                        raise ValidationError(f"two evaluation tasks are named {value.name!r}")
                    found[value.name] = value
        _REGISTRY.update(found)
    return _REGISTRY


def task_names() -> list[str]:
    return sorted(_discover())


def task_class(name: str) -> type[Task]:
    tasks = _discover()
    if name not in tasks:
        raise unknown("evaluation task", name, tasks)
    return tasks[name]


def get_task(task: str | Task) -> Task:
    """A fresh instance of a task, by name (or the instance itself)."""
    return task if isinstance(task, Task) else task_class(task)()


def task_of(result: Any) -> Task:
    """The task that wrote a results object."""
    return get_task(result.task)


def infer_task(dataset: Any) -> Task:
    """The task of a dataset: a loaded one, a path or a name under ``eval/datasets/`` (module docstring)."""
    from promptkit.datasets import JsonlDataset, SquadDataset, declared_task, read_jsonl, resolve_dataset_path

    if isinstance(dataset, SquadDataset):
        return get_task("squad")
    if isinstance(dataset, JsonlDataset):
        return get_task(dataset.task)
    if not isinstance(dataset, str | os.PathLike):
        raise ValidationError("dataset must be a path, a name or a loaded dataset, "
                              f"got {type(dataset).__name__}")
    path = resolve_dataset_path(dataset)
    if path.suffix != ".jsonl":
        return get_task("squad")
    _, _, rows = read_jsonl(path)
    declared = declared_task(rows, name=str(path))
    if declared is not None:
        return get_task(declared)
    first = rows[0].data
    matching = [cls for cls in _discover().values() if cls.recognises(first)]
    if len(matching) == 1:
        return matching[0]()
    if not matching:
        raise ValidationError(
            f"cannot tell which evaluation task reads {path}: no task takes rows with the keys "
            f"{', '.join(sorted(first))}",
            hint=f'pass --task (one of {", ".join(task_names())}) or add "task": NAME to its rows',
        )
    names = ", ".join(sorted(c.name for c in matching))
    raise ValidationError(f"{path} fits several evaluation tasks ({names})",
                          hint='pass --task NAME or add "task": NAME to its rows')


def resolve_task(task: str | Task | None, dataset: Any) -> Task:
    """The named task (checked against what the dataset declares when it is loaded), else the inferred one."""
    if task is None:
        return infer_task(dataset)
    return get_task(task)
