"""Structured output: the decoder only produces what a JSON schema allows (llguidance), and
``with_structured_output`` parses and validates it (a small random Qwen2 with a byte-level tokenizer, and the fake)."""

from __future__ import annotations

import json
from typing import Literal

import pytest
from pydantic import BaseModel

pytest.importorskip("torch")
pytest.importorskip("llguidance")

from promptkit.errors import UnsupportedError, ValidationError  # noqa: E402
from promptkit.testing import FakeChatModel  # noqa: E402


class Verdict(BaseModel):
    label: Literal["positivo", "negativo", "neutro"]
    sure: bool


@pytest.fixture(scope="module")
def tiny_local():
    from standard.test_standard_chat_models import tiny_model_folder

    from promptkit.llm.local import LocalChatModel

    return LocalChatModel(model=tiny_model_folder(), dtype="fp32", max_tokens=60)


def test_a_random_model_still_answers_the_schema(tiny_local):
    # untrained weights would write anything; the grammar leaves them only the schema's JSON
    plain = tiny_local.invoke("Classifique: a aula foi ótima").content
    with pytest.raises(ValueError):
        Verdict.model_validate_json(plain)
    structured = tiny_local.with_structured_output(Verdict)
    answers = structured.batch(["Classifique: a aula foi ótima", "Classifique: atrasou de novo", "Aviso: prova"])
    assert all(isinstance(a, Verdict) for a in answers)


def test_json_mode_gives_a_json_object(tiny_local):
    message = tiny_local.invoke("Responda em JSON", response_format={"type": "json_object"}, max_tokens=12)
    assert message.content.startswith("{")
    if message.response_metadata["finish_reason"] == "stop":
        assert isinstance(json.loads(message.content), dict)


def test_the_schema_is_part_of_the_cache_key(tiny_local, tmp_path):
    from promptkit.cache import ReplayCache

    cache = ReplayCache(tmp_path / "replay.sqlite")
    model = tiny_local.model_copy(update={"cache": cache})
    model.with_structured_output(Verdict).invoke("x")
    model.invoke("x")
    assert cache.misses == 2 and len(cache) == 2


def test_include_raw_keeps_the_message_and_the_parsing_error():
    fake = FakeChatModel(responses=["isto não é JSON"])
    out = fake.with_structured_output(Verdict, include_raw=True).invoke("oi")
    assert out["raw"].content == "isto não é JSON"
    assert out["parsed"] is None and out["parsing_error"] is not None
    fake = FakeChatModel(responses=[json.dumps({"label": "neutro", "sure": True})])
    out = fake.with_structured_output(Verdict, include_raw=True).invoke("oi")
    assert out["parsed"] == Verdict(label="neutro", sure=True) and out["parsing_error"] is None


def test_the_schema_reaches_the_model_and_its_tracers():
    seen = []
    fake = FakeChatModel(respond=lambda p: seen.append(p) or json.dumps({"label": "positivo", "sure": False}))
    assert fake.with_structured_output(Verdict).invoke("oi") == Verdict(label="positivo", sure=False)
    assert '"label"' in seen[0] and "JSON schema" in seen[0]  # the system message names the schema


def test_bad_requests_are_refused_clearly():
    fake = FakeChatModel()
    with pytest.raises(ValidationError, match="unknown structured-output method"):
        fake.with_structured_output(Verdict, method="xml")
    with pytest.raises(ValidationError, match="unsupported response_format"):
        fake.invoke("oi", response_format={"type": "yaml"})
    with pytest.raises(UnsupportedError, match="tool_box"):
        fake.invoke("oi", tool_box=[{"name": "x"}])
    with pytest.raises(ValidationError, match="tools or response_format, not both"):
        fake.invoke("oi", tools=[{"name": "x", "parameters": {}}], response_format={"type": "json_object"})
