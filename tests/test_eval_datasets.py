"""SQuAD 2.0 loading: validation errors name the file, the question and the fix; merging parts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptkit.datasets import dataset_from_dict, load_squad, merge_squad
from promptkit.errors import NotFoundError, PromptkitError, ValidationError

CONTEXT = "O perceptron foi proposto por Frank Rosenblatt em 1958."


def _squad(qas, context=CONTEXT):
    return {"version": "v2.0", "data": [{"title": "t", "paragraphs": [{"context": context, "qas": qas}]}]}


def _qa(qid="q1", text="1958", start=None, split=None, impossible=False):
    qa = {
        "id": qid,
        "question": "Quando?",
        "is_impossible": impossible,
        "answers": []
        if impossible
        else [{"text": text, "answer_start": CONTEXT.find(text) if start is None else start}],
    }
    if split:
        qa["split"] = split
    return qa


def _write(tmp_path: Path, obj, name="ds.json") -> Path:
    path = tmp_path / name
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    return path


def test_loads_valid_file_with_splits_and_hash(tmp_path):
    path = _write(
        tmp_path,
        _squad(
            [
                _qa("q1", split="dev"),
                _qa("q2", "Frank Rosenblatt", split="test"),
                _qa("q3", impossible=True, split="dev"),
            ]
        ),
    )
    ds = load_squad(path)
    assert len(ds) == 3 and ds.splits() == ["dev", "test"]
    assert [e.id for e in ds.examples("dev")] == ["q1", "q3"]
    assert ds.examples("test")[0].answers == ("Frank Rosenblatt",)
    assert ds.examples()[2].is_impossible and ds.examples()[2].answers == ()
    import hashlib

    assert ds.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(NotFoundError, match="available splits: dev, test"):
        ds.examples("train")


def test_not_json(tmp_path):
    path = _write(tmp_path, '{"version": "v2.0", "data": [')
    with pytest.raises(ValidationError, match=r"ds\.json is not valid JSON"):
        load_squad(path)


def test_not_squad_shape(tmp_path):
    path = _write(tmp_path, [{"question": "x"}])
    with pytest.raises(ValidationError, match=r"ds\.json: not a SQuAD dataset") as info:
        load_squad(path)
    assert "paragraphs" in str(info.value)


def test_duplicate_ids(tmp_path):
    path = _write(tmp_path, _squad([_qa("q1"), _qa("q1", "Frank Rosenblatt")]))
    with pytest.raises(ValidationError, match=r"ds\.json, question 'q1': duplicate question id"):
        load_squad(path)


def test_answer_start_mismatch_suggests_the_offset(tmp_path):
    path = _write(tmp_path, _squad([_qa("q7", "1958", start=3)]))
    with pytest.raises(ValidationError) as info:
        load_squad(path)
    message = str(info.value)
    assert "ds.json" in message and "'q7'" in message
    assert f"set answer_start to {CONTEXT.find('1958')}" in message


def test_answer_not_in_context(tmp_path):
    path = _write(tmp_path, _squad([_qa("q2", "1969", start=0)]))
    with pytest.raises(ValidationError, match="copy the answer verbatim"):
        load_squad(path)


def test_impossible_with_answers_and_answerable_without(tmp_path):
    bad = _qa("q1")
    bad["is_impossible"] = True
    with pytest.raises(ValidationError, match="plausible_answers"):
        load_squad(_write(tmp_path, _squad([bad])))
    empty = _qa("q2", impossible=True)
    empty["is_impossible"] = False
    with pytest.raises(ValidationError, match="has no 'answers'"):
        load_squad(_write(tmp_path, _squad([empty]), "b.json"))


def test_bad_split_value(tmp_path):
    qa = _qa()
    qa["split"] = 3
    with pytest.raises(PromptkitError, match="'split' must be a non-empty string"):
        load_squad(_write(tmp_path, _squad([qa])))


def test_missing_file_and_unknown_name():
    with pytest.raises(NotFoundError, match="does not exist"):
        load_squad("nowhere/ds.json")
    with pytest.raises(NotFoundError, match="did you mean 'course_qa'"):
        load_squad("course_q")


def test_name_resolves_under_eval_datasets():
    ds = load_squad("english_qa")
    assert ds.path.name == "english_qa.json" and len(ds) > 0


def test_merge_parts(tmp_path):
    a = _write(tmp_path, _squad([_qa("a1")]), "part_a.json")
    b = _write(tmp_path, _squad([_qa("b1", "Frank Rosenblatt")]), "part_b.json")
    merged = merge_squad([a, b])
    assert [e.id for e in dataset_from_dict(merged).examples()] == ["a1", "b1"]
    clash = _write(tmp_path, _squad([_qa("a1")]), "part_c.json")
    with pytest.raises(ValidationError, match="appears in both"):
        merge_squad([a, clash])
    with pytest.raises(ValidationError, match="nothing to merge"):
        merge_squad([])


def test_shipped_course_qa_is_the_merge_of_its_parts(repo):
    parts = sorted((repo / "eval" / "datasets" / "parts").glob("course_qa_*.json"))
    shipped = json.loads((repo / "eval" / "datasets" / "course_qa.json").read_text(encoding="utf-8"))
    assert shipped == merge_squad(parts)
    ds = load_squad(repo / "eval" / "datasets" / "course_qa.json")
    assert set(ds.splits()) == {"dev", "test"}
    assert any(e.is_impossible for e in ds)
