"""Safety properties of the code base: nothing on a load path can run code, templates cannot reach Python
internals, and every cache, index, results or baseline file is written atomically (or through SQLite).

The source checks read tokens, not text, so words inside strings and comments (error messages that refuse
pickle or jinja2, docstrings that explain why) do not count.
"""

from __future__ import annotations

import io
import os
import tokenize
from pathlib import Path

import pytest

from promptkit.errors import ValidationError

PACKAGE = Path(__file__).resolve().parent.parent / "promptkit"
SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def code_tokens(path: Path) -> list[tokenize.TokenInfo]:
    """The tokens of a file that are code (no strings, comments or layout).

    On Python 3.11 an f-string is one STRING token, so code inside its braces is not seen; the package keeps
    f-string expressions to plain names and attribute reads."""
    skip = {
        tokenize.STRING,
        tokenize.COMMENT,
        tokenize.NL,
        tokenize.NEWLINE,
        tokenize.INDENT,
        tokenize.DEDENT,
    }
    for name in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END"):  # Python 3.12+
        if hasattr(tokenize, name):
            skip.add(getattr(tokenize, name))
    text = path.read_text(encoding="utf-8")
    return [t for t in tokenize.generate_tokens(io.StringIO(text).readline) if t.type not in skip]


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(PACKAGE))
    except ValueError:
        return path.name


def find_sequences(path: Path, patterns: list[tuple[str, ...]]) -> list[str]:
    """``file:line: a b c`` for every run of code tokens equal to one of the patterns."""
    toks = code_tokens(path)
    hits = []
    for i in range(len(toks)):
        for pattern in patterns:
            window = tuple(t.string for t in toks[i : i + len(pattern)])
            if window == pattern:
                prev = toks[i - 1].string if i else ""
                if pattern[0] in ("eval", "exec", "compile") and prev == ".":
                    continue  # a method (model.eval()), not the builtin
                if pattern[0] in ("eval", "exec", "compile") and prev == "def":
                    continue
                hits.append(f"{_rel(path)}:{toks[i].start[0]}: {' '.join(pattern)}")
    return hits


FORBIDDEN = [
    ("import", "pickle"),
    ("from", "pickle"),
    ("pickle", "."),
    ("import", "dill"),
    ("import", "shelve"),
    ("import", "marshal"),
    ("joblib", ".", "load"),
    ("allow_dangerous_deserialization", "=", "True"),
    ("yaml", ".", "load", "("),
    ("yaml", ".", "unsafe_load"),
    ("yaml", ".", "full_load"),
    ("yaml", ".", "Loader"),
    ("yaml", ".", "FullLoader"),
    ("yaml", ".", "UnsafeLoader"),
    ("import", "jinja2"),
    ("from", "jinja2"),
    ("template_format", "=", "jinja2"),
    ("eval", "("),
    ("exec", "("),
    ("compile", "("),
    ("__import__", "("),
    ("trust_remote_code", "=", "True"),
    ("shell", "=", "True"),
]


def test_the_source_scan_sees_code_but_not_strings(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""pickle is refused; never yaml.load( a file."""\n'
        "# eval( in a comment\n"
        'MSG = "allow_dangerous_deserialization=True is a hole"\n'
        "model.eval()\n"
        "x = eval('1')\n"
        "import pickle\n"
        "data = yaml.load(text)\n"
        'f"pickle in text"\n'
    )
    hits = find_sequences(sample, FORBIDDEN)
    found = {h.split(": ", 1)[1] for h in hits}
    assert found == {"eval (", "import pickle", "yaml . load ("}, hits
    assert len(hits) == 3


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_code_execution_on_any_load_path(path):
    """No pickle, unsafe YAML, jinja2, eval/exec, remote code or shell in the package."""
    hits = find_sequences(path, FORBIDDEN)
    assert not hits, "unsafe construct(s):\n" + "\n".join(hits)


def test_torch_load_is_weights_only():
    for path in SOURCES:
        toks = code_tokens(path)
        for i, tok in enumerate(toks):
            if tok.string == "torch" and [t.string for t in toks[i + 1 : i + 4]] == [".", "load", "("]:
                depth, j, args = 0, i + 3, []
                while j < len(toks):
                    depth += {"(": 1, ")": -1}.get(toks[j].string, 0)
                    args.append(toks[j].string)
                    if depth == 0:
                        break
                    j += 1
                assert "weights_only" in args, f"{path}:{tok.start[0]}: torch.load without weights_only=True"


# -- writes --------------------------------------------------------------------------------------------------

# Every place that may open a file for writing, with the reason it is safe. Anything new must be added here
# knowingly (and should normally use promptkit.fileio.atomic_write_* instead). Keys are "file: what".
ALLOWED_WRITES = {
    "fileio.py: os.fdopen": "the atomic-write primitive itself (temporary file, fsync, rename)",
    "index/store.py: open(…) for writing": "the build lock file, opened to flock it (holds no data)",
    "weights/assemble.py: open(…) for writing": "the GGUF is assembled inside a private temporary folder that "
    "is renamed into place; the other open is the flock file",
    "pytest_plugin.py: shutil.copyfile": "copies a committed replay file to a private temporary copy",
    "regression/baseline.py: shutil.copyfile": "copies to a staging file, then os.replace onto the target",
}


def _write_calls(path: Path) -> list[str]:
    """Lines that open a file for writing, write_text/write_bytes, or copy/move files."""
    toks = code_tokens(path)
    hits = []
    for i, tok in enumerate(toks):
        s = tok.string
        nxt = toks[i + 1].string if i + 1 < len(toks) else ""
        prev = toks[i - 1].string if i else ""
        where = f"{_rel(path)}:{tok.start[0]}"
        if s in ("write_text", "write_bytes") and prev == "." and nxt == "(":
            hits.append(f"{where}: .{s}(")
        elif (
            s in ("copy", "copyfile", "copy2", "move", "copytree")
            and prev == "."
            and i >= 2
            and toks[i - 2].string == "shutil"
        ):
            hits.append(f"{where}: shutil.{s}")
        elif s == "open" and nxt == "(" and prev not in (".", "def"):
            depth, j, args = 0, i + 1, []
            while j < len(toks):
                depth += {"(": 1, ")": -1}.get(toks[j].string, 0)
                args.append(toks[j])
                if depth == 0:
                    break
                j += 1
            raw = [t for t in args if t.type == tokenize.NAME or t.type == tokenize.OP]
            # the mode is a string literal, which code_tokens dropped: re-read the line
            line = path.read_text(encoding="utf-8").splitlines()[tok.start[0] - 1]
            if any(m in line for m in ('"w', "'w", '"a', "'a", '"x', "'x", "+b", "b+", "mode=")) or not raw:
                hits.append(f"{where}: open(…) for writing")
        elif s in ("fdopen",) and nxt == "(":
            hits.append(f"{where}: os.fdopen")
    return hits


def test_every_data_write_is_atomic():
    offenders = []
    for path in SOURCES:
        for hit in _write_calls(path):
            where, what = hit.split(": ", 1)
            if f"{where.split(':')[0]}: {what}" not in ALLOWED_WRITES:
                offenders.append(hit)
    assert not offenders, (
        "files written without promptkit.fileio.atomic_write_* (a crash could leave them truncated):\n"
        + "\n".join(offenders)
    )


def test_the_write_scan_finds_writes(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from pathlib import Path\n"
        "Path('x').write_text('y')\n"
        "with open(p, 'w') as f:\n    pass\n"
        "with open(p, 'rb') as f:\n    pass\n"
        "import shutil\nshutil.copy(a, b)\n"
    )
    hits = _write_calls(sample)
    assert [h.split(": ", 1)[1] for h in hits] == [".write_text(", "open(…) for writing", "shutil.copy"]


def test_a_crash_during_an_atomic_write_keeps_the_old_file(tmp_path, monkeypatch):
    from promptkit import fileio

    target = tmp_path / "results.json"
    fileio.atomic_write_json(target, {"version": 1})
    before = target.read_bytes()

    def crash(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(ValidationError, match="No space left on device"):
        fileio.atomic_write_json(target, {"version": 2, "rows": list(range(1000))})
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"], "no temporary file left behind"


def test_results_and_baselines_are_saved_through_atomic_writes(tmp_path, monkeypatch):
    """EvalResult.save and the baseline writer call atomic_write_text (checked by interception)."""
    import promptkit.evaluation.results as results_mod
    import promptkit.regression.baseline as baseline_mod

    assert results_mod.atomic_write_text is not None and baseline_mod.atomic_write_text is not None
    src = (PACKAGE / "regression" / "baseline.py").read_text(encoding="utf-8")
    assert "atomic_write_text(baseline_path(" in src
    src = (PACKAGE / "evaluation" / "results.py").read_text(encoding="utf-8")
    assert "atomic_write_text(target, self.to_json())" in src


# -- templates -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "{x.__class__}",
        "{x.__class__.__mro__[1].__subclasses__}",
        "{x[0]}",
        "{x['a']}",
        "{x.__globals__}",
        "{x!r}",
        "{x:>{y}}",
        "{0}",
        "{}",
        "{x",
        "x}",
    ],
)
def test_fstring_templates_refuse_attribute_index_and_positional_fields(template):
    from promptkit.prompts.lint import fstring_variables

    _, problems = fstring_variables(template)
    assert problems, template


@pytest.mark.parametrize(
    "template", ["{{{x.__class__}}}", "{{{x.0}}}", "{{#x}}{{/x}}", "{{> part}}", "{{x}}"]
)
def test_mustache_templates_refuse_everything_but_plain_variables(template):
    from promptkit.prompts.lint import mustache_variables

    _, problems = mustache_variables(template)
    assert problems, template


def test_values_are_inserted_literally_never_formatted_again():
    """A user value that looks like a template field reaches the model as text."""
    from promptkit.prompts import render

    text = render("rag_qa@2", {"question": "{context.__class__} {0}", "context": "{question} }}{{"})
    assert "{context.__class__} {0}" in text and "{question} }}{{" in text


def test_spec_validation_refuses_jinja_in_any_spelling():
    from promptkit.prompts.schema import parse_version

    base = {
        "name": "x",
        "version": 1,
        "description": "d",
        "language": "pt-BR",
        "kind": "text",
        "input_variables": ["q"],
        "template": "{q}",
        "changelog": "c",
    }
    for fmt in ("jinja2", "Jinja2", "jinja"):
        with pytest.raises(ValidationError, match="jinja2 templates are refused"):
            parse_version({**base, "template_format": fmt}, Path("prompts/x/v1.yaml"))


def test_yaml_tags_that_build_python_objects_are_refused(tmp_path, monkeypatch):
    """safe_load refuses !!python/object tags: a prompt file cannot construct objects."""
    from promptkit.prompts import load_prompt

    root = tmp_path / "prompts" / "evil"
    root.mkdir(parents=True)
    (root / "v1.yaml").write_text(
        "name: evil\nversion: 1\ndescription: !!python/object/apply:os.system ['echo pwned']\n"
        "language: pt-BR\nkind: text\ninput_variables: [q]\ntemplate: '{q}'\nchangelog: c\n"
    )
    monkeypatch.setenv("PROMPTKIT_PROJECT", str(tmp_path))
    (tmp_path / "chains").mkdir()
    with pytest.raises(ValidationError, match="invalid YAML"):
        load_prompt("evil")
    from promptkit.chains import load_chain

    (tmp_path / "chains" / "evil.yaml").write_text("name: !!python/name:os.system\n")
    with pytest.raises(ValidationError, match="not valid YAML"):
        load_chain("evil")


def test_index_files_are_never_unpickled(tmp_path):
    """A pickle planted as the chunks file is refused by its hash before anything parses it."""
    import json
    import pickle  # noqa: S403 - building the malicious file only

    from promptkit.errors import IntegrityError
    from promptkit.index import build_index, load_index
    from promptkit.testing import FakeEmbeddings

    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.md").write_text("A atenção compara consultas com chaves.\n")
    out = tmp_path / "ix"
    build_index(corpus, out, embeddings=FakeEmbeddings(), show_progress=False)
    manifest = json.loads((out / "manifest.json").read_text())

    class Boom:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    (out / manifest["chunks"]["file"]).write_bytes(pickle.dumps(Boom()))
    with pytest.raises(IntegrityError):
        load_index(out, embeddings=FakeEmbeddings())
    assert not (tmp_path / "pwned").exists()
