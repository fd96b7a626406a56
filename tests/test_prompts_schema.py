"""Schema errors and lint: every problem is one clear line naming the file, the field and the fix."""

from __future__ import annotations

import pytest
from test_prompts_support import SIMPLE, write_version

from promptkit.errors import ValidationError
from promptkit.prompts import get_prompt_spec
from promptkit.prompts.lint import fstring_variables, mustache_variables


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMPTKIT_PROJECT", str(tmp_path))
    (tmp_path / "prompts").mkdir()
    return tmp_path / "prompts"


def _error(root, body: str, name: str = "demo") -> str:
    write_version(root, name, 1, body)
    with pytest.raises(ValidationError) as info:
        get_prompt_spec(name)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_valid_minimal_prompt(root):
    write_version(root, "demo", 1, SIMPLE)
    spec = get_prompt_spec("demo")
    assert (spec.ref, spec.kind, spec.input_variables) == ("demo@1", "text", ["question"])
    assert len(spec.hash) == 64 and spec.parser is None and spec.generation.keys() == []


def test_unknown_key(root):
    msg = _error(root, SIMPLE + "temprature: 0.2\n")
    assert "v1.yaml" in msg and "temprature" in msg and "unknown key" in msg and "spelling" in msg


def test_wrong_type(root):
    msg = _error(root, SIMPLE.replace("input_variables: [question]", "input_variables: question"))
    assert "input_variables" in msg and "list" in msg


def test_wrong_literal_names_choices(root):
    msg = _error(root, SIMPLE.replace("language: en", "language: pt"))
    assert "language" in msg and "'pt-BR'" in msg and "'en'" in msg


def test_jinja2_refused(root):
    msg = _error(root, SIMPLE + "template_format: jinja2\n")
    assert "template_format" in msg and "jinja2" in msg and "f-string" in msg and "mustache" in msg


@pytest.mark.parametrize("field", ["{question.__class__}", "{question[0]}"])
def test_attribute_and_index_access_refused(root, field):
    msg = _error(root, SIMPLE.replace("Q: {question}", f"Q: {{question}} {field}"))
    assert "attribute/index access" in msg and field in msg and "template" in msg


def test_version_must_match_file_name(root):
    write_version(root, "demo", 1, "name: demo\nversion: 2\n" + SIMPLE)
    with pytest.raises(ValidationError, match=r"rename it to v2.yaml"):
        get_prompt_spec("demo")


def test_name_must_match_folder(root):
    write_version(root, "demo", 1, "name: other\nversion: 1\n" + SIMPLE)
    with pytest.raises(ValidationError, match="folder is 'demo'"):
        get_prompt_spec("demo")


def test_invalid_yaml_is_one_line(root):
    msg = _error(root, SIMPLE + "generation: [unclosed\n")
    assert "invalid YAML" in msg and "line" in msg


def test_changelog_must_be_one_line(root):
    msg = _error(root, SIMPLE.replace("changelog: First.", "changelog: |\n  one\n  two"))
    assert "changelog" in msg and "one line" in msg


def test_fewshot_requires_chat(root):
    body = SIMPLE + "fewshot:\n  pool: _pools/x.jsonl\n  example:\n    - {role: ai, content: '{answer}'}\n"
    msg = _error(root, body)
    assert "kind 'chat'" in msg


# ---- lint -----------------------------------------------------------------------------------------
def test_variable_used_but_not_declared(root):
    msg = _error(root, SIMPLE.replace("Q: {question}", "Q: {question} {context}"))
    assert "{context}" in msg and "not declared" in msg and "input_variables" in msg


def test_variable_declared_but_unused(root):
    msg = _error(root, SIMPLE.replace("[question]", "[question, context]"))
    assert "'context'" in msg and "never used" in msg


@pytest.mark.parametrize("template", ["Q: {question", "Q: {question}}", 'JSON: {\\"a\\": 1} {question}'])
def test_unbalanced_or_unescaped_braces(root, template):
    msg = _error(root, SIMPLE.replace("Q: {question}\\nA:", template))
    assert "brace" in msg and "{{" in msg


def test_escaped_braces_are_fine(root):
    write_version(root, "demo", 1, SIMPLE.replace("Q: {question}", 'JSON {{\\"a\\": 1}} Q: {question}'))
    assert get_prompt_spec("demo").input_variables == ["question"]


def test_label_pointing_nowhere(root):
    write_version(root, "demo", 1, SIMPLE)
    (root / "demo" / "labels.yaml").write_text("production: 3\n")
    with pytest.raises(ValidationError, match=r"'production' points at v3, which does not exist"):
        get_prompt_spec("demo@1")


def test_abstain_phrase_must_be_in_instructions(root):
    msg = _error(root, SIMPLE + "abstain_phrase: no answer\n")
    assert "abstain_phrase" in msg and "never appears" in msg


def test_positional_and_format_spec_fields_refused():
    assert "positional" in fstring_variables("{}")[1][0]
    assert "format specs" in fstring_variables("{x:>10}")[1][0]
    assert fstring_variables("a {x} {{y}}") == ({"x"}, [])


def test_mustache_lint():
    assert mustache_variables("{{{text}}} and {{&other}}") == ({"text", "other"}, [])
    names, problems = mustache_variables("{{text}}")
    assert "HTML-escapes" in problems[0] and "{{{text}}}" in problems[0]
    assert "sections" in mustache_variables("{{#x}}a{{/x}}")[1][0]
    assert "attribute" in mustache_variables("{{{x.y}}}")[1][0]
    assert "unbalanced" in mustache_variables("{{{x}}} {{ oops")[1][-1]
    assert mustache_variables('JSON {"a": [1]} {{{x}}}') == ({"x"}, [])


def test_pool_fields_checked(root):
    pool = root / "_pools" / "p.jsonl"
    pool.parent.mkdir()
    pool.write_text(
        '{"id": "a", "question": "q1", "answer": "x"}\n{"id": "b", "question": "q2", "answer": "y"}\n'
    )
    body = """
    description: d
    language: en
    kind: chat
    input_variables: [question]
    messages:
      - {role: human, content: "{question}"}
    fewshot:
      pool: _pools/p.jsonl
      k: 1
      example:
        - {role: human, content: "{question}"}
        - {role: ai, content: "{answr}"}
    changelog: c
    """
    msg = _error(root, body)
    assert "{answr}" in msg and "not a field of pool" in msg and "answer" in msg
