"""LangChain's standard chat model suites (unit and integration) for promptkit's chat models: the local model
(integration tests on the real default model, marked ``model``) and the test fake.

What is declared absent, and why:

* tool calling (``bind_tools``): the local models are small instruction models run by promptkit's own decoder,
  with no tool-call format to parse; the tool tests are skipped by the suite because ``bind_tools`` is not
  implemented, and a ``tools=`` option is refused with a clear error rather than ignored. Structured output, the
  part of tool calling that prompt engineering needs, is implemented (``with_structured_output``, enforced by
  the decoder).
* image, audio, PDF and video inputs: text-only models.
* an API key and retries (``api_key``, ``max_retries`` in the unit suite's standard parameters): a model that runs
  in this process has no key and no network failures to retry, so it refuses both options instead of
  pretending to honour them; the standard parameters below leave them out.
* LangChain serialization (``is_lc_serializable``): LangChain's loader revives only the classes in its own
  registry, so neither model declares itself serializable (the fake also holds a Python callable).
* configuration from environment variables (``test_init_from_env``): none is read.
"""

from __future__ import annotations

import json
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
    def model_override_value(self) -> str:
        return tiny_model_folder()


def fake_answer(prompt: str) -> str:
    """The fake's answers: a joke as JSON when asked for JSON, else a greeting."""
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
