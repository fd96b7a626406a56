"""LangChain objects, rendering (golden files), missing variables, few-shot selection and brace escaping.

Regenerate the golden files after an intended change (a new version) with
``PROMPTKIT_UPDATE_GOLDEN=1 pytest tests/test_prompts_render.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from langchain_core.prompts import (
    BasePromptTemplate,
    ChatPromptTemplate,
    FewShotChatMessagePromptTemplate,
    PromptTemplate,
)
from test_prompts_support import FIXED_INPUTS, REPO, SIMPLE, copy_registry, write_version

from promptkit.errors import PromptkitError
from promptkit.prompts import get_prompt_spec, list_prompts, load_prompt, render, select_examples
from promptkit.prompts.selectors import choose
from promptkit.testing import FakeEmbeddings

GOLDEN = REPO / "tests" / "golden" / "prompts"
UPDATE = os.environ.get("PROMPTKIT_UPDATE_GOLDEN") == "1"


def _shipped_refs() -> list[str]:
    return [f"{info.name}@{v}" for info in list_prompts(REPO / "prompts") for v in info.versions]


SHIPPED = _shipped_refs()


@pytest.mark.parametrize("ref", SHIPPED)
def test_every_shipped_version_is_a_langchain_prompt(ref, fake_embeddings):
    prompt = load_prompt(ref, embeddings=fake_embeddings)
    spec = get_prompt_spec(ref)
    assert isinstance(prompt, BasePromptTemplate)
    assert isinstance(prompt, ChatPromptTemplate if spec.kind == "chat" else PromptTemplate)
    assert sorted(prompt.input_variables) == sorted(spec.input_variables)
    meta = prompt.metadata
    assert {k: meta[k] for k in ("name", "version", "ref", "hash", "language", "kind")} == {
        "name": spec.name,
        "version": spec.version,
        "ref": ref,
        "hash": spec.hash,
        "language": spec.language,
        "kind": spec.kind,
    }
    if spec.fewshot is not None:
        assert any(isinstance(m, FewShotChatMessagePromptTemplate) for m in prompt.messages)


@pytest.mark.parametrize("ref", SHIPPED)
def test_golden_render(ref):
    spec = get_prompt_spec(ref)
    values = {k: FIXED_INPUTS[k] for k in spec.input_variables}
    text = f"# {ref} sha256={spec.hash}\n" + render(ref, values, embeddings=FakeEmbeddings())
    path = GOLDEN / f"{ref}.txt"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing golden {path}; run with PROMPTKIT_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


def test_no_stale_golden_files():
    names = {p.stem for p in GOLDEN.glob("*.txt")}
    assert names == set(SHIPPED)


def test_invoke_goes_through_langchain(fake_embeddings):
    value = load_prompt("rag_qa@2").invoke({"context": "[1] doc", "question": "q?"})
    messages = value.to_messages()
    assert [m.type for m in messages] == ["system", "human"]
    assert "<documentos>\n[1] doc\n</documentos>" in messages[1].content


@pytest.mark.parametrize("call", ["format", "format_messages", "invoke"])
def test_missing_variable_is_a_promptkit_error(call):
    prompt = load_prompt("qa_zero_shot")
    with pytest.raises(PromptkitError) as info:
        if call == "invoke":
            prompt.invoke({"question": "q"})
        else:
            getattr(prompt, call)(question="q")
    message = str(info.value)
    assert "qa_zero_shot@1" in message and "context" in message
    assert "expected ['context', 'question']" in message and "received ['question']" in message
    assert not isinstance(info.value, KeyError)


def test_missing_variable_text_prompt(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMPTKIT_PROJECT", str(tmp_path))
    write_version(tmp_path / "prompts", "demo", 1, SIMPLE)
    prompt = load_prompt("demo")
    assert isinstance(prompt, PromptTemplate)
    assert prompt.format(question="x") == "Q: x\nA:"
    with pytest.raises(PromptkitError, match=r"expected \['question'\], received \[\]"):
        prompt.format()


def test_mustache_renders_text_unescaped():
    text = 'He said "stop" <now> & {x} {{y}}'
    out = render("moderation@1", {"text": text})
    assert f"Texto: {text}\n" in out and '{"categories": ["safe"]}' in out


# ---- few-shot -------------------------------------------------------------------------------------
QUESTION = {"context": FIXED_INPUTS["context"], "question": "Quem criou a biblioteca pandas?"}


def test_fewshot_selection_is_deterministic_and_logged():
    first = select_examples("qa_few_shot", QUESTION, embeddings=FakeEmbeddings())
    again = select_examples("qa_few_shot", QUESTION, embeddings=FakeEmbeddings())
    assert [e["id"] for e in first] == [e["id"] for e in again]
    assert len(first) == 4 and first[0]["id"] == "ex-qa-01"  # the pool's "Quem criou o pandas?"
    assert any(e["answer"] == "sem resposta" for e in first)  # cover rule
    rendered = render("qa_few_shot", QUESTION, embeddings=FakeEmbeddings())
    for example in first:
        assert example["question"] in rendered
    assert rendered.index(first[0]["question"]) < rendered.index(first[-1]["question"])


def test_classify_fewshot_covers_every_label():
    picked = select_examples("classify_few_shot", {"text": "A aula foi ótima!"}, embeddings=FakeEmbeddings())
    assert len(picked) == 6 and {e["label"] for e in picked} == {"positivo", "negativo", "neutro"}


def test_zero_shot_has_no_examples():
    assert select_examples("qa_zero_shot", QUESTION) == []


def test_choose_ties_and_cover():
    ranked = [{"id": f"e{i}", "label": lab} for i, lab in enumerate("aaabbc")]
    assert [e["id"] for e in choose(ranked, 3, None)] == ["e0", "e1", "e2"]
    picked = choose(ranked, 3, {"label": ["b", "c"]})
    assert [e["id"] for e in picked] == ["e0", "e3", "e5"]


def _tiny_fewshot(root: Path, selector: str, rows: list[dict], k: int = 2, extra: str = "") -> None:
    pool = root / "_pools" / "tiny.jsonl"
    pool.parent.mkdir(parents=True, exist_ok=True)
    pool.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    write_version(
        root,
        "tiny",
        1,
        f"""
    description: tiny few-shot prompt
    language: en
    kind: chat
    input_variables: [question]
    messages:
      - {{role: system, content: "Answer briefly."}}
      - {{role: human, content: "Q: {{question}}"}}
    fewshot:
      pool: _pools/tiny.jsonl
      selector: {selector}
      k: {k}
      {extra}
      example:
        - {{role: human, content: "Q: {{question}}"}}
        - {{role: ai, content: "{{answer}}"}}
    changelog: first
    """,
    )


def test_ties_are_broken_by_id(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMPTKIT_PROJECT", str(tmp_path))
    rows = [{"id": i, "question": "same words", "answer": i} for i in ("c", "a", "d", "b")]
    _tiny_fewshot(tmp_path / "prompts", "similarity", rows)
    picked = select_examples("tiny", {"question": "same words"}, embeddings=FakeEmbeddings())
    assert [e["id"] for e in picked] == ["a", "b"]


@pytest.mark.parametrize("selector", ["similarity", "mmr", "fixed"])
def test_pool_braces_render_literally(tmp_path, monkeypatch, selector):
    monkeypatch.setenv("PROMPTKIT_PROJECT", str(tmp_path))
    rows = [
        {"id": "a", "question": "How do I format {x} in Python?", "answer": 'f"{x}" or {{x}}'},
        {"id": "b", "question": "What is a dict?", "answer": "{'k': 1}"},
    ]
    _tiny_fewshot(tmp_path / "prompts", selector, rows)
    out = render("tiny", {"question": "format {x}"}, embeddings=FakeEmbeddings())
    assert "Q: How do I format {x} in Python?" in out
    assert "\n" + 'f"{x}" or {{x}}' + "\n" in out and "{'k': 1}" in out
    assert out.rstrip().endswith("Q: format {x}")
    assert out.index("Answer briefly.") < out.index("How do I format")  # examples after the system message


def test_fixed_selector_uses_listed_ids(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMPTKIT_PROJECT", str(tmp_path))
    rows = [{"id": i, "question": f"q {i}", "answer": i} for i in ("a", "b", "c")]
    _tiny_fewshot(tmp_path / "prompts", "fixed", rows, extra="ids: [c, a]")
    assert [e["id"] for e in select_examples("tiny", {"question": "x"})] == ["c", "a"]


def test_mmr_selector_is_deterministic(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMPTKIT_PROJECT", str(tmp_path))
    rows = [
        {"id": f"e{i}", "question": f"pandas groupby sum {w}", "answer": w}
        for i, w in enumerate(["mean", "max", "min", "count", "median"])
    ]
    _tiny_fewshot(tmp_path / "prompts", "mmr", rows, k=3)
    a = select_examples("tiny", {"question": "pandas groupby mean"}, embeddings=FakeEmbeddings())
    b = select_examples("tiny", {"question": "pandas groupby mean"}, embeddings=FakeEmbeddings())
    assert [e["id"] for e in a] == [e["id"] for e in b] and len(a) == 3 and a[0]["id"] == "e0"


def test_registry_copy_renders_like_repo(tmp_path, monkeypatch):
    expected = render("rag_qa", {"context": "c", "question": "q"})
    copy_registry(tmp_path, monkeypatch)
    assert render("rag_qa", {"context": "c", "question": "q"}) == expected


def test_a_similarity_selector_remembers_its_selections(fake_embeddings):
    from langchain_core.prompts import FewShotChatMessagePromptTemplate

    prompt = load_prompt("rag_qa@3", embeddings=fake_embeddings)
    block = next(m for m in prompt.messages if isinstance(m, FewShotChatMessagePromptTemplate))
    store = block.example_selector.vectorstore
    searches = []
    original = store.similarity_search_with_score

    def spy(*args, **kwargs):
        searches.append(args[0])
        return original(*args, **kwargs)

    store.similarity_search_with_score = spy
    first = block.example_selector.select_examples({"question": "Quem criou o pandas?"})
    first[0]["id"] = "changed by the caller"  # callers get copies: the remembered selection is unchanged
    again = block.example_selector.select_examples({"question": "Quem criou o pandas?"})
    assert len(searches) == 1 and again[0]["id"] != "changed by the caller"
    prompt.invoke({"question": "Quem criou o pandas?", "context": "x"})  # rendering reuses it too
    block.example_selector.select_examples({"question": "Outra pergunta?"})
    assert len(searches) == 2
