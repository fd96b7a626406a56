"""Deterministic fakes for tests: a chat model and embeddings that never load weights.

``FakeChatModel`` goes through the same batching, stop-string and replay-cache code as the real local model, and
records every batch it was asked to generate, so tests can check that batching really happened. It takes
``bind_tools`` like the local model: the rendered prompt lists the bound tools and the tool choice, and an
answer holding ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` becomes the message's tool calls
(the fake does not enforce a required call: its answers decide, as they are fixed in advance).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from langchain_core.embeddings import Embeddings
from langchain_core.messages import BaseMessage
from pydantic import Field

from promptkit.llm.base import BatchedChatModel, Completion
from promptkit.text import ABSTENTION_PHRASE

Responder = Callable[[str], str]


class FakeChatModel(BatchedChatModel):
    """A chat model whose answers are fixed in advance.

    Answer selection, first match wins:
      1. ``respond(prompt)`` if given;
      2. ``rules``: the first ``(substring, answer)`` whose substring occurs in the rendered prompt;
      3. ``responses``: cycled in call order;
      4. ``default``.
    """

    model: str = "fake-chat"
    respond: Responder | None = None
    rules: list[tuple[str, str]] = Field(default_factory=list)
    responses: list[str] = Field(default_factory=list)
    default: str = ABSTENTION_PHRASE
    calls: list[list[str]] = Field(default_factory=list)
    counter: int = 0

    tool_calling: ClassVar[bool] = True

    @property
    def _llm_type(self) -> str:
        return "promptkit-fake-chat"

    @property
    def model_id(self) -> str:
        return self.model

    def _target(self, params: dict[str, Any]) -> FakeChatModel:
        return self  # a per-call model= is only reported: the fake answers the same whatever it is called

    def render_prompt(self, messages: Sequence[BaseMessage], tools: list[dict[str, Any]] | None = None,
                      tool_choice: str = "auto") -> str:
        """Each message as ``<type>`` and its content (an AI message's tool calls as JSON after it); with
        tools, first ``<tools>`` (their OpenAI dicts as JSON) and ``<tool_choice>``."""
        head = []
        if tools and tool_choice != "none":
            head = [f"<tools>\n{json.dumps(tools, ensure_ascii=False)}", f"<tool_choice>\n{tool_choice}"]
        body = []
        for m in messages:
            calls = getattr(m, "tool_calls", None) if m.type == "ai" else None
            extra = "".join(f"\n<tool_call>{json.dumps({'name': c['name'], 'arguments': c['args']})}"
                            "</tool_call>" for c in calls or [])
            body.append(f"<{m.type}>\n{m.content}{extra}")
        return "\n".join(head + body) + "\n<ai>\n"

    def answer_for(self, prompt: str) -> str:
        if self.respond is not None:
            return self.respond(prompt)
        for needle, answer in self.rules:
            if needle in prompt:
                return answer
        if self.responses:
            answer = self.responses[self.counter % len(self.responses)]
            self.counter += 1
            return answer
        return self.default

    def _complete(self, prompts: list[str], params: dict[str, Any]) -> list[Completion]:
        self.calls.append(list(prompts))
        out = []
        for prompt in prompts:
            words = self.answer_for(prompt).split(" ")
            limit = params["max_new_tokens"]  # a word stands for a token
            text = " ".join(words[:limit])
            out.append(Completion(text, len(prompt.split()), min(len(words), limit),
                                  "length" if len(words) > limit else "stop"))
        return out

    def _logprob(self, prompts: list[str], continuations: list[str]) -> list[float]:
        # Deterministic: continuations the fake would answer get a high score.
        return [
            -0.1 if self.answer_for(p).strip().lower() == c.strip().lower() else -5.0 - len(c) / 10
            for p, c in zip(prompts, continuations, strict=True)
        ]


_TOKEN = re.compile(r"\w+", re.UNICODE)


class FakeEmbeddings(Embeddings):
    """Hashing bag-of-words embeddings: texts that share words get similar vectors.

    Deterministic across processes (uses sha1, not ``hash``), L2-normalised, no weights.
    """

    def __init__(self, size: int = 256):
        self.size = size
        self.model_id = f"fake-hashing-{size}"

    def _vector(self, text: str) -> list[float]:
        vec = [0.0] * self.size
        for token in _TOKEN.findall(text.lower()):
            digest = hashlib.sha1(token.encode("utf-8")).digest()
            slot = int.from_bytes(digest[:4], "little") % self.size
            vec[slot] += 1.0 if digest[4] % 2 == 0 else -1.0
        norm = math.sqrt(sum(v * v for v in vec)) or 1.0
        return [v / norm for v in vec]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


def __getattr__(name: str):  # noqa: ANN202 - lazy re-export
    """``assert_no_regression`` is re-exported here for tests (it lives in :mod:`promptkit.regression`)."""
    if name == "assert_no_regression":
        from promptkit.regression import assert_no_regression

        return assert_no_regression
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
