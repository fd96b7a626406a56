"""Tool calling: tools bound and shown through the chat template, ``<tool_call>`` blocks read into tool calls,
``tool_choice`` checked, a required call enforced while decoding (a small random Qwen2), and tools in the
cache key. The real model's tool calls are checked by LangChain's standard suite (tests/standard)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel, Field

from promptkit.errors import UnsupportedError, ValidationError
from promptkit.llm.tools import held_text, parse_tool_calls
from promptkit.testing import FakeChatModel


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


class Weather(BaseModel):
    """Get the weather at a place."""

    city: str = Field(description="the city", max_length=8)


class Sum(BaseModel):
    """Add two small integers."""

    a: int = Field(ge=0, le=99)
    b: int = Field(ge=0, le=99)


def call(name: str, **arguments: Any) -> str:
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': arguments})}\n</tool_call>"


# -- reading calls out of an answer --------------------------------------------------------------------------


def test_one_call_becomes_a_tool_call_with_a_fresh_id():
    content, calls, invalid = parse_tool_calls(call("add", a=1, b=2))
    assert content == "" and invalid == []
    assert [(c["name"], c["args"], c["type"]) for c in calls] == [("add", {"a": 1, "b": 2}, "tool_call")]
    assert calls[0]["id"].startswith("call_")
    assert parse_tool_calls(call("add", a=1, b=2))[1][0]["id"] != calls[0]["id"]


def test_several_calls_and_the_text_around_them():
    text = f"Vou consultar as duas.\n{call('Weather', city='Recife')}\n{call('add', a=2, b=3)}\nPronto."
    content, calls, invalid = parse_tool_calls(text)
    assert [c["name"] for c in calls] == ["Weather", "add"] and invalid == []
    assert content == "Vou consultar as duas.\n\n\nPronto."
    assert len({c["id"] for c in calls}) == 2


def test_a_broken_call_is_an_invalid_tool_call_not_a_lost_one():
    content, calls, invalid = parse_tool_calls(
        'Texto <tool_call>{"name": "add", "arguments": {"a": 1,</tool_call>'
    )
    assert content == "Texto" and calls == []
    assert (
        invalid[0]["args"] == '{"name": "add", "arguments": {"a": 1,'
        and "not valid JSON" in invalid[0]["error"]
    )
    _, calls, invalid = parse_tool_calls('<tool_call>{"arguments": {}}</tool_call><tool_call>{"name": "add"')
    assert calls == [] and len(invalid) == 2  # no name; a block cut off at the end of the answer


def test_a_bare_call_of_a_bound_tool_is_read_other_json_is_not():
    fenced = '```json\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n```'
    assert parse_tool_calls(fenced, ["add"])[1][0]["args"] == {"a": 1, "b": 2}
    assert parse_tool_calls(fenced, ["sub"])[1] == []  # not a bound tool: plain text
    data = '{"name": "Ana", "age": 3}'
    assert parse_tool_calls(data, ["add"]) == (data, [], [])


def test_a_stream_holds_back_what_may_be_a_call():
    assert held_text("Vou somar <tool_") == "Vou somar"
    assert held_text(f"Oi {call('add', a=1, b=2)}") == "Oi"
    assert held_text('{"name": "add"') == "" and held_text("``") == ""
    assert held_text("Olá, tudo bem") == "Olá, tudo bem"


# -- binding and tool_choice ---------------------------------------------------------------------------------


def test_bind_tools_converts_every_kind_of_tool_and_normalises_the_choice():
    fake = FakeChatModel()

    def mean(values: list[float]) -> float:
        """Mean of a list of numbers."""
        return sum(values) / len(values)

    bound = fake.bind_tools([add, Weather, mean], tool_choice="any")
    assert [t["function"]["name"] for t in bound.kwargs["tools"]] == ["add", "Weather", "mean"]
    assert bound.kwargs["tool_choice"] == "required"
    assert (
        fake.bind_tools([add], tool_choice={"type": "function", "function": {"name": "add"}}).kwargs[
            "tool_choice"
        ]
        == "add"
    )
    assert fake.bind_tools([add]).kwargs["tool_choice"] == "auto"


def test_bad_tool_choices_are_one_clear_error():
    fake = FakeChatModel()
    with pytest.raises(ValidationError, match="'sub' is neither a mode nor a bound tool") as err:
        fake.bind_tools([add], tool_choice="sub")
    assert "add" in err.value.hint
    with pytest.raises(ValidationError, match="names the tool 'sub', which is not bound"):
        fake.bind_tools([add], tool_choice={"type": "function", "function": {"name": "sub"}})
    with pytest.raises(ValidationError, match="without tools"):
        fake.invoke("oi", tool_choice="any")
    with pytest.raises(ValidationError, match="cannot use 3 as a tool"):
        fake.bind_tools([3])


def test_a_model_without_tool_calling_refuses_tools():
    from promptkit.llm.served import ServedChatModel

    served = ServedChatModel(base_url="http://127.0.0.1:9/v1", model="m")
    with pytest.raises(UnsupportedError, match="does not call tools"):
        served.bind_tools([add])
    with pytest.raises(UnsupportedError, match="tools"):
        served.invoke("oi", tools=[add])


def test_the_fake_shows_the_tools_and_its_answers_call_them():
    fake = FakeChatModel(responses=[f"Somando. {call('add', a=1, b=2)}"])
    message = fake.bind_tools([add], tool_choice="add").invoke("Quanto é 1 + 2?")
    assert message.content == "Somando." and message.tool_calls[0]["args"] == {"a": 1, "b": 2}
    prompt = fake.calls[0][0]
    assert prompt.startswith("<tools>\n") and '"name": "add"' in prompt and "<tool_choice>\nadd" in prompt
    # tool_choice="none": no tools shown and the answer's blocks stay text
    none = FakeChatModel(responses=[call("add", a=1, b=2)]).bind_tools([add], tool_choice="none").invoke("oi")
    assert none.tool_calls == [] and "<tool_call>" in none.content


def test_a_streamed_call_adds_up_to_the_same_message():
    fake = FakeChatModel(responses=[f"Somando. {call('add', a=1, b=2)} <tool_call>{{quebrado</tool_call>"])
    chunks = list(fake.bind_tools([add]).stream("1 + 2?"))
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    assert full.content == "Somando."
    assert [(c["name"], c["args"]) for c in full.tool_calls] == [("add", {"a": 1, "b": 2})]
    assert len(full.invalid_tool_calls) == 1 and "quebrado" in full.invalid_tool_calls[0]["args"]
    assert full.usage_metadata["output_tokens"] > 0 and full.response_metadata["finish_reason"] == "stop"


def test_tools_and_tool_choice_are_part_of_the_cache_key(tmp_path):
    from promptkit.cache import ReplayCache

    cache = ReplayCache(tmp_path / "replay.sqlite")
    fake = FakeChatModel(responses=[call("add", a=1, b=2)], cache=cache)
    keys = {
        fake._get_llm_string(),
        fake._get_llm_string(**fake.bind_tools([add]).kwargs),
        fake._get_llm_string(**fake.bind_tools([add], tool_choice="any").kwargs),
        fake._get_llm_string(**fake.bind_tools([add, Weather]).kwargs),
    }
    assert len(keys) == 4
    first = fake.bind_tools([add]).invoke("1 + 2?")
    again = fake.bind_tools([add]).invoke("1 + 2?")
    fake.invoke("1 + 2?")
    assert cache.hits == 1 and cache.misses == 2
    assert again.tool_calls == first.tool_calls  # replayed with its ids


# -- the local model: template and forced calls --------------------------------------------------------------


class TemplateTokenizer:
    """Stands for a tokenizer with a chat template: records what it is asked to render."""

    chat_template = "{{ messages }}"

    def __init__(self) -> None:
        self.seen: list[tuple[list[dict[str, Any]], Any]] = []

    def apply_chat_template(self, chat, tokenize=False, add_generation_prompt=True, tools=None):
        self.seen.append((chat, tools))
        return "PROMPT"


def test_the_template_gets_the_tools_and_the_history_in_its_own_shapes():
    from promptkit.llm.local import LocalChatModel

    llm = LocalChatModel(model="qwen2.5-coder-0.5b-instruct")
    tok = TemplateTokenizer()
    llm._light_tokenizer = tok
    history = [
        SystemMessage("Seja breve."),
        HumanMessage("Quanto é 1 + 2?"),
        AIMessage("", tool_calls=[{"name": "add", "args": {"a": 1, "b": 2}, "id": "c1"}]),
        ToolMessage("3", tool_call_id="c1"),
        ToolMessage("faltou b", tool_call_id="c2", status="error"),
    ]
    params = llm.call_params(**llm.bind_tools([add]).kwargs)
    assert llm._render(llm, history, params) == "PROMPT"
    chat, tools = tok.seen[-1]
    assert tools == params["tools"] and tools[0]["function"]["name"] == "add"
    assert [c["role"] for c in chat] == ["system", "user", "assistant", "tool", "tool"]
    assert chat[2]["tool_calls"] == [
        {"type": "function", "id": "c1", "function": {"name": "add", "arguments": {"a": 1, "b": 2}}}
    ]
    assert chat[3] == {"role": "tool", "content": "3", "tool_call_id": "c1"}
    assert chat[4]["content"] == "Error: faltou b"
    # a required call opens the answer with the model's own tag; "none" shows no tools
    forced = llm.call_params(**llm.bind_tools([add], tool_choice="add").kwargs)
    assert llm._render(llm, history[:2], forced) == "PROMPT<tool_call>\n"
    llm._render(llm, history[:2], llm.call_params(**llm.bind_tools([add], tool_choice="none").kwargs))
    assert tok.seen[-1][1] is None


def test_the_rendering_cache_keeps_renders_with_and_without_tools_apart():
    from promptkit.llm.tokenizer_cache import render_key

    chat = [{"role": "user", "content": "oi"}]
    tools = [{"type": "function", "function": {"name": "add", "parameters": {}}}]
    assert render_key("t", chat, True) == render_key("t", chat, True, None)
    assert render_key("t", chat, True, tools) != render_key("t", chat, True)


@pytest.fixture(scope="module")
def tiny_local():
    pytest.importorskip("torch")
    pytest.importorskip("llguidance")
    from standard.test_standard_chat_models import tiny_model_folder

    from promptkit.llm.local import LocalChatModel

    # bounded arguments (Sum, Weather) keep a random model's calls short; the tools' JSON is long in a
    # byte-level tokenizer, and rotary positions reach past the config's 512
    return LocalChatModel(model=tiny_model_folder(), dtype="fp32", max_tokens=60, context_window=1024)


def test_a_required_call_is_enforced_even_on_random_weights(tiny_local):
    plain = tiny_local.bind_tools([Sum, Weather]).invoke("Quanto é 1 + 2?")
    assert plain.tool_calls == []  # untrained weights write no call of their own
    for choice, names in (("any", {"Sum", "Weather"}), ("Weather", {"Weather"})):
        bound = tiny_local.bind_tools(
            [Sum, Weather], tool_choice=choice, max_tokens=120
        )  # room for a whole call
        for message in bound.batch(["Quanto é 1 + 2?", "Vai chover em Recife?"]):
            assert message.invalid_tool_calls == [] and len(message.tool_calls) == 1
            tool_call = message.tool_calls[0]
            assert tool_call["name"] in names
            if tool_call["name"] == "Sum":
                assert set(tool_call["args"]) == {"a", "b"} and all(
                    type(v) is int for v in tool_call["args"].values()
                )
            else:
                assert set(tool_call["args"]) == {"city"} and isinstance(tool_call["args"]["city"], str)


def test_a_required_call_streams_as_tool_call_chunks(tiny_local):
    bound = tiny_local.bind_tools([Sum], tool_choice="Sum")
    full = None
    for chunk in bound.stream("Quanto é 1 + 2?"):
        full = chunk if full is None else full + chunk
    assert full.content == "" and full.tool_call_chunks and full.tool_calls[0]["name"] == "Sum"
    assert set(full.tool_calls[0]["args"]) == {"a", "b"}
    assert full.usage_metadata["output_tokens"] > 0
