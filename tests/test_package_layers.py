"""Project files over shipped files: a user project's prompts, chains, datasets and corpus shadow the shipped
ones of the same name, listings say where each item comes from, and every write lands in the project only."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from promptkit import paths
from promptkit.cli import main
from promptkit.errors import NotFoundError, ValidationError
from promptkit.prompts import get_prompt_spec, list_prompts
from promptkit.prompts.lock import read_lock
from promptkit.prompts.manage import new_version, set_label
from promptkit.prompts.store import prompt_origin, version_files

REPO = Path(__file__).resolve().parent.parent


def tree_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """An empty user project (prompts/ and chains/) made the current project."""
    root = tmp_path / "meu-projeto"
    (root / "prompts").mkdir(parents=True)
    (root / "chains").mkdir()
    monkeypatch.setenv("PROMPTKIT_PROJECT", str(root))
    return root


@pytest.fixture
def shipped_untouched():
    """The shipped folders hash the same after the test as before it."""
    before = {k: tree_hash(REPO / k) for k in ("prompts", "chains")}
    yield
    assert {k: tree_hash(REPO / k) for k in ("prompts", "chains")} == before


def write_prompt(root: Path, name: str, version: int, system: str) -> Path:
    path = root / "prompts" / name / f"v{version}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"name: {name}\nversion: {version}\ndescription: teste\nlanguage: pt-BR\nkind: chat\n"
        "input_variables: [question]\nmessages:\n"
        f"  - role: system\n    content: {system}\n  - role: human\n    content: '{{question}}'\n"
        "changelog: primeira\n",
        encoding="utf-8",
    )
    return path


def test_layers_are_project_then_shipped(project):
    assert paths.layers() == [(paths.PROJECT, project.resolve()), (paths.SHIPPED, REPO)]
    assert paths.origin_of(project / "prompts" / "x") == paths.PROJECT
    assert paths.origin_of(REPO / "chains" / "rag_course.yaml") == paths.SHIPPED


def test_the_checkout_is_one_layer_the_project(monkeypatch):
    monkeypatch.setenv("PROMPTKIT_PROJECT", str(REPO))
    assert paths.layers() == [(paths.PROJECT, REPO)]
    assert {i.origin for i in list_prompts()} == {paths.PROJECT}


def test_without_a_project_only_shipped_files_are_read(tmp_path, monkeypatch):
    monkeypatch.delenv("PROMPTKIT_PROJECT")
    monkeypatch.chdir(tmp_path)
    assert paths.find_project() is None
    assert paths.layers() == [(paths.SHIPPED, REPO)]
    assert get_prompt_spec("rag_qa@2").ref == "rag_qa@2"
    assert {i.origin for i in list_prompts()} == {paths.SHIPPED}


def test_project_prompt_shadows_the_shipped_one(project, shipped_untouched):
    write_prompt(project, "rag_qa", 1, "Minha versão.")
    spec = get_prompt_spec("rag_qa", lint=False)
    assert spec.path == project / "prompts" / "rag_qa" / "v1.yaml"
    assert list(version_files("rag_qa")) == [1]  # the shipped versions are hidden, not merged
    infos = {i.name: i for i in list_prompts()}
    assert infos["rag_qa"].origin == paths.PROJECT and infos["rag_qa"].versions == [1]
    assert infos["qa_en"].origin == paths.SHIPPED and infos["qa_en"].versions == [1, 2]


def test_prompts_and_chains_list_say_where_each_comes_from(project, capsys):
    write_prompt(project, "meu_prompt", 1, "Olá.")
    (project / "chains" / "minha_chain.yaml").write_text(
        "name: minha_chain\nkind: zero_shot\ntask: qa\ndescription: teste\nprompt: qa_zero_shot\n",
        encoding="utf-8",
    )
    assert main(["prompts", "list"]) == 0
    rows = {
        line.split()[0]: line.split()[-1] for line in capsys.readouterr().out.splitlines()[1:] if line.strip()
    }
    assert rows["meu_prompt"] == "project" and rows["rag_qa"] == "shipped"
    assert main(["chains", "list", "--json"]) == 0
    chains = {c["name"]: c["origin"] for c in json.loads(capsys.readouterr().out)}
    assert chains["minha_chain"] == "project" and chains["rag_course"] == "shipped"
    assert main(["chains", "list"]) == 0
    text = capsys.readouterr().out
    assert any(line.startswith("minha_chain") and " project " in line for line in text.splitlines())


def test_labelling_a_shipped_prompt_copies_it_into_the_project(project, shipped_untouched):
    change = set_label("qa_en@2", "production")
    assert change.previous == 1 and change.version == 2
    copied = project / "prompts" / "qa_en"
    assert sorted(p.name for p in copied.glob("v*.yaml")) == ["v1.yaml", "v2.yaml"]
    assert "production: 2" in (copied / "labels.yaml").read_text()
    assert read_lock(project / "prompts")["qa_en"] == read_lock(REPO / "prompts")["qa_en"]
    pool = get_prompt_spec("qa_en@2", lint=False).fewshot.pool
    assert (project / "prompts" / pool).read_bytes() == (REPO / "prompts" / pool).read_bytes()
    assert prompt_origin("qa_en") == paths.PROJECT
    assert get_prompt_spec("qa_en").ref == "qa_en@2"  # the project's label now decides
    assert main(["prompts", "check"]) == 0


def test_a_new_version_of_a_shipped_prompt_goes_to_the_project(project, shipped_untouched):
    path = new_version("rag_qa", "rag_qa@2")
    shipped = sorted(version_files("rag_qa", REPO / "prompts"))
    assert path == project / "prompts" / "rag_qa" / f"v{max(shipped) + 1}.yaml"
    assert sorted(version_files("rag_qa")) == [*shipped, max(shipped) + 1]


def test_a_new_prompt_from_a_shipped_few_shot_one_brings_its_pool(project, shipped_untouched):
    source = get_prompt_spec("qa_few_shot@1", lint=False)
    path = new_version("meu_few_shot", "qa_few_shot@1")
    assert path == project / "prompts" / "meu_few_shot" / "v1.yaml"
    assert (project / "prompts" / source.fewshot.pool).is_file()


def test_writes_need_a_project(tmp_path, monkeypatch, shipped_untouched):
    monkeypatch.delenv("PROMPTKIT_PROJECT")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NotFoundError, match="no promptkit project") as info:
        set_label("rag_qa@2", "staging")
    assert "promptkit init" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_the_installed_package_is_never_a_write_target(monkeypatch, shipped_untouched):
    monkeypatch.setenv("PROMPTKIT_PROJECT", str(REPO / "promptkit"))
    with pytest.raises(ValidationError, match="never writes there"):
        paths.writable_project()


def test_datasets_are_looked_up_project_first(project):
    from promptkit.datasets import resolve_dataset_path

    assert resolve_dataset_path("course_qa") == REPO / "eval" / "datasets" / "course_qa.json"
    mine = project / "eval" / "datasets" / "course_qa.json"
    mine.parent.mkdir(parents=True)
    shutil.copyfile(REPO / "eval" / "datasets" / "english_qa.json", mine)
    assert resolve_dataset_path("course_qa") == mine
    with pytest.raises(NotFoundError, match="english_qa"):
        resolve_dataset_path("englsh_qa")  # the did-you-mean lists the shipped names too


def test_project_chain_shadows_the_shipped_one(project):
    from promptkit.chains import get_definition

    assert get_definition("qa_zero_shot").description.startswith("Responde em português")
    (project / "chains" / "qa_zero_shot.yaml").write_text(
        "name: qa_zero_shot\nkind: zero_shot\ntask: qa\ndescription: minha\nprompt: qa_zero_shot\n",
        encoding="utf-8",
    )
    assert get_definition("qa_zero_shot").description == "minha"


def test_the_course_corpus_and_its_index_follow_the_project(project):
    assert paths.corpus_dir() == REPO / "corpus"
    assert paths.default_index_dir() == paths.home() / "indexes" / "course"
    (project / "corpus").mkdir()
    (project / "corpus" / "notas.md").write_text("# Notas\n\nTexto.\n", encoding="utf-8")
    assert paths.corpus_dir() == project / "corpus"
    own = paths.default_index_dir()
    assert own.parent == paths.home() / "indexes" and own.name.startswith("course-")
