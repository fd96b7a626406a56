"""``with_structured_output`` for promptkit's chat models: answers as validated objects.

The schema (a pydantic class, a TypedDict or a JSON schema dict) becomes an OpenAI-style ``response_format``
bound to the model; the local model's decoder then only produces JSON that matches it
(:mod:`promptkit.llm.decoding.grammar`), and the answer is parsed and validated with pydantic (pydantic classes)
or parsed as JSON (the others). ``json_mode`` asks for any JSON object (the prompt names the keys);
``json_schema`` and ``function_calling`` enforce the schema (the local models have no tool calling: the schema is
enforced by the decoder instead). What LangChain reports to tracers (``ls_structured_output_format``) is bound the
way LangChain's own providers bind it.
"""

from __future__ import annotations

import json
from operator import itemgetter
from typing import Any

from langchain_core.messages import SystemMessage
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.prompt_values import ChatPromptValue
from langchain_core.runnables import Runnable, RunnableLambda, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_json_schema

from promptkit.errors import ValidationError

METHODS = ("json_schema", "function_calling", "json_mode")
INSTRUCTION = "Answer with one JSON object that matches this JSON schema, and nothing else:\n{schema}"


def with_instruction(model: Any, json_schema: dict[str, Any] | None) -> Runnable:
    """A step that tells the model the schema in a system message (merged into the conversation's own system
    message, if any): the decoder enforces the JSON's shape, and the model fills it better knowing what it is."""
    if json_schema is None:
        return RunnableLambda(lambda value: value, name="structured_input")
    note = INSTRUCTION.format(schema=json.dumps(json_schema, ensure_ascii=False))

    def add(value: Any) -> ChatPromptValue:
        messages = model._convert_input(value).to_messages()
        if messages and messages[0].type == "system" and isinstance(messages[0].content, str):
            first = SystemMessage(content=f"{messages[0].content}\n\n{note}")
            return ChatPromptValue(messages=[first, *messages[1:]])
        return ChatPromptValue(messages=[SystemMessage(content=note), *messages])

    return RunnableLambda(add, name="structured_input")


def _is_pydantic_class(schema: Any) -> bool:
    if not isinstance(schema, type):
        return False
    from pydantic import BaseModel
    from pydantic.v1 import BaseModel as BaseModelV1

    return issubclass(schema, BaseModel | BaseModelV1)


def response_format(schema: Any, method: str, strict: bool | None = None) -> dict[str, Any]:
    """The ``response_format`` option that makes a model answer ``schema`` with ``method``."""
    if method not in METHODS:
        raise ValidationError(f"unknown structured-output method {method!r}; expected one of: {', '.join(METHODS)}")
    if method == "json_mode":
        return {"type": "json_object"}
    if schema is None:
        raise ValidationError(f"structured output with method {method!r} needs a schema",
                              hint="pass a pydantic class, a TypedDict or a JSON schema dict")
    json_schema = convert_to_json_schema(schema)
    name = str(json_schema.get("title") or "answer")
    return {"type": "json_schema", "json_schema": {"name": name, "schema": json_schema, "strict": bool(strict)}}


def structured(
    model: Any,
    schema: Any = None,
    *,
    method: str = "json_schema",
    include_raw: bool = False,
    strict: bool | None = None,
    **kwargs: Any,
) -> Runnable:
    """The runnable ``model.with_structured_output(...)`` returns (see the module docstring)."""
    if kwargs:
        raise ValidationError(f"with_structured_output got unexpected argument(s): {', '.join(sorted(kwargs))}")
    fmt = response_format(schema, method, strict)
    traced = {"kwargs": {"method": method, "strict": strict}, "schema": convert_to_json_schema(schema)} \
        if schema is not None else {"kwargs": {"method": method}}
    schema_for_model = convert_to_json_schema(schema) if schema is not None else None
    llm = with_instruction(model, schema_for_model) | model.bind(response_format=fmt,
                                                                  ls_structured_output_format=traced)
    parser: Runnable = PydanticOutputParser(pydantic_object=schema) if _is_pydantic_class(schema) \
        else JsonOutputParser()
    if not include_raw:
        return llm | parser
    parse = RunnablePassthrough.assign(parsed=itemgetter("raw") | parser, parsing_error=lambda _: None)
    keep_raw = RunnablePassthrough.assign(parsed=lambda _: None)
    return RunnableMap(raw=llm) | parse.with_fallbacks([keep_raw], exception_key="parsing_error")
