"""References, labels, the lock file (immutability), duplicates, new versions, diffs and leakage."""

from __future__ import annotations

import json

import pytest
import yaml
from test_prompts_support import REPO, copy_registry, keep_only_first_version, shipped_versions, write_version

from promptkit.errors import IntegrityError, NotFoundError, ValidationError
from promptkit.prompts import get_prompt_spec, list_prompts, resolve_ref
from promptkit.prompts.checks import check_all
from promptkit.prompts.lock import read_lock
from promptkit.prompts.manage import diff_versions, lock_all, new_version, set_label


# the shipped rag_qa versions and its production label, read from the files so new versions need no edit here
RAG_VERSIONS = shipped_versions("rag_qa")
RAG_LATEST = RAG_VERSIONS[-1]
RAG_PROD = yaml.safe_load((REPO / "prompts" / "rag_qa" / "labels.yaml").read_text("utf-8"))["production"]


@pytest.fixture
def registry(tmp_path, monkeypatch):
    return copy_registry(tmp_path, monkeypatch)


def _errors(root, **kw) -> list[str]:
    return [p.message for p in check_all(root, **kw) if p.level == "error"]


# ---- references -----------------------------------------------------------------------------------
def test_resolve_forms(registry):
    assert resolve_ref("rag_qa") == ("rag_qa", RAG_PROD)  # production label
    assert resolve_ref("rag_qa@1") == ("rag_qa", 1)
    assert resolve_ref("rag_qa@v1") == ("rag_qa", 1)
    assert resolve_ref("rag_qa@production") == ("rag_qa", RAG_PROD)
    assert resolve_ref("rag_qa@latest") == ("rag_qa", RAG_LATEST)
    assert resolve_ref("qa_zero_shot") == ("qa_zero_shot", 1)  # no production label: latest


def test_name_without_production_label_is_latest(registry):
    write_version(
        registry,
        "qa_zero_shot",
        2,
        (registry / "qa_zero_shot" / "v1.yaml")
        .read_text()
        .replace("name: qa_zero_shot\nversion: 1\n", "name: qa_zero_shot\nversion: 2\n")
        .replace("Resposta:", "Resposta curta:"),
    )
    assert resolve_ref("qa_zero_shot") == ("qa_zero_shot", 2)


def test_unknown_name_suggests(registry):
    with pytest.raises(NotFoundError, match=r"unknown prompt 'rag_q'; did you mean 'rag_qa'\?"):
        resolve_ref("rag_q")


def test_unknown_version_lists_available(registry):
    available = ", ".join(map(str, RAG_VERSIONS))
    with pytest.raises(NotFoundError, match=rf"'rag_qa' version '9'; available: {available}"):
        resolve_ref("rag_qa@9")


def test_unknown_label_suggests(registry):
    with pytest.raises(NotFoundError, match=r"'rag_qa' label 'prodution'; did you mean 'production'\?"):
        resolve_ref("rag_qa@prodution")


def test_invalid_ref(registry):
    with pytest.raises(ValidationError, match="invalid prompt reference"):
        resolve_ref("rag_qa@1@2")


def test_list_prompts(registry):
    infos = {i.name: i for i in list_prompts()}
    assert infos["rag_qa"].versions == RAG_VERSIONS and infos["rag_qa"].labels == {"production": RAG_PROD}
    assert infos["qa_en"].language == "en"
    assert infos["qa_few_shot"].kind == "chat + few-shot"


def test_spec_contract_fields(registry):
    spec = get_prompt_spec("rag_qa")
    assert spec.ref == f"rag_qa@{RAG_PROD}" and spec.abstain_phrase == "sem resposta"
    assert spec.input_variables == ["context", "question"]
    assert dict(spec.generation)["temperature"] == 0.0 and spec.generation["max_new_tokens"] == 32
    assert spec.parser["type"] == "text" and spec.parser.type == "text"
    classify = get_prompt_spec("classify_zero_shot")
    assert classify.parser.labels == ["positivo", "negativo", "neutro"]
    moderation = get_prompt_spec("moderation@1")
    assert moderation.parser.get("type") == "json" and moderation.parser.fields[0].name == "categories"
    assert get_prompt_spec("qa_few_shot").fewshot["k"] == 4


# ---- shipped registry is clean --------------------------------------------------------------------
def test_shipped_registry_passes_check(registry):
    problems = check_all(registry)
    assert [p for p in problems if p.level == "error"] == []
    assert [p for p in problems if "not released" in p.message] == []


def test_shipped_lock_covers_every_version(registry):
    lock = read_lock(registry)
    for info in list_prompts():
        assert sorted(int(v) for v in lock[info.name]) == info.versions


# ---- immutability ---------------------------------------------------------------------------------
def test_editing_a_released_version_fails_check(registry):
    path = registry / "rag_qa" / "v1.yaml"
    path.write_text(path.read_text().replace("Responda em português", "Responda em bom português"))
    errors = _errors(registry)
    assert len(errors) == 1
    assert "rag_qa@1" in errors[0] and "create a new version instead" in errors[0]


def test_reformatting_a_released_version_is_not_a_change(registry):
    path = registry / "rag_qa" / "v1.yaml"
    path.write_text(
        "# a comment\n"
        + path.read_text().replace(
            "input_variables: [context, question]", "input_variables:\n  - context\n  - question"
        )
    )
    assert _errors(registry) == []


def test_deleting_a_released_version_fails_check(registry):
    (registry / "rag_qa" / "v1.yaml").unlink()
    errors = _errors(registry)
    assert any("rag_qa@1 was released" in e and "restore" in e for e in errors)


def test_changed_pool_fails_check(registry):
    pool = registry / "_pools" / "qa_pt.jsonl"
    pool.write_text(
        pool.read_text() + json.dumps({"id": "ex-new", "context": "c", "question": "q", "answer": "a"}) + "\n"
    )
    errors = _errors(registry)
    assert any("_pools/qa_pt.jsonl changed since qa_few_shot@1" in e for e in errors)


def test_lock_refuses_changed_release(registry):
    path = registry / "qa_en" / "v1.yaml"
    path.write_text(path.read_text().replace("Answer:", "Short answer:"))
    with pytest.raises(IntegrityError, match="create a new version instead"):
        lock_all(registry)


# ---- new versions, duplicates, labels, lock -------------------------------------------------------
def test_new_version_copy_is_a_duplicate_until_edited(registry):
    path = new_version("rag_qa", "rag_qa@2")
    n = RAG_LATEST + 1
    assert path.name == f"v{n}.yaml"
    spec = get_prompt_spec(f"rag_qa@{n}")
    assert spec.version == n and spec.changelog.startswith("TODO")
    errors = _errors(registry)
    assert any(f"rag_qa@{n} duplicates rag_qa@2" in e for e in errors)
    with pytest.raises(ValidationError, match="duplicates rag_qa@2"):
        lock_all(registry)
    with pytest.raises(ValidationError, match="unedited copy of rag_qa@2"):
        new_version("rag_qa", "rag_qa@1")
    # edit the template: no longer a duplicate, but the placeholder changelog still blocks the release
    path.write_text(path.read_text().replace("Resposta:", "Resposta curta:"))
    with pytest.raises(ValidationError, match="changelog is still the placeholder"):
        lock_all(registry)
    text = path.read_text()
    path.write_text(text.replace(text.split("changelog: ")[1].splitlines()[0], "Pede resposta curta."))
    assert lock_all(registry) == [f"rag_qa@{n}"]
    assert str(n) in read_lock(registry)["rag_qa"]
    assert lock_all(registry) == []


def test_duplicate_of_older_version_detected(registry):
    keep_only_first_version(registry, "qa_en")
    write_version(
        registry,
        "qa_en",
        2,
        (registry / "qa_en" / "v1.yaml")
        .read_text()
        .replace("version: 1", "version: 2")
        .replace("First version", "Same again"),
    )
    errors = _errors(registry)
    assert any("qa_en@2 duplicates qa_en@1" in e for e in errors)


def test_new_prompt_from_another(registry):
    path = new_version("my_qa", "qa_zero_shot@1")
    assert path == registry / "my_qa" / "v1.yaml"
    spec = get_prompt_spec("my_qa")
    assert spec.name == "my_qa" and spec.version == 1
    assert spec.content_hash == get_prompt_spec("qa_zero_shot@1").content_hash


def test_label_moves_and_releases(registry):
    keep_only_first_version(registry, "qa_en")
    write_version(
        registry,
        "qa_en",
        2,
        (registry / "qa_en" / "v1.yaml")
        .read_text()
        .replace("version: 1", "version: 2")
        .replace("Answer:", "Short answer:")
        .replace("First version, short numbered rules.", "Asks for a short answer."),
    )
    change = set_label("qa_en@2", "staging")
    assert (change.version, change.previous, change.released_now) == (2, None, True)
    assert resolve_ref("qa_en@staging") == ("qa_en", 2)
    assert "2" in read_lock(registry)["qa_en"]
    change = set_label("qa_en@1", "staging")
    assert (change.version, change.previous, change.released_now) == (1, 2, False)


def test_label_refuses_latest_and_bad_names(registry):
    with pytest.raises(ValidationError, match="implicit"):
        set_label("rag_qa@1", "latest")
    with pytest.raises(ValidationError, match="explicit version"):
        set_label("rag_qa", "staging")


def test_dangling_label_fails_check(registry):
    (registry / "qa_en" / "labels.yaml").write_text("production: 4\n")
    errors = _errors(registry)
    assert any("'production' points at v4" in e for e in errors)


# ---- diff -----------------------------------------------------------------------------------------
def test_diff_shows_template_and_settings(registry):
    text = diff_versions("rag_qa@1", "rag_qa@2")
    assert text.startswith("--- rag_qa@1\n+++ rag_qa@2\n")
    assert "+    <documentos>" in text and "+  stop:" in text
    assert diff_versions(f"rag_qa@{RAG_PROD}", "rag_qa@production") == ""


# ---- leakage --------------------------------------------------------------------------------------
def test_leakage_by_question_and_id(registry, tmp_path):
    pool_row = json.loads((registry / "_pools" / "qa_pt.jsonl").read_text().splitlines()[0])
    squad = {
        "version": "v2.0",
        "data": [
            {
                "title": "t",
                "paragraphs": [
                    {
                        "context": "c",
                        "qas": [
                            {"id": "q-1", "question": pool_row["question"].upper() + "  ", "answers": []},
                            {"id": pool_row["id"], "question": "outra pergunta?", "answers": []},
                        ],
                    }
                ],
            }
        ],
    }
    dataset = tmp_path / "leaky.json"
    dataset.write_text(json.dumps(squad))
    errors = _errors(registry, dataset=dataset)
    assert len(errors) == 2
    assert all("leakage" in e and pool_row["id"] in e for e in errors)


def test_leakage_ignores_accents_case_and_punctuation(registry, tmp_path):
    from promptkit.text import strip_accents

    rows = [json.loads(line) for line in (registry / "_pools" / "qa_pt.jsonl").read_text().splitlines()]
    row = next(r for r in rows if not r["question"].isascii())
    copy = strip_accents(row["question"]).upper().replace("?", " ?!")
    assert copy != row["question"]
    dataset = tmp_path / "copy.jsonl"
    dataset.write_text(json.dumps({"id": "c-1", "question": copy}) + "\n")
    errors = _errors(registry, dataset=dataset)
    assert len(errors) == 1 and row["id"] in errors[0] and "same question" in errors[0]


def test_leakage_jsonl_text(registry, tmp_path):
    row = json.loads((registry / "_pools" / "sentiment_pt.jsonl").read_text().splitlines()[2])
    dataset = tmp_path / "s.jsonl"
    dataset.write_text(json.dumps({"id": "s-1", "text": row["text"], "label": "neutro"}) + "\n")
    errors = _errors(registry, dataset=dataset)
    assert errors and "same text" in errors[0]


@pytest.mark.parametrize(
    "dataset",
    [
        "eval/datasets/parts/course_qa_a.json",
        "eval/datasets/parts/course_qa_b.json",
        "eval/datasets/english_qa.json",
        "eval/datasets/sentiment_pt.jsonl",
    ],
)
def test_shipped_pools_do_not_leak(repo, registry, dataset):
    if not (repo / dataset).exists():
        pytest.skip(f"{dataset} not present")
    assert _errors(registry, dataset=repo / dataset) == []
