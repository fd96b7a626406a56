"""``promptkit init``: write a small working project from the template in ``promptkit/project-template/``.

The project holds one prompt with two released versions and a ``production`` label, a chain using it, a
ten-question SQuAD 2.0 dataset, a regression suite, a pytest file using the promptkit plugin, a ``.gitignore``
and a README explaining the edit → check → eval → label loop. The template is package data, read with
:mod:`importlib.resources`, so ``promptkit init`` works the same from a wheel and from a checkout.

A folder that already holds files is refused unless ``force``; even then no existing file is overwritten:
files that differ from the template are left as they are and reported (:attr:`InitReport.skipped`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from promptkit.errors import ValidationError
from promptkit.fileio import atomic_write_bytes

TEMPLATE_DIR = "project-template"
#: template file name -> name in the project (dot files are not package data: they travel under another name)
RENAMES = {"gitignore": ".gitignore"}
_SKIP = ("__pycache__", ".pyc")


@dataclass
class InitReport:
    """What :func:`init_project` did, file by file (paths relative to :attr:`folder`)."""

    folder: Path
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _walk(node: Traversable, prefix: str = "") -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.name.endswith(_SKIP) or child.name in _SKIP:
            continue
        rel = f"{prefix}{child.name}"
        if child.is_dir():
            out.update(_walk(child, rel + "/"))
        else:
            parts = rel.split("/")
            parts[-1] = RENAMES.get(parts[-1], parts[-1])
            out["/".join(parts)] = child.read_bytes()
    return out


def template_files() -> dict[str, bytes]:
    """``{relative path: content}`` of every file a new project gets."""
    return _walk(files("promptkit") / TEMPLATE_DIR)


def init_project(folder: str | os.PathLike[str], *, force: bool = False) -> InitReport:
    """Write the template project into ``folder`` (created when missing).

    A folder that holds anything is refused unless ``force``; then missing files are added, identical ones
    counted as unchanged and different ones kept and listed in :attr:`InitReport.skipped`."""
    target = Path(folder).expanduser()
    if target.exists() and not target.is_dir():
        raise ValidationError(
            f"{target} é um arquivo, não uma pasta", hint="escolha outra pasta para o projeto"
        )
    package = Path(__file__).resolve().parent
    resolved = target.resolve()
    if resolved == package or package in resolved.parents:
        raise ValidationError(
            f"{target} fica dentro do pacote promptkit instalado", hint="crie o projeto em uma pasta sua"
        )
    if target.is_dir() and any(target.iterdir()) and not force:
        raise ValidationError(
            f"a pasta {target} não está vazia",
            hint="escolha uma pasta nova ou vazia, ou use --force para só acrescentar os arquivos que faltam "
            "(arquivos diferentes são mantidos e listados)",
        )
    report = InitReport(folder=target)
    for rel, data in template_files().items():
        path = target / rel
        if path.exists() or path.is_symlink():
            if path.is_file() and path.read_bytes() == data:
                report.unchanged.append(rel)
            else:
                report.skipped.append(rel)
            continue
        atomic_write_bytes(path, data)
        report.written.append(rel)
    return report
