"""promptkit: offline-first prompt engineering with versioned prompts, LangChain chains and SQuAD-style evals.

Importing the package is cheap: heavy libraries (torch, transformers, sentence-transformers, FAISS) load only
when a function that needs them is called.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from promptkit.version import __version__

# public name -> module that defines it (loaded on first access)
_LAZY = {
    "PromptkitError": "promptkit.errors",
    "load_llm": "promptkit.llm",
    "load_embeddings": "promptkit.embeddings",
    "load_prompt": "promptkit.prompts",
    "load_chain": "promptkit.chains",
    "load_index": "promptkit.index",
    "build_index": "promptkit.index",
    "evaluate": "promptkit.evaluation",
}

__all__ = ["__version__", *_LAZY]

if TYPE_CHECKING:  # pragma: no cover
    from promptkit.chains import load_chain
    from promptkit.embeddings import load_embeddings
    from promptkit.errors import PromptkitError
    from promptkit.evaluation import evaluate
    from promptkit.index import build_index, load_index
    from promptkit.llm import load_llm
    from promptkit.prompts import load_prompt


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'promptkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
