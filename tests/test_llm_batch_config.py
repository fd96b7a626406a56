"""The chat models' batch surface keeps LangChain's contract: config (callbacks, tags, metadata,
max_concurrency) reaches every input, return_exceptions is per input, generation stays one real batch, async
calls batch too, and options are used or refused, never ignored. Checked on the fake, which shares the
batching layer (promptkit.llm.base.BatchedChatModel) with the local model."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage

from promptkit.cache import ReplayCache
from promptkit.errors import UnsupportedError, ValidationError
from promptkit.testing import FakeChatModel


class Recorder(BaseCallbackHandler):
    """Records each chat model run's start (with its tags and metadata) and end."""

    def __init__(self) -> None:
        self.starts: list[dict[str, Any]] = []
        self.ends = 0

    def on_chat_model_start(self, serialized, messages, *, run_id, tags=None, metadata=None, **kwargs):
        self.starts.append({"run_id": run_id, "tags": list(tags or []), "metadata": dict(metadata or {})})

    def on_llm_end(self, response, **kwargs):
        self.ends += 1


def questions(n: int) -> list[str]:
    return [f"pergunta {i}" for i in range(n)]


def test_batch_fires_callbacks_with_tags_and_metadata_for_every_input():
    model = FakeChatModel(respond=lambda prompt: prompt.split()[-2])
    recorder = Recorder()
    out = model.batch(questions(3), {"callbacks": [recorder], "tags": ["lote"], "metadata": {"turma": "A"}})
    assert [m.content for m in out] == ["0", "1", "2"]
    assert len(recorder.starts) == 3 and recorder.ends == 3
    assert all("lote" in s["tags"] and s["metadata"].get("turma") == "A" for s in recorder.starts)
    assert len({s["run_id"] for s in recorder.starts}) == 3
    assert all(isinstance(m, AIMessage) and m.id for m in out)


def test_batch_is_one_real_generation_call_and_max_concurrency_caps_its_size():
    model = FakeChatModel(default="ok", batch_size=8)
    model.batch(questions(5))
    assert [len(c) for c in model.calls] == [5]
    model.calls.clear()
    model.batch(questions(5), {"max_concurrency": 2})
    assert [len(c) for c in model.calls] == [2, 2, 1]


def test_abatch_generates_in_one_batch_too():
    model = FakeChatModel(default="ok", batch_size=8)
    out = asyncio.run(model.abatch(questions(4)))
    assert [m.content for m in out] == ["ok"] * 4
    assert [len(c) for c in model.calls] == [4]


def test_return_exceptions_fails_only_the_bad_input():
    model = FakeChatModel(default="ok")
    out = model.batch(["boa", 42, "outra boa"], return_exceptions=True)
    assert [type(o).__name__ for o in out] == ["AIMessage", "ValueError", "AIMessage"]
    assert out[0].content == out[2].content == "ok"
    with pytest.raises(ValueError):
        model.batch(["boa", 42])


def test_max_tokens_limits_the_answer_and_unknown_options_are_refused():
    model = FakeChatModel(default="um dois três quatro cinco")
    short = model.invoke("oi", max_tokens=2)
    assert short.content == "um dois" and short.response_metadata["finish_reason"] == "length"
    assert short.usage_metadata["output_tokens"] == 2
    with pytest.raises(UnsupportedError, match="does not take the option"):
        model.invoke("oi", frequency_penalty=0.5)
    with pytest.raises(ValidationError, match="timeout"):
        model.invoke("oi", timeout=0)
    with pytest.raises(ValidationError, match="disagree"):
        model.invoke("oi", max_tokens=2, max_new_tokens=3)


def test_a_replay_cache_serves_invoke_ainvoke_batch_and_stream(tmp_path):
    cache = ReplayCache(tmp_path / "r.sqlite")
    model = FakeChatModel(responses=["primeira", "segunda", "terceira"], cache=cache)
    first = model.invoke("oi")
    assert first.content == "primeira"
    assert asyncio.run(model.ainvoke("oi")).content == "primeira"  # replayed, not generated again
    assert [m.content for m in model.batch(["oi", "outra"])] == ["primeira", "segunda"]
    assert "".join(chunk.content for chunk in model.stream("oi")) == "primeira"
    assert model.counter == 2  # only two generations: "oi" and "outra"
    strict = FakeChatModel(default="nunca", cache=ReplayCache(tmp_path / "r.sqlite", mode="strict"))
    assert strict.invoke("outra").content == "segunda"
    with pytest.raises(Exception, match="strict"):
        strict.invoke("nova pergunta")
