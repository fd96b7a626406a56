"""The wheel carries the shipped prompts, chains, corpus and eval data as package data, and promptkit
installed from it works anywhere: shipped items are listed as such, `promptkit init` writes a project, and
nothing is ever written into the installed package. (.ci/package_check.sh does the same with a real install in
a fresh venv.)"""

from __future__ import annotations

import hashlib
import os
import runpy
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SOURCES = ("setup.py", "pyproject.toml", "README.md", "promptkit", "prompts", "chains", "corpus", "eval")

pytestmark = pytest.mark.slow


def _tree_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a copy of the sources (the checkout itself is left as it is)."""
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(
                REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "results")
            )
        else:
            shutil.copy2(REPO / name, src / name)
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (found,) = out.glob("promptkit-*.whl")
    return found


@pytest.fixture(scope="module")
def site(wheel, tmp_path_factory) -> Path:
    """The wheel unpacked: what pip puts in site-packages for a pure-Python wheel."""
    folder = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(folder)
    return folder


def run(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PROMPTKIT_PROJECT", "PYTHONPATH")}
    env["PYTHONPATH"] = str(site)
    return subprocess.run(
        [sys.executable, "-m", "promptkit", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_wheel_holds_the_shipped_folders(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    settings = runpy.run_path(str(REPO / "setup.py"), run_name="setup_settings")
    expected = {
        "promptkit/" + package.removeprefix("promptkit.").replace(".", "/") + "/" + name
        for package, files in settings["shipped_data"]().items()
        for name in files
    }
    assert expected <= names
    for must in (
        "prompts/prompts.lock",
        "prompts/rag_qa/labels.yaml",
        "prompts/_pools/qa_pt.jsonl",
        "prompts/moderation/TAXONOMY.md",
        "chains/rag_course.yaml",
        "eval/datasets/course_qa.json",
        "eval/suites/course.yaml",
        "eval/baselines/course/rag_qa.json",
        "eval/baselines/course/replay.sqlite",
    ):
        assert f"promptkit/_shipped/{must}" in names, must
    corpus = {n for n in names if n.startswith("promptkit/_shipped/corpus/")}
    assert len(corpus) == len(list((REPO / "corpus").glob("*.md")))
    assert not [n for n in names if n.startswith("promptkit/_shipped/") and n.endswith(".py")]
    assert "promptkit/ui/views/perguntar.py" in names


def test_the_wheel_holds_the_project_template(wheel):
    from promptkit.scaffold import RENAMES, template_files

    names = set(zipfile.ZipFile(wheel).namelist())
    back = {v: k for k, v in RENAMES.items()}
    for rel in template_files():
        parts = rel.split("/")
        parts[-1] = back.get(parts[-1], parts[-1])
        assert "promptkit/project-template/" + "/".join(parts) in names, rel


def test_installed_promptkit_reads_the_shipped_files_and_writes_only_to_projects(site, tmp_path):
    empty = tmp_path / "em-lugar-nenhum"
    empty.mkdir()
    before = _tree_hash(site)

    listed = run(site, empty, "prompts", "list")
    assert listed.returncode == 0, listed.stderr
    rows = [
        line.split() for line in listed.stdout.splitlines()[1:] if line.strip() and not line.startswith("(")
    ]
    assert rows and {r[-1] for r in rows} == {"shipped"} and "rag_qa" in {r[0] for r in rows}
    chains = run(site, empty, "chains", "list")
    assert chains.returncode == 0 and "rag_course" in chains.stdout and " shipped " in chains.stdout

    refused = run(site, empty, "prompts", "label", "rag_qa@2", "staging", "--no-check")
    assert (
        refused.returncode == 2
        and "no promptkit project" in refused.stderr
        and "Traceback" not in refused.stderr
    )
    assert list(empty.iterdir()) == []

    made = run(site, empty, "init", "demo")
    assert made.returncode == 0, made.stderr
    demo = empty / "demo"
    assert (demo / "prompts" / "resposta_curta" / "v2.yaml").is_file() and (demo / ".gitignore").is_file()
    listed = run(site, demo, "prompts", "list")
    origins = {line.split()[0]: line.split()[-1] for line in listed.stdout.splitlines()[1:] if line.strip()}
    assert origins["resposta_curta"] == "project" and origins["rag_qa"] == "shipped"
    moved = run(site, demo, "prompts", "label", "qa_en@2", "production", "--no-check")
    assert moved.returncode == 0, moved.stderr
    assert "production: 2" in (demo / "prompts" / "qa_en" / "labels.yaml").read_text()
    assert run(site, demo, "prompts", "check").returncode == 0

    assert _tree_hash(site) == before  # nothing was written into the installed package


def test_importing_the_installed_package_stays_cheap(site, tmp_path):
    code = (
        "import sys, promptkit, promptkit.paths as p; print(p.shipped_root()); "
        "print(sorted(m for m in ('torch', 'transformers', 'faiss', 'streamlit') if m in sys.modules))"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PROMPTKIT_PROJECT", "PYTHONPATH")}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    root, heavy = done.stdout.splitlines()
    assert Path(root) == site / "promptkit" / "_shipped" and heavy == "[]"
