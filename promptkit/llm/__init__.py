"""Chat models: promptkit's batching LangChain base class, the local transformers model with its decoder, and
served models (OpenAI-compatible servers, Ollama, any LangChain chat model) named in ``models.yaml``.

Importing this package is cheap; LangChain, torch and transformers load when a model is built or called.

    >>> from promptkit.llm import load_llm, LocalChatModel
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "load_llm": "promptkit.llm.loading",
    "DEFAULT_DTYPE": "promptkit.llm.loading",
    "DEFAULT_BATCH_SIZE": "promptkit.llm.loading",
    "BatchedChatModel": "promptkit.llm.base",
    "Completion": "promptkit.llm.base",
    "LocalChatModel": "promptkit.llm.local",
    "ServedChatModel": "promptkit.llm.served",
    "adopt": "promptkit.llm.served",
    "continuation_logprobs": "promptkit.llm.logprobs",
    "label_probabilities": "promptkit.llm.logprobs",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'promptkit.llm' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
