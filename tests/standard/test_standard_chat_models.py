"""LangChain's standard chat model suites (unit and integration) for promptkit's chat models: the local model
(integration tests on the real default model, marked ``model``) and the test fake.

Tool calling runs in full: ``bind_tools`` shows the tools through the model's chat template, reads its
``<tool_call>`` blocks into ``tool_calls``, and enforces a required call (``tool_choice="any"`` or a tool's
name, which the suite uses since the models take ``tool_choice``) while decoding. The fake's answers below
call the bound tools the way the model's answers do.

What is declared absent, and why:

* image, audio, PDF and video inputs: text-only models.
* an API key and retries (``api_key``, ``max_retries`` in the unit suite's standard parameters): a model that runs
  in this process has no key and no network failures to retry, so it refuses both options instead of
  pretending to honour them; the standard parameters below leave them out.
* LangChain serialization (``is_lc_serializable``): LangChain's loader revives only the classes in its own
  registry, so neither model declares itself serializable (the fake also holds a Python callable).
* configuration from environment variables (``test_init_from_env``): none is read.
* Anthropic-format content blocks (``test_anthropic_inputs``): the models read LangChain's standard blocks, not a
  provider's own format.
* ``test_stream_time`` replays recorded HTTP traffic (VCR); a model in this process makes no HTTP call.
"""

from __future__ import annotations

import json
import re
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests

from promptkit.llm.local import LocalChatModel
from promptkit.testing import FakeChatModel
from promptkit.weights import DEFAULT_LLM

LOCAL_PARAMS: dict[str, Any] = {"model": DEFAULT_LLM}


def _no_key_no_retries(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k not in ("api_key", "max_retries")}


@cache
def tiny_model_folder() -> str:
    """A small random Qwen2 saved with a byte-level tokenizer: a second local model to switch to per call."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import Qwen2Config, Qwen2ForCausalLM

    folder = Path(tempfile.mkdtemp(prefix="promptkit-tiny-")) / "tiny-qwen"
    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=260, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         pad_token_id=0, eos_token_id=1, bos_token_id=1)
    Qwen2ForCausalLM(config).save_pretrained(folder)
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    tok = Tokenizer(models.BPE(vocab={"<pad>": 0, "</s>": 1, **{c: i + 2 for i, c in enumerate(alphabet)}},
                               merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "PreTrainedTokenizerFast", "pad_token": "<pad>", "eos_token": "</s>"}))
    return str(folder)


class TestLocalChatModelUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return LocalChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return LOCAL_PARAMS

    @property
    def standard_chat_model_params(self) -> dict[str, Any]:
        return _no_key_no_retries(super().standard_chat_model_params)

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def has_tool_calling(self) -> bool:
        return True

    @property
    def has_tool_choice(self) -> bool:
        return True


@pytest.mark.model
class TestLocalChatModelIntegration(ChatModelIntegrationTests):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return LocalChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return LOCAL_PARAMS

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def has_tool_calling(self) -> bool:
        return True

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return tiny_model_folder()


def _fake_call(prompt: str) -> str | None:
    """The fake's tool call when tools are bound and the last message is the user's: the forced tool, else the
    first tool the question names, else the first one; integer arguments take the question's numbers in order,
    the others the question's text."""
    if not prompt.startswith("<tools>\n"):
        return None
    tools_line, _, rest = prompt[len("<tools>\n"):].partition("\n<tool_choice>\n")
    choice, _, conversation = rest.partition("\n")
    turns = re.split(r"^<(\w+)>\n", conversation, flags=re.M)
    if len(turns) < 4 or turns[-4] != "human":
        return None  # after a tool's result the fake answers in words
    question = turns[-3].strip()
    functions = [t["function"] for t in json.loads(tools_line)]
    named = [f for f in functions if f["name"] == choice or f["name"] in question]
    function = (named or functions)[0]
    numbers = [int(n) for n in re.findall(r"-?\d+", question)]
    arguments = {}
    for key, spec in function.get("parameters", {}).get("properties", {}).items():
        arguments[key] = (numbers.pop(0) if numbers else 0) if spec.get("type") == "integer" else question
    return f"<tool_call>{json.dumps({'name': function['name'], 'arguments': arguments})}</tool_call>"


def fake_answer(prompt: str) -> str:
    """The fake's answers: a call of a bound tool (see :func:`_fake_call`), a joke as JSON when asked for
    JSON, else a greeting."""
    call = _fake_call(prompt)
    if call is not None:
        return call
    if "JSON" in prompt:
        return json.dumps({"setup": "Por que o gato sentou no teclado?", "punchline": "Para ficar de olho no mouse."})
    return "Olá! Em que posso ajudar?"


FAKE_PARAMS: dict[str, Any] = {"respond": fake_answer}


class TestFakeChatModelUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return FakeChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return FAKE_PARAMS

    @property
    def standard_chat_model_params(self) -> dict[str, Any]:
        return _no_key_no_retries(super().standard_chat_model_params)

    @property
    def supports_json_mode(self) -> bool:
        return True


class TestFakeChatModelIntegration(ChatModelIntegrationTests):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return FakeChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return FAKE_PARAMS

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return "fake-chat-other"
