"""The bad-input matrix: every row is refused through the CLI (exit 2, one ``error: …`` line naming the file
or thing and the fix, no traceback) and through the Python API (a :class:`PromptkitError` subclass, never a
raw KeyError/ValueError/YAML/JSON/Unicode error), and no existing cache, index, results or baseline file
changes.

Each test runs inside the ``guarded`` state: a PROMPTKIT_HOME holding a built index and a replay cache, plus a
results file and a baseline file, all hashed before the test and compared byte for byte after it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from promptkit.cli import main
from promptkit.errors import IntegrityError, NotFoundError, PromptkitError, ValidationError
from promptkit.testing import FakeChatModel, FakeEmbeddings

REPO = Path(__file__).resolve().parent.parent

GOOD_SQUAD = {
    "version": "v2.0",
    "data": [
        {
            "title": "Temperatura",
            "paragraphs": [
                {
                    "context": "A temperatura baixa deixa o texto mais previsível.",
                    "qas": [
                        {
                            "id": "q1",
                            "question": "Como fica o texto com temperatura baixa?",
                            "answers": [{"text": "mais previsível", "answer_start": 34}],
                            "is_impossible": False,
                        },
                        {
                            "id": "q2",
                            "question": "Quem criou a temperatura?",
                            "answers": [],
                            "is_impossible": True,
                        },
                    ],
                }
            ],
        }
    ],
}


# -- helpers -------------------------------------------------------------------------------------------------


def cli_error(argv: list[str], capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    """Run the CLI in-process; assert exit 2 and one ``error:`` line (warnings aside) holding the needles."""
    code = main(argv)
    captured = capsys.readouterr()
    err = captured.err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("warning:")]
    assert code == 2, f"exit {code}; stderr: {err!r}; stdout: {captured.out[-500:]!r}"
    assert len(lines) == 1 and lines[0].startswith("error: "), f"expected one error line, got {err!r}"
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    return lines[0]


def subprocess_error(argv: list[str], env_extra: dict[str, str], *needles: str) -> str:
    """The same checks with the installed entry point in a fresh interpreter."""
    env = {**os.environ, **env_extra}
    proc = subprocess.run(
        [sys.executable, "-m", "promptkit", *argv], capture_output=True, text=True, env=env, timeout=120
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith("warning:")]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    return lines[0]


def snapshot(*roots: Path) -> dict[str, str]:
    """sha256 of every file under the roots (hidden lock files included)."""
    out: dict[str, str] = {}
    for root in roots:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for f in files:
            out[str(f)] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def built_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small index built once with fake embeddings (copied into each test's PROMPTKIT_HOME)."""
    from promptkit.index import build_index

    corpus = tmp_path_factory.mktemp("corpus0")
    (corpus / "a.md").write_text("---\ntitle: Temperatura\n---\n\nA temperatura controla a aleatoriedade.\n")
    (corpus / "b.txt").write_text("A atenção compara consultas com chaves.\n")
    out = tmp_path_factory.mktemp("ix0") / "course"
    build_index(corpus, out, embeddings=FakeEmbeddings(), show_progress=False)
    return out


@pytest.fixture
def guarded(tmp_path: Path, built_index: Path):
    """Existing state that no failed command may touch: index, replay cache, results and baseline files."""
    from promptkit.cache import ReplayCache

    home = Path(os.environ["PROMPTKIT_HOME"])
    shutil.copytree(built_index, home / "indexes" / "course")
    with ReplayCache(home / "replay.sqlite") as cache:
        cache.put_many([("k1", "fake-chat", {"prompt": "p"}, {"text": "resposta"})])
    state = tmp_path / "state"
    state.mkdir()
    (state / "results.json").write_text('{"schema": "promptkit.eval/v1", "chain": "x"}\n')
    (state / "baseline.json").write_text('{"schema": "promptkit.baseline/v1"}\n')
    roots = [home, state]
    before = snapshot(*roots)
    yield state
    after = snapshot(*roots)
    changed = sorted(k for k in before if after.get(k) != before[k])
    assert not changed, f"a failed command changed or removed: {changed}"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the project's prompts and chains (PROMPTKIT_PROJECT points at it)."""
    root = tmp_path / "proj"
    shutil.copytree(REPO / "prompts", root / "prompts")
    shutil.copytree(REPO / "chains", root / "chains")
    (root / "eval" / "datasets").mkdir(parents=True)
    monkeypatch.setenv("PROMPTKIT_PROJECT", str(root))
    return root


@pytest.fixture
def fake_default_llm(monkeypatch: pytest.MonkeyPatch) -> list[FakeChatModel]:
    """``load_llm()`` of the default model returns a FakeChatModel; other names go to the real loader."""
    import promptkit.llm as models
    from promptkit.weights import DEFAULT_LLM

    real = models.load_llm
    made: list[FakeChatModel] = []

    def fake(name: str | None = None, **settings):
        if name not in (None, DEFAULT_LLM):
            return real(name, **settings)
        llm = FakeChatModel(default="mais previsível", context_window=1024)
        if settings.get("cache") is not None:
            llm.cache = settings["cache"]
        made.append(llm)
        return llm

    monkeypatch.setattr(models, "load_llm", fake)
    return made


def write_prompt(project: Path, name: str, body: str, version: int = 1) -> Path:
    folder = project / "prompts" / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"v{version}.yaml"
    path.write_text(body, encoding="utf-8")
    return path


GOOD_PROMPT = """\
name: {name}
version: 1
description: Teste.
language: pt-BR
kind: text
template_format: {fmt}
input_variables: [question]
template: "{template}"
changelog: Primeira versão.
"""


def prompt_text(
    name: str, template: str = "Pergunta: {question}", fmt: str = "f-string", **extra: str
) -> str:
    text = GOOD_PROMPT.format(name=name, fmt=fmt, template=template.replace('"', '\\"'))
    return text + "".join(f"{k}: {v}\n" for k, v in extra.items())


# -- prompt files --------------------------------------------------------------------------------------------

BAD_PROMPTS = {
    "malformed_yaml": ("name: broken\nversion: 1\ndescription: [unclosed\n", "invalid YAML"),
    "unknown_key": (prompt_text("broken", temperatur="0.2"), "temperatur"),
    "wrong_type": (prompt_text("broken").replace("version: 1", "version: um"), "version"),
    "jinja2": (prompt_text("broken", template="{{ question }}", fmt="jinja2"), "jinja2"),
    "attribute_access": (prompt_text("broken", template="{question.__class__}"), "attribute/index access"),
    "index_access": (prompt_text("broken", template="{question[0]}"), "attribute/index access"),
    "mustache_attribute": (
        prompt_text("broken", template="{{{question.__class__}}}", fmt="mustache"),
        "attribute/index access",
    ),
    "not_a_mapping": ("- just\n- a list\n", "expected a mapping"),
    "not_utf8": (None, "UTF-8"),
}


@pytest.mark.parametrize("row", sorted(BAD_PROMPTS))
def test_bad_prompt_file_cli(row, project, guarded, capsys):
    body, needle = BAD_PROMPTS[row]
    path = project / "prompts" / "broken" / "v1.yaml"
    path.parent.mkdir(parents=True)
    if body is None:
        path.write_bytes(prompt_text("broken", template="Pergunta ç {question}").encode("latin-1"))
    else:
        path.write_text(body, encoding="utf-8")
    line = cli_error(["prompts", "render", "broken", "--var", "question=x"], capsys, needle)
    assert "broken" in line  # names the file
    cli_error(["prompts", "show", "broken"], capsys, needle)


@pytest.mark.parametrize("row", sorted(BAD_PROMPTS))
def test_bad_prompt_file_api(row, project, guarded):
    from promptkit.prompts import get_prompt_spec, load_prompt, render

    body, needle = BAD_PROMPTS[row]
    path = project / "prompts" / "broken" / "v1.yaml"
    path.parent.mkdir(parents=True)
    if body is None:
        path.write_bytes(prompt_text("broken", template="Pergunta ç {question}").encode("latin-1"))
    else:
        path.write_text(body, encoding="utf-8")
    for call in (
        lambda: load_prompt("broken"),
        lambda: get_prompt_spec("broken"),
        lambda: render("broken", {"question": "x"}),
    ):
        with pytest.raises(ValidationError, match=needle.replace("[", r"\[").replace(".", r"\.")):
            call()


def test_malformed_yaml_through_a_subprocess(project, guarded):
    write_prompt(project, "broken", "name: broken\nversion: 1\ndescription: [unclosed\n")
    subprocess_error(
        ["prompts", "show", "broken"], {"PROMPTKIT_PROJECT": str(project)}, "invalid YAML", "v1.yaml"
    )


def test_malformed_labels_file(project, guarded, capsys):
    from promptkit.prompts import load_prompt

    (project / "prompts" / "rag_qa" / "labels.yaml").write_text("production: [2\n")
    cli_error(["prompts", "show", "rag_qa"], capsys, "labels.yaml", "invalid YAML")
    with pytest.raises(ValidationError, match="labels.yaml"):
        load_prompt("rag_qa")
    (project / "prompts" / "rag_qa" / "labels.yaml").write_text("production: dois\n")
    cli_error(["prompts", "show", "rag_qa"], capsys, "labels.yaml", "version number")


def test_malformed_chain_definition(project, guarded, capsys):
    from promptkit.chains import load_chain

    (project / "chains" / "broken.yaml").write_text("name: broken\nkind: [rag\n")
    cli_error(["chains", "show", "broken"], capsys, "broken.yaml", "not valid YAML")
    cli_error(["run", "broken", "-i", "question=x"], capsys, "broken.yaml")
    with pytest.raises(ValidationError, match="broken.yaml"):
        load_chain("broken")
    (project / "chains" / "broken.yaml").write_text(
        "name: broken\nkind: rag\ndescription: x\nprompt: rag_qa\nretriever: {k: muitos}\n"
    )
    cli_error(["chains", "show", "broken"], capsys, "broken.yaml", "retriever.k")
    (project / "chains" / "broken.yaml").write_text(
        "name: broken\nkind: rag\ndescription: x\nprompt: rag_qa\nretreiver: {k: 2}\n"
    )
    cli_error(["chains", "show", "broken"], capsys, "retreiver", "unknown field")
    with pytest.raises(ValidationError, match="retreiver"):
        load_chain("broken")


def test_tampered_prompt_lock_file(project, guarded, capsys):
    from promptkit.prompts import list_prompts
    from promptkit.prompts.lock import read_lock

    lock = project / "prompts" / "prompts.lock"
    lock.write_text(lock.read_text()[:40])  # truncated mid-write
    cli_error(["prompts", "list"], capsys, "prompts.lock")
    cli_error(["prompts", "check"], capsys, "prompts.lock")
    with pytest.raises(ValidationError, match="prompts.lock"):
        read_lock(project / "prompts")
    with pytest.raises(ValidationError, match="prompts.lock"):
        list_prompts()
    lock.write_text('{"format": 1, "prompts": ["rag_qa"]}\n')
    cli_error(["prompts", "check"], capsys, "prompts.lock")


def test_lock_file_with_a_changed_hash_fails_the_check(project, guarded, capsys):
    lock = project / "prompts" / "prompts.lock"
    data = json.loads(lock.read_text())
    data["prompts"]["rag_qa"]["1"]["sha256"] = "0" * 64
    lock.write_text(json.dumps(data))
    assert main(["prompts", "check"]) == 1  # a failed check, not a crash
    out = capsys.readouterr()
    assert "rag_qa" in out.out + out.err and "Traceback" not in out.err


# -- unknown names -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, needles",
    [
        (["prompts", "show", "rag_q"], ("unknown prompt 'rag_q'", "did you mean 'rag_qa'")),
        (["prompts", "show", "rag_qa@9"], ("version", "9", "available: 1, 2")),
        (["prompts", "show", "rag_qa@nightly"], ("label", "nightly", "production")),
        (["prompts", "render", "rag_qa@v0", "--var", "question=x"], ("version",)),
        (
            ["run", "rag_corse", "-i", "question=x"],
            ("unknown chain 'rag_corse'", "did you mean 'rag_course'"),
        ),
        (["chains", "show", "nope"], ("unknown chain 'nope'",)),
        (["models", "info", "gpt-9"], ("unknown model 'gpt-9'",)),
        (["models", "verify", "gpt-9"], ("unknown model 'gpt-9'",)),
        (
            ["run", "qa_zero_shot", "-i", "question=x", "-i", "context=y", "--set", "name=gpt-9"],
            ("unknown model 'gpt-9'",),
        ),
        (
            ["run", "qa_zero_shot", "-i", "question=x", "-i", "context=y", "--prompt", "qa_zero_shot@7"],
            ("version", "7"),
        ),
        (["eval", "run", "--chain", "nope", "--dataset", "course_qa"], ("unknown chain 'nope'",)),
        (["eval", "run", "--chain", "qa_zero_shot", "--dataset", "no_such_set"], ("unknown dataset",)),
        (
            ["eval", "run", "--chain", "qa_zero_shot", "--dataset", "course_qa", "--split", "nope"],
            ("split 'nope'",),
        ),
    ],
    ids=lambda v: "_".join(v) if isinstance(v, list) else None,
)
def test_unknown_names_cli(argv, needles, guarded, fake_default_llm, capsys):
    cli_error(argv, capsys, *needles)


def test_unknown_names_api(guarded, fake_default_llm):
    from promptkit.chains import load_chain
    from promptkit.evaluation import evaluate
    from promptkit.weights import get_model_info
    from promptkit.llm import load_llm
    from promptkit.prompts import load_prompt

    with pytest.raises(NotFoundError, match="did you mean 'rag_qa'"):
        load_prompt("rag_q")
    with pytest.raises(NotFoundError, match="version"):
        load_prompt("rag_qa@9")
    with pytest.raises(NotFoundError, match="label"):
        load_prompt("rag_qa@nightly")
    with pytest.raises(NotFoundError, match="unknown chain"):
        load_chain("rag_corse")
    with pytest.raises(NotFoundError, match="unknown model"):
        load_llm("gpt-9")
    with pytest.raises(NotFoundError, match="unknown model"):
        get_model_info("gpt-9")
    with pytest.raises(NotFoundError, match="unknown model"):
        load_chain("qa_zero_shot", name="gpt-9")
    with pytest.raises(NotFoundError, match="unknown dataset"):
        evaluate(chain="qa_zero_shot", dataset="no_such_set", show_progress=False)
    with pytest.raises(PromptkitError):
        load_prompt("")
    with pytest.raises(PromptkitError):
        load_prompt("a@b@c")


def test_subprocess_unknown_chain(guarded):
    subprocess_error(["run", "nope", "-i", "question=x"], {}, "unknown chain 'nope'")


# -- variables -----------------------------------------------------------------------------------------------


def test_missing_and_extra_variables(guarded, capsys):
    from promptkit.prompts import load_prompt, render

    cli_error(["prompts", "render", "rag_qa@2", "--var", "question=x"], capsys, "missing", "context")
    cli_error(
        ["prompts", "render", "rag_qa@2", "--var", "question=x", "--var", "context=y", "--var", "contxt=z"],
        capsys,
        "contxt",
    )
    cli_error(["prompts", "render", "rag_qa@2", "--var", "question"], capsys, "KEY=VALUE")
    with pytest.raises(ValidationError, match="context"):
        render("rag_qa@2", {"question": "x"})
    with pytest.raises(ValidationError, match="contxt"):
        render("rag_qa@2", {"question": "x", "context": "y", "contxt": "z"})
    prompt = load_prompt("rag_qa@2")
    with pytest.raises(ValidationError, match="context"):
        prompt.invoke({"question": "x"})
    with pytest.raises(ValidationError, match="context"):
        prompt.format_messages(question="x")


def test_chain_inputs_missing_or_wrong(guarded, fake_default_llm, capsys):
    from promptkit.chains import load_chain

    cli_error(["run", "qa_zero_shot", "-i", "question=x"], capsys, "context")
    cli_error(["run", "qa_zero_shot", "-i", "context=x"], capsys, "question")
    cli_error(["run", "qa_zero_shot"], capsys, "needs input")
    cli_error(
        ["run", "qa_zero_shot", "-i", "question=x", "-i", "context=@/no/such/file"], capsys, "/no/such/file"
    )
    chain = load_chain("qa_zero_shot")
    for bad in (
        {"context": "x"},
        {"question": ""},
        {"question": 3},
        ["question"],
        {"question": "x", "context": 5},
    ):
        with pytest.raises(ValidationError):
            chain.invoke(bad)


# -- corpus --------------------------------------------------------------------------------------------------


@pytest.fixture
def fake_index_embeddings(monkeypatch: pytest.MonkeyPatch) -> None:
    import promptkit.embeddings as embedding

    monkeypatch.setattr(embedding, "default_embeddings", lambda: FakeEmbeddings())
    monkeypatch.setattr(embedding, "default_embeddings_id", lambda: FakeEmbeddings().model_id)


def _build_argv(corpus: Path, out: Path) -> list[str]:
    return ["index", "build", "--corpus", str(corpus), "--out", str(out), "--no-progress"]


def test_empty_corpus(tmp_path, guarded, fake_index_embeddings, capsys):
    from promptkit.index import build_index

    corpus = tmp_path / "vazio"
    corpus.mkdir()
    cli_error(_build_argv(corpus, tmp_path / "ix"), capsys, "vazio", "no indexable document")
    with pytest.raises(ValidationError, match="no indexable document"):
        build_index(corpus, tmp_path / "ix", embeddings=FakeEmbeddings(), show_progress=False)
    (corpus / "só-espaços.md").write_text("   \n\n")
    (corpus / "só-front-matter.md").write_text("---\ntitle: x\n---\n")
    cli_error(_build_argv(corpus, tmp_path / "ix"), capsys, "no indexable document", "só-espaços.md")
    cli_error(_build_argv(tmp_path / "no-such-dir", tmp_path / "ix"), capsys, "no-such-dir", "does not exist")


PDF_BROKEN = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF garbage"
)


def _bad_corpus_file(kind: str, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Create one problem file; return its name."""
    if kind == "binary":
        (corpus / "dados.txt").write_bytes(b"\x00\x01\x02PK\x03\x04" * 200)
        return "dados.txt"
    if kind == "pdf":
        (corpus / "slides.pdf").write_bytes(PDF_BROKEN)
        return "slides.pdf"
    if kind == "truncated_pdf":
        (corpus / "slides.pdf").write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Cat")
        return "slides.pdf"
    if kind == "unreadable":
        target = corpus / "segredo.md"
        target.write_text("texto que ninguém pode ler\n")
        real = Path.read_bytes

        def read_bytes(self: Path) -> bytes:
            if self.name == "segredo.md":
                raise PermissionError(13, "Permission denied", str(self))
            return real(self)

        monkeypatch.setattr(Path, "read_bytes", read_bytes)
        return "segredo.md"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["binary", "pdf", "truncated_pdf", "unreadable"])
def test_bad_corpus_file_is_skipped_with_a_warning(
    kind, tmp_path, guarded, fake_index_embeddings, monkeypatch, capsys
):
    """Next to good files, a problem file is skipped with a warning naming it; alone, the build fails."""
    from promptkit.index import build_index

    corpus = tmp_path / "notas"
    corpus.mkdir()
    name = _bad_corpus_file(kind, corpus, monkeypatch)
    # alone: nothing indexable -> exit 2 naming the file
    cli_error(_build_argv(corpus, tmp_path / "ix"), capsys, name)
    with pytest.raises(ValidationError, match=name.replace(".", r"\.")):
        build_index(corpus, tmp_path / "ix", embeddings=FakeEmbeddings(), show_progress=False)
    # with a good file: built, with a warning naming it
    (corpus / "boa.md").write_text("A temperatura controla a aleatoriedade.\n")
    assert main(_build_argv(corpus, tmp_path / "ix")) == 0
    err = capsys.readouterr().err
    assert f"warning: notas/{name}: skipped" in err and "Traceback" not in err
    report = build_index(corpus, tmp_path / "ix2", embeddings=FakeEmbeddings(), show_progress=False)
    assert report.files_indexed == 1 and any(name in w for w in report.warnings)


def test_non_utf8_corpus_file_is_decoded_with_a_warning(tmp_path, guarded, fake_index_embeddings, capsys):
    """Legacy encodings are decoded (cp1252) and indexed, with a warning saying so: documented behaviour."""
    from promptkit.index import build_index, load_index

    corpus = tmp_path / "notas"
    corpus.mkdir()
    (corpus / "antigo.txt").write_bytes("Atenção: a codificação posicional é somada.".encode("cp1252"))
    assert main(_build_argv(corpus, tmp_path / "ix")) == 0
    err = capsys.readouterr().err
    assert "antigo.txt: not valid UTF-8; decoded as cp1252" in err
    build_index(corpus, tmp_path / "ix2", embeddings=FakeEmbeddings(), show_progress=False)
    hits = load_index(tmp_path / "ix2", embeddings=FakeEmbeddings()).search("codificação posicional", k=1)
    assert "codificação posicional" in hits[0].page_content


def test_pdf_parser_crash_is_a_warning(tmp_path, guarded, fake_index_embeddings, monkeypatch, capsys):
    """Whatever exception the PDF library raises (not only PdfReadError), the file is skipped by name."""
    import pypdf

    class Exploding:
        def __init__(self, *a, **k):
            raise RecursionError("maximum recursion depth exceeded while parsing")

    monkeypatch.setattr(pypdf, "PdfReader", Exploding)
    corpus = tmp_path / "notas"
    corpus.mkdir()
    (corpus / "slides.pdf").write_bytes(PDF_BROKEN)
    (corpus / "boa.md").write_text("A temperatura controla a aleatoriedade.\n")
    assert main(_build_argv(corpus, tmp_path / "ix")) == 0
    assert "warning: notas/slides.pdf: skipped" in capsys.readouterr().err


# -- datasets ------------------------------------------------------------------------------------------------


def _dataset_rows() -> dict[str, tuple[object, str]]:
    dup = json.loads(json.dumps(GOOD_SQUAD))
    dup["data"][0]["paragraphs"][0]["qas"][1]["id"] = "q1"
    shifted = json.loads(json.dumps(GOOD_SQUAD))
    shifted["data"][0]["paragraphs"][0]["qas"][0]["answers"][0]["answer_start"] = 3
    absent = json.loads(json.dumps(GOOD_SQUAD))
    absent["data"][0]["paragraphs"][0]["qas"][0]["answers"][0]["text"] = "imprevisível"
    return {
        "list": ([1, 2, 3], "not a SQuAD dataset"),
        "predictions_file": ({"q1": "mais previsível"}, "not a SQuAD dataset"),
        "no_paragraphs": ({"version": "v2.0", "data": [{"title": "x"}]}, "paragraphs"),
        "duplicate_ids": (dup, "duplicate question id"),
        "answer_start_mismatch": (shifted, "set answer_start to 34"),
        "answer_not_in_context": (absent, "does not occur in the context"),
        "empty": ({"version": "v2.0", "data": []}, "no questions"),
        "truncated": ('{"version": "v2.0", "data": [{"title": "x", "parag', "not valid JSON"),
        "not_utf8": (b'{"version": "v2.0", "data": [], "t": "\xe7\xe3o"}', "not UTF-8"),
        "jsonl": ('{"id": "a"}\n{"id": "b"}\n', "not valid JSON"),
    }


@pytest.mark.parametrize("row", sorted(_dataset_rows()))
def test_bad_dataset(row, tmp_path, guarded, fake_default_llm, capsys):
    from promptkit.datasets import load_squad
    from promptkit.evaluation import evaluate

    content, needle = _dataset_rows()[row]
    path = tmp_path / "conjunto.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_text(json.dumps(content), encoding="utf-8")
    out = guarded / "results.json"
    cli_error(
        ["eval", "run", "--chain", "qa_zero_shot", "--dataset", str(path), "--out", str(out), "--quiet"],
        capsys,
        "conjunto.json",
        needle,
    )
    pred = tmp_path / "pred.json"
    pred.write_text("{}")
    cli_error(["squad-eval", str(path), str(pred)], capsys, "conjunto.json", needle)
    with pytest.raises(ValidationError, match=needle):
        load_squad(path)
    with pytest.raises(ValidationError, match=needle):
        evaluate(chain="qa_zero_shot", dataset=path, out=out, show_progress=False)
    assert not fake_default_llm or not any(m.calls for m in fake_default_llm), (
        "no model call on a bad dataset"
    )


def test_dataset_through_a_subprocess(tmp_path, guarded):
    path = tmp_path / "conjunto.json"
    path.write_text('{"q1": "resposta"}')
    pred = tmp_path / "pred.json"
    pred.write_text("{}")
    subprocess_error(["squad-eval", str(path), str(pred)], {}, "conjunto.json", "not a SQuAD dataset")


# -- oversized inputs ----------------------------------------------------------------------------------------


def test_huge_question_is_refused_before_the_model(guarded, fake_default_llm, capsys):
    from promptkit.chains import MAX_QUESTION_CHARS, load_chain

    question = "Quanto é " + "muito " * (100_000 // 6)
    assert len(question) > 100_000 > MAX_QUESTION_CHARS
    cli_error(
        ["run", "qa_zero_shot", "-i", f"question={question}", "-i", "context=y"],
        capsys,
        "question",
        f"{MAX_QUESTION_CHARS:,}",
    )
    cli_error(["ask", question], capsys, "question", f"{MAX_QUESTION_CHARS:,}")
    for name in ("qa_zero_shot", "rag_course", "qa_few_shot"):
        chain = load_chain(name, embeddings=FakeEmbeddings())
        with pytest.raises(ValidationError, match=f"{MAX_QUESTION_CHARS:,}"):
            chain.invoke({"question": question, "context": "y"})
        with pytest.raises(ValidationError, match=f"{MAX_QUESTION_CHARS:,}"):
            chain.batch([{"question": "ok?", "context": "y"}, {"question": question, "context": "y"}])
    assert all(not m.calls for m in fake_default_llm), "the oversized question never reached the model"
    # at the limit it is accepted
    chain = load_chain("qa_zero_shot")
    out = chain.invoke({"question": "x" * MAX_QUESTION_CHARS, "context": "A temperatura é baixa."})
    assert "answer" in out


def test_huge_document_is_fitted_into_the_context_window(guarded, fake_default_llm):
    """Reading mode truncates an oversized document (recorded); summaries go through map-reduce."""
    from promptkit.chains import load_chain

    document = " ".join(f"Frase {i} sobre a temperatura e a atenção." for i in range(20_000))  # ~800k chars
    for name in ("qa_zero_shot", "rag_course"):
        chain = load_chain(name)
        out = chain.invoke({"question": "O que controla a temperatura?", "context": document})
        assert out["truncated"], name
        llm = fake_default_llm[-1]
        prompt = llm.calls[-1][0]
        assert llm.get_num_tokens(prompt) <= llm.context_window, name
    chain = load_chain("summarize", prompt="summarize@2")  # a whole-text prompt (the production one extracts)
    out = chain.invoke({"text": document})
    assert out.get("mode") == "map_reduce"
    for llm in fake_default_llm[-1:]:
        for batch in llm.calls:
            for prompt in batch:
                assert llm.get_num_tokens(prompt) <= llm.context_window


# -- output paths that cannot be written ---------------------------------------------------------------------


def test_unwritable_output_paths(tmp_path, guarded, fake_default_llm, capsys):
    from promptkit.datasets import dataset_from_dict
    from promptkit.evaluation import evaluate

    dataset = tmp_path / "conjunto.json"
    dataset.write_text(json.dumps(GOOD_SQUAD))
    folder = tmp_path / "pasta"
    folder.mkdir()
    afile = tmp_path / "arquivo"
    afile.write_text("x")
    base = ["eval", "run", "--chain", "qa_zero_shot", "--dataset", str(dataset), "--quiet", "--out"]
    cli_error([*base, str(folder)], capsys, "pasta", "folder")
    cli_error([*base, str(afile / "r.json")], capsys, "arquivo is a file")
    cli_error(["run", "qa_zero_shot", "-i", f"question=@{folder}", "-i", "context=x"], capsys, "pasta")
    cli_error(_build_argv(REPO / "corpus", afile), capsys, "arquivo")
    with pytest.raises(ValidationError, match="pasta"):
        evaluate(
            chain="qa_zero_shot",
            dataset=dataset_from_dict(GOOD_SQUAD),
            llm=FakeChatModel(),
            cache="off",
            out=folder,
            show_progress=False,
        )
    assert afile.read_text() == "x" and not list(folder.iterdir())


def test_cache_home_that_is_a_file(tmp_path, guarded, fake_default_llm, monkeypatch, capsys):
    from promptkit.cache import ReplayCache

    blocker = tmp_path / "home-file"
    blocker.write_text("x")
    monkeypatch.setenv("PROMPTKIT_CACHE", str(blocker / "replay.sqlite"))
    dataset = tmp_path / "conjunto.json"
    dataset.write_text(json.dumps(GOOD_SQUAD))
    cli_error(
        ["eval", "run", "--chain", "qa_zero_shot", "--dataset", str(dataset), "--quiet"],
        capsys,
        "home-file",
        "PROMPTKIT_HOME",
    )
    with pytest.raises(ValidationError, match="home-file"):
        len(ReplayCache(blocker / "replay.sqlite"))


# -- truncated and tampered files ----------------------------------------------------------------------------


def _results_file(tmp_path: Path) -> Path:
    from promptkit.datasets import dataset_from_dict
    from promptkit.evaluation import evaluate

    llm = FakeChatModel(default="mais previsível")
    result = evaluate(
        chain="qa_zero_shot", dataset=dataset_from_dict(GOOD_SQUAD), llm=llm, cache="off", show_progress=False
    )
    path = tmp_path / "a.json"
    result.save(path)
    return path


def test_truncated_results_file(tmp_path, guarded, capsys):
    from promptkit.evaluation import compare, load_result

    good = _results_file(tmp_path)
    bad = tmp_path / "b.json"
    bad.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    html = tmp_path / "r.html"
    cli_error(["eval", "compare", str(good), str(bad)], capsys, "b.json", "truncated")
    cli_error(["eval", "report", str(good), str(bad), "--html", str(html)], capsys, "b.json")
    assert not html.exists()
    with pytest.raises(ValidationError, match="b.json"):
        load_result(bad)
    with pytest.raises(ValidationError, match="b.json"):
        compare(good, bad)
    wrong = tmp_path / "c.json"
    wrong.write_text(json.dumps({**json.loads(good.read_text()), "rows": "nenhuma"}))
    cli_error(["eval", "compare", str(good), str(wrong)], capsys, "c.json", "not a promptkit results file")


@pytest.mark.parametrize("damage", ["baseline_truncated", "baseline_wrong_shape", "replay_truncated"])
def test_damaged_baseline_files(damage, project, guarded, fake_default_llm, capsys):
    from promptkit.regression import check_suite, load_suite

    shutil.copytree(REPO / "eval" / "suites", project / "eval" / "suites")
    shutil.copytree(REPO / "eval" / "baselines", project / "eval" / "baselines")
    for name in ("course_qa.json",):
        shutil.copy(REPO / "eval" / "datasets" / name, project / "eval" / "datasets" / name)
    folder = project / "eval" / "baselines" / "course"
    if not (folder / "rag_qa.json").is_file():
        pytest.skip("no recorded course baseline")
    target = {
        "baseline_truncated": "rag_qa.json",
        "baseline_wrong_shape": "rag_qa.json",
        "replay_truncated": "replay.sqlite",
    }[damage]
    if damage == "baseline_wrong_shape":
        obj = json.loads((folder / target).read_text())
        obj["result"] = {"rows": 3}
        (folder / target).write_text(json.dumps(obj))
    else:
        _truncate(folder / target, 4096 + 50)
    before = snapshot(folder)
    cli_error(
        ["eval", "check", "course", "--entry", "rag_qa", "--cache", "strict", "--quiet"], capsys, target
    )
    with pytest.raises(PromptkitError, match=target.replace(".", r"\.")):
        check_suite(load_suite("course"), "rag_qa", cache="strict", show_progress=False)
    assert snapshot(folder) == before, "a failed check leaves the baselines as they were"
    assert not any(m.calls for m in fake_default_llm)


def _truncate(path: Path, keep: int) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:keep])


@pytest.mark.parametrize("keep", [50, 100, 1024 + 10, 4096 + 100, 20_000])
def test_truncated_replay_cache(keep, tmp_path, guarded, fake_default_llm, monkeypatch, capsys):
    """A replay cache cut mid-write is refused with one clear error, and left as it is (never replaced)."""
    from promptkit.cache import ReplayCache
    from promptkit.datasets import dataset_from_dict
    from promptkit.evaluation import evaluate

    path = tmp_path / "replay.sqlite"
    with ReplayCache(path) as cache:
        cache.put_many(
            [(f"k{i}", "fake", {"prompt": "x" * 200, "i": i}, {"text": "y" * 300}) for i in range(60)]
        )
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("PRAGMA journal_mode=DELETE")
    con.close()
    _truncate(path, keep)
    before = path.read_bytes()
    with pytest.raises(IntegrityError, match="replay.sqlite"):
        with ReplayCache(path) as cache:
            evaluate(
                chain="qa_zero_shot",
                dataset=dataset_from_dict(GOOD_SQUAD),
                llm=FakeChatModel(),
                cache=cache,
                show_progress=False,
            )
    dataset = tmp_path / "conjunto.json"
    dataset.write_text(json.dumps(GOOD_SQUAD))
    monkeypatch.setenv("PROMPTKIT_CACHE", str(path))
    cli_error(
        ["eval", "run", "--chain", "qa_zero_shot", "--dataset", str(dataset), "--quiet"],
        capsys,
        "replay.sqlite",
        "delete it",
    )
    assert path.read_bytes() == before, "a refused cache is not modified"
    assert not any(m.calls for m in fake_default_llm)


def test_tampered_index(tmp_path, guarded, fake_index_embeddings, capsys):
    from promptkit.index import ensure_index, load_index

    home = Path(os.environ["PROMPTKIT_HOME"])
    ix = tmp_path / "ix"
    shutil.copytree(home / "indexes" / "course", ix)
    manifest = json.loads((ix / "manifest.json").read_text())
    chunks = ix / manifest["chunks"]["file"]
    data = bytearray(chunks.read_bytes())
    data[20] ^= 0x20
    chunks.write_bytes(bytes(data))
    snap = snapshot(ix)
    cli_error(
        ["index", "search", "temperatura", "--index", str(ix)], capsys, "tampered", "promptkit index build"
    )
    cli_error(["index", "info", "--index", str(ix)], capsys, "tampered")
    with pytest.raises(IntegrityError, match="tampered"):
        load_index(ix, embeddings=FakeEmbeddings())
    with pytest.raises(IntegrityError, match="tampered"):
        ensure_index(ix, embeddings=FakeEmbeddings(), show_progress=False)
    assert snapshot(ix) == snap, "a tampered index is refused, not silently rebuilt"
    # an edited manifest
    (ix / "manifest.json").write_text(json.dumps({**manifest, "corpus_dir": "/tmp/elsewhere"}))
    cli_error(["index", "info", "--index", str(ix)], capsys, "checksum mismatch")
    # a manifest cut mid-write
    (ix / "manifest.json").write_text(json.dumps(manifest)[:100])
    cli_error(["index", "info", "--index", str(ix)], capsys, "manifest.json")
    with pytest.raises(IntegrityError):
        load_index(ix, embeddings=FakeEmbeddings())
    # a manifest that is valid JSON of the wrong shape (checksum recomputed by the tamperer)
    from promptkit.index.store import manifest_checksum

    odd = {**manifest, "chunks": "chunks.json"}
    odd["checksum"] = manifest_checksum(odd)
    (ix / "manifest.json").write_text(json.dumps(odd))
    cli_error(["index", "info", "--index", str(ix)], capsys, "manifest.json")
    # the lock file replaced by a folder
    (ix / ".lock").unlink(missing_ok=True)
    (ix / ".lock").mkdir()
    cli_error(_build_argv(REPO / "corpus", ix), capsys, ".lock")


# -- a converted model in PROMPTKIT_HOME ---------------------------------------------------------------------


@pytest.fixture
def fake_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A catalogued fake LLM whose converted folder is built (tiny files) in PROMPTKIT_HOME."""
    from promptkit.weights import assemble, catalog
    from promptkit.weights.catalog import ModelEntry

    whole = b"GGUF" + bytes(range(256)) * 4
    site = tmp_path / "site"
    pkg = site / "pk_fake_rel_part1"
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise RuntimeError('never imported')\n")
    (pkg / "data" / "part01.bin").write_bytes(whole)
    monkeypatch.syspath_prepend(str(site))
    import importlib

    importlib.invalidate_caches()
    entry = ModelEntry(
        name="fake-rel",
        kind="llm",
        description="test",
        upstream="example/fake",
        license="MIT",
        packages=("pk-fake-rel-part1==0.1.0",),
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
    )
    monkeypatch.setitem(catalog.CATALOG, entry.name, entry)

    def convert(gguf: Path, out_dir: Path) -> None:
        (out_dir / "config.json").write_text('{"model_type": "fake", "max_position_embeddings": 512}')
        (out_dir / "model.safetensors").write_bytes(hashlib.sha256(gguf.read_bytes()).digest() * 64)

    monkeypatch.setattr(assemble, "convert_gguf", convert)
    folder = assemble.pull(entry, progress=False)
    return entry, folder


@pytest.mark.parametrize(
    "damage",
    ["flip_byte", "truncate", "delete", "manifest_garbage", "manifest_shape", "manifest_files_shape"],
)
def test_tampered_converted_model(damage, guarded, fake_model, capsys):
    from promptkit.weights import verify
    from promptkit.llm import load_llm

    entry, folder = fake_model
    weights = folder / "model.safetensors"
    manifest = folder / "promptkit-model.json"
    if damage == "flip_byte":
        data = bytearray(weights.read_bytes())
        data[5] ^= 0xFF
        weights.write_bytes(bytes(data))
    elif damage == "truncate":
        _truncate(weights, 10)
    elif damage == "delete":
        weights.unlink()
    elif damage == "manifest_garbage":
        _truncate(manifest, 30)
    elif damage == "manifest_shape":
        obj = json.loads(manifest.read_text())
        del obj["source"]
        manifest.write_text(json.dumps(obj))
    elif damage == "manifest_files_shape":
        obj = json.loads(manifest.read_text())
        obj["files"] = {"model.safetensors": "abc"}
        manifest.write_text(json.dumps(obj))
    snap = snapshot(folder)
    line = cli_error(
        ["run", "qa_zero_shot", "-i", "question=x", "-i", "context=y", "--set", "name=fake-rel"],
        capsys,
        "fake-rel",
    )
    assert "promptkit models pull" in line or "delete" in line
    with pytest.raises(IntegrityError, match="fake-rel"):
        load_llm("fake-rel")
    code = main(["models", "verify", "fake-rel"])
    out = capsys.readouterr()
    assert code in (1, 2) and "Traceback" not in out.err
    rows = verify("fake-rel")
    assert not all(ok for _, ok, _ in rows)
    assert snapshot(folder) == snap, "a tampered model folder is refused, not rewritten"


def test_intact_fake_model_loads_its_window(guarded, fake_model):
    from promptkit.llm import load_llm

    llm = load_llm("fake-rel")
    assert llm.window == 512


def test_huge_question_inside_a_dataset_names_its_id(tmp_path, guarded, fake_default_llm, capsys):
    from promptkit.chains import MAX_QUESTION_CHARS
    from promptkit.evaluation import evaluate

    data = json.loads(json.dumps(GOOD_SQUAD))
    qas = data["data"][0]["paragraphs"][0]["qas"]
    qas[1]["question"] = "Por que " + "muito " * 600 + "?"
    long_id = qas[1]["id"]
    path = tmp_path / "conjunto.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    out = guarded / "results.json"
    cli_error(
        ["eval", "run", "--chain", "qa_zero_shot", "--dataset", str(path), "--out", str(out), "--quiet"],
        capsys,
        repr(long_id),
        "conjunto.json",
        f"{MAX_QUESTION_CHARS:,}",
        "shorten that question",
    )
    with pytest.raises(ValidationError, match=f"question {long_id!r} in .*conjunto.json"):
        evaluate(chain="qa_zero_shot", dataset=path, show_progress=False)
    # the existing results file is left as it was (checked byte for byte by the `guarded` fixture)
    assert all(not m.calls for m in fake_default_llm), "no model call before the bad question is named"
