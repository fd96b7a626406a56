"""`promptkit init`: the project it writes is complete and consistent, existing files are never overwritten,
and the edit → check → eval → label loop works in it (with the fake model here; with the real one under
`model`)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from ui_support import gold_answerer

from promptkit.cli import main
from promptkit.scaffold import init_project, template_files

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def demo(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "demo"
    init_project(folder)
    monkeypatch.setenv("PROMPTKIT_PROJECT", str(folder))
    return folder


def test_init_writes_the_whole_template(tmp_path, capsys):
    assert main(["init", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    written = sorted(
        str(p.relative_to(tmp_path / "demo")) for p in (tmp_path / "demo").rglob("*") if p.is_file()
    )
    assert written == sorted(template_files())
    for rel in (
        ".gitignore",
        "README.md",
        "pytest.ini",
        "tests/test_prompts.py",
        "eval/suites/projeto.yaml",
        "chains/perguntas_curso.yaml",
        "prompts/resposta_curta/labels.yaml",
        "prompts/prompts.lock",
    ):
        assert rel in written and f"criado     {rel}" in out
    assert "pytest" in out and "cd " in out


def test_the_readme_explains_the_loop_in_portuguese(tmp_path):
    init_project(tmp_path / "demo")
    readme = (tmp_path / "demo" / "README.md").read_text(encoding="utf-8")
    steps = [
        "promptkit prompts new",
        "promptkit prompts check",
        "promptkit eval run",
        "promptkit eval check",
        "promptkit prompts label",
    ]
    assert [readme.index(s) for s in steps] == sorted(readme.index(s) for s in steps)
    assert "Edite o prompt" in readme and "linha de base" in readme


def test_a_non_empty_folder_is_refused(tmp_path, capsys):
    folder = tmp_path / "ocupada"
    folder.mkdir()
    (folder / "notas.txt").write_text("meu texto")
    assert main(["init", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "não está vazia" in err and "--force" in err
    assert [p.name for p in folder.iterdir()] == ["notas.txt"]


def test_force_adds_what_is_missing_and_lists_what_it_kept(tmp_path, capsys):
    folder = tmp_path / "demo"
    init_project(folder)
    readme = folder / "README.md"
    readme.write_text("# O meu README\n", encoding="utf-8")
    (folder / "chains" / "perguntas_curso.yaml").unlink()
    assert main(["init", str(folder), "--force"]) == 0
    out = capsys.readouterr().out
    assert readme.read_text(encoding="utf-8") == "# O meu README\n"  # never overwritten
    assert "mantido    README.md" in out and "não foi sobrescrito" in out
    assert "criado     chains/perguntas_curso.yaml" in out and "igual      pytest.ini" in out
    report = init_project(folder, force=True)
    assert report.skipped == ["README.md"] and not report.written


def test_a_file_where_the_folder_should_be_is_refused(tmp_path, capsys):
    (tmp_path / "arquivo").write_text("x")
    assert main(["init", str(tmp_path / "arquivo")]) == 2
    assert "é um arquivo" in capsys.readouterr().err


def test_the_template_project_is_consistent(demo):
    from promptkit.chains import get_definition
    from promptkit.datasets import load_squad
    from promptkit.prompts import get_prompt_spec, list_prompts
    from promptkit.prompts.checks import check_all
    from promptkit.prompts.manage import lock_all
    from promptkit.regression import load_suite

    assert lock_all() == []  # every version is released, and the lock matches the files
    assert [p for p in check_all(dataset=demo / "eval" / "datasets" / "perguntas_curso.json")] == []
    assert get_prompt_spec("resposta_curta").ref == "resposta_curta@2"
    info = {i.name: i for i in list_prompts()}["resposta_curta"]
    assert info.versions == [1, 2] and info.labels == {"production": 2} and info.origin == "project"
    data = load_squad("perguntas_curso")
    examples = list(data)
    assert len(examples) == 10 and sum(e.is_impossible for e in examples) == 2
    spans = [(e.context, a, s) for e in examples for a, s in zip(e.answers, e.answer_starts, strict=True)]
    assert all(context[s : s + len(a)] == a for context, a, s in spans)
    suite = load_suite("projeto")
    assert [e.id for e in suite.entries] == ["resposta_curta"]
    assert get_definition(suite.entries[0].chain).prompt.startswith("resposta_curta")


def test_the_loop_catches_a_worse_prompt(demo):
    from promptkit.prompts.manage import new_version
    from promptkit.regression import check_suite, record_baseline

    llm = gold_answerer(demo, worse_marker="PIOR")
    record_baseline("projeto", cache="use", cache_path=demo / "cache.sqlite", llm=llm, show_progress=False)
    assert (demo / "eval" / "baselines" / "projeto" / "resposta_curta.json").is_file()
    assert check_suite("projeto", llm=llm, show_progress=False).exit_code == 0

    path = new_version("resposta_curta", "resposta_curta@production")
    text = path.read_text(encoding="utf-8").replace("Regras:", "PIOR. Regras:")
    path.write_text(re.sub(r"(?m)^changelog:.*$", "changelog: Piora de propósito.", text), encoding="utf-8")
    check = check_suite("projeto", llm=llm, show_progress=False)
    assert check.exit_code == 1 and check.entries[0].status == "regression"
    assert "resposta_curta@3" in check.entries[0].summary()


@pytest.mark.model
def test_pytest_passes_after_init_and_a_worse_prompt_fails_the_check(tmp_path):
    """The real default model: `pytest` in a fresh project records the baseline and passes; a worse version
    then makes `promptkit eval check` exit 1."""
    env = {k: v for k, v in os.environ.items() if k != "PROMPTKIT_PROJECT"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    cli = [sys.executable, "-m", "promptkit"]
    assert subprocess.run([*cli, "init", "demo"], cwd=tmp_path, env=env, timeout=60).returncode == 0
    demo = tmp_path / "demo"

    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly"],
        cwd=demo,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-3000:]
    assert "2 passed" in tests.stdout
    assert (demo / "eval" / "baselines" / "projeto" / "replay.sqlite").is_file()
    assert subprocess.run([*cli, "eval", "check", "--quiet"], cwd=demo, env=env, timeout=600).returncode == 0

    assert (
        subprocess.run(
            [*cli, "prompts", "new", "resposta_curta", "--from", "resposta_curta@production"],
            cwd=demo,
            env=env,
            timeout=60,
        ).returncode
        == 0
    )
    v3 = demo / "prompts" / "resposta_curta" / "v3.yaml"
    text = v3.read_text(encoding="utf-8")
    text = re.sub(
        r"(?s)content: \|-\n      Você responde.*?sem resposta\n",
        "content: |-\n      Escreva sempre exatamente: sem resposta\n",
        text,
        count=1,
    )
    v3.write_text(re.sub(r"(?m)^changelog:.*$", "changelog: Sempre sem resposta.", text), encoding="utf-8")
    checked = subprocess.run(
        [*cli, "eval", "check", "--quiet"], cwd=demo, env=env, capture_output=True, text=True, timeout=600
    )
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "REGRESSION" in checked.stdout and "resposta_curta@3" in checked.stdout
