"""Tool calling for promptkit's chat models: binding tools, forcing a call, reading calls out of the answer.

``bind_tools`` turns every tool (a LangChain tool, a pydantic class, a function, an OpenAI tool dict) into
OpenAI's tool shape with :func:`~langchain_core.utils.function_calling.convert_to_openai_tool` and binds it
with a ``tool_choice``. The model sees the tools through its own chat template (Qwen2.5's lists them and asks
for ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` blocks), and its answer is split here into
the text outside the blocks and LangChain tool calls (``AIMessage.tool_calls``; a block that is not a JSON
call becomes an invalid tool call, reported rather than dropped).

``tool_choice`` is normalised to one of ``"auto"`` (the model decides), ``"none"`` (no tools shown, no calls
read), ``"required"`` (some call; ``"any"``, ``True`` and ``"required"`` are spellings of it) or a tool's name
(a call of that tool; ``{"type": "function", "function": {"name": ...}}`` is accepted too). A required call is
enforced while decoding: the answer opens with ``<tool_call>`` and its JSON must match :func:`forced_format`,
a JSON schema of the allowed names with each tool's own parameters (the grammar machinery of structured
output).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from promptkit.errors import ValidationError

OPEN, CLOSE = "<tool_call>", "</tool_call>"
#: the text a forced answer starts with (the model's own opening of a call) and ends with
FORCED_PREFIX, FORCED_SUFFIX = OPEN + "\n", "\n" + CLOSE
_BLOCK = re.compile(re.escape(OPEN) + r"(.*?)(?:" + re.escape(CLOSE) + r"|$)", re.DOTALL)
_REQUIRED = ("any", "required")
_FENCED = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


def openai_tools(tools: Sequence[Any]) -> list[dict[str, Any]]:
    """Every tool in OpenAI's shape: ``{"type": "function", "function": {name, description, parameters}}``."""
    from langchain_core.utils.function_calling import convert_to_openai_tool

    out = []
    for tool in tools:
        try:
            converted = convert_to_openai_tool(tool)
        except (ValueError, TypeError) as exc:
            raise ValidationError(
                f"cannot use {tool!r} as a tool ({exc})",
                hint="pass LangChain tools, pydantic classes, typed functions or OpenAI tool dicts",
            ) from None
        if converted.get("type") != "function" or not converted.get("function", {}).get("name"):
            raise ValidationError(
                f"cannot use {tool!r} as a tool: it has no function name",
                hint="pass LangChain tools, pydantic classes, typed functions or OpenAI tool dicts",
            )
        out.append(converted)
    return out


def tool_names(tools: Sequence[Mapping[str, Any]]) -> list[str]:
    return [t["function"]["name"] for t in tools]


def normalize_choice(tool_choice: Any, tools: Sequence[Mapping[str, Any]]) -> str:
    """``"auto"``, ``"none"``, ``"required"`` or the name of one of ``tools`` (see the module docstring)."""
    names = tool_names(tools)
    choice = tool_choice
    if choice is None or choice is False:
        return "auto"
    if choice is True:
        return "required"
    if isinstance(choice, Mapping):
        function = choice.get("function")
        choice = function.get("name") if isinstance(function, Mapping) else choice.get("name")
        if not isinstance(choice, str) or not choice:
            raise ValidationError(
                f"tool_choice {dict(tool_choice)!r} names no tool",
                hint='use {"type": "function", "function": {"name": "<tool name>"}}',
            )
        if choice not in names:  # a dict always names a tool, even one called like a mode
            raise ValidationError(
                f"tool_choice names the tool {choice!r}, which is not bound",
                hint=f"bound tools: {', '.join(names) or 'none'}",
            )
        return choice
    if not isinstance(choice, str):
        raise ValidationError(
            f"tool_choice must be a string, a bool or a dict, got {type(tool_choice).__name__}"
        )
    if choice in names:
        return choice
    if choice == "auto" or choice == "none":
        return choice
    if choice in _REQUIRED:
        return "required"
    raise ValidationError(
        f"tool_choice {choice!r} is neither a mode nor a bound tool",
        hint=f"use auto, none, any, required or one of: {', '.join(names) or 'no tools bound'}",
    )


def forced(params: Mapping[str, Any]) -> bool:
    """Whether a call's options require the answer to be a tool call."""
    return bool(params.get("tools")) and params.get("tool_choice", "auto") not in ("auto", "none")


def active(params: Mapping[str, Any]) -> bool:
    """Whether a call's options show tools to the model (and its answer is read for calls)."""
    return bool(params.get("tools")) and params.get("tool_choice", "auto") != "none"


def _arguments_schema(parameters: Any) -> dict[str, Any]:
    schema = dict(parameters) if isinstance(parameters, Mapping) else {}
    schema.setdefault("type", "object")
    schema.setdefault("properties", {})
    # a forced call writes the tool's own arguments and no invented ones
    schema.setdefault("additionalProperties", False)
    return schema


def forced_format(params: Mapping[str, Any]) -> dict[str, Any]:
    """The ``response_format`` a required call is decoded under: one JSON object naming an allowed tool, with
    that tool's arguments (the text between ``<tool_call>`` and ``</tool_call>``)."""
    tools = params["tools"]
    choice = params["tool_choice"]
    allowed = [t for t in tools if choice == "required" or t["function"]["name"] == choice]
    options = [
        {
            "type": "object",
            "properties": {
                "name": {"const": t["function"]["name"]},
                "arguments": _arguments_schema(t["function"].get("parameters")),
            },
            "required": ["name", "arguments"],
            "additionalProperties": False,
        }
        for t in allowed
    ]
    schema = options[0] if len(options) == 1 else {"anyOf": options}
    return {"type": "json_schema", "json_schema": {"name": "tool_call", "schema": schema, "strict": True}}


def new_call_id() -> str:
    return "call_" + uuid.uuid4().hex[:24]


def _bare_call(text: str, names: Sequence[str]) -> dict[str, Any] | None:
    """An answer that is nothing but one call of a bound tool written without the tags (plain or in a ```json
    fence), as small models often answer; any other text is not read as a call."""
    body = text.strip()
    fenced = _FENCED.match(body)
    if fenced:
        body = fenced.group(1)
    if not body.startswith("{"):
        return None
    try:
        value = json.loads(body)
    except ValueError:
        return None
    if (
        not isinstance(value, dict)
        or set(value) != {"name", "arguments"}
        or value["name"] not in names
        or not isinstance(value["arguments"], dict)
    ):
        return None
    return {"type": "tool_call", "name": value["name"], "args": value["arguments"], "id": new_call_id()}


def parse_tool_calls(
    text: str, names: Sequence[str] = ()
) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    """``(content, tool_calls, invalid_tool_calls)`` of an answer: the text outside the ``<tool_call>`` blocks
    (stripped), each block that is a JSON ``{"name": ..., "arguments": {...}}`` as a LangChain tool call with
    a new ``call_`` id, and each other block as an invalid tool call that keeps its text and says what is
    wrong. An answer without blocks that is exactly one ``{"name": <one of names>, "arguments": {...}}``
    object (bare or in a code fence) is that call too."""
    calls: list[dict[str, Any]] = []
    invalid: list[dict[str, Any]] = []
    if OPEN not in text:
        bare = _bare_call(text, names) if names else None
        return ("", [bare], invalid) if bare else (text, calls, invalid)
    for match in _BLOCK.finditer(text):
        raw = match.group(1).strip()
        call_id = new_call_id()
        try:
            value = json.loads(raw)
        except ValueError as exc:
            invalid.append(
                {
                    "type": "invalid_tool_call",
                    "name": None,
                    "args": raw,
                    "id": call_id,
                    "error": f"the tool call is not valid JSON ({exc})",
                }
            )
            continue
        name = value.get("name") if isinstance(value, dict) else None
        args = value.get("arguments", value.get("parameters", {})) if isinstance(value, dict) else None
        if isinstance(args, str):  # some models write the arguments as a JSON string
            try:
                args = json.loads(args)
            except ValueError:
                pass
        if not isinstance(name, str) or not name or not isinstance(args, dict):
            invalid.append(
                {
                    "type": "invalid_tool_call",
                    "name": name if isinstance(name, str) else None,
                    "args": raw,
                    "id": call_id,
                    "error": 'a tool call must be {"name": <string>, "arguments": <object>}',
                }
            )
            continue
        calls.append({"type": "tool_call", "name": name, "args": args, "id": call_id})
    content = _BLOCK.sub("", text).strip()
    return content, calls, invalid


def held_text(text: str) -> str:
    """The part of a streamed answer that is plain text for sure: everything before a tool-call block, less a
    tail that could still grow into ``<tool_call>`` and trailing blank space (the message's text is stripped);
    nothing while the answer could be a call without tags."""
    start = text.lstrip()
    if start[:1] == "{" or (start and "```".startswith(start[:3])):
        return ""
    cut = text.find(OPEN)
    if cut != -1:
        return text[:cut].rstrip()
    for size in range(min(len(OPEN) - 1, len(text)), 0, -1):
        if OPEN.startswith(text[-size:]):
            return text[:-size].rstrip()
    return text.rstrip()
