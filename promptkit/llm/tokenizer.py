"""Tokenizers without weights: counting tokens and rendering chat prompts for a local model folder.

Fitting retrieved documents into the context window counts the same blocks several times per question, across
questions and on every re-run; rendering a conversation with the chat template is what the model sees. Both are
deterministic, so :func:`count_tokens` and :class:`LightTokenizer` remember them in
:mod:`promptkit.llm.tokenizer_cache`, and a replayed run imports neither transformers nor the tokenizer file.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

_TOKENIZERS: dict[str, Any] = {}
_LOCK = threading.Lock()
_COUNTS: dict[tuple[str, str], int] = {}
_COUNTS_MAX = 50_000


class LightTokenizer:
    """What a replay needs from a model's tokenizer (token counts, chat-template rendering), loaded lazily.

    Counting uses ``tokenizers`` on the folder's ``tokenizer.json`` (the object the transformers tokenizer wraps:
    same ids), parsed only on the first count that :mod:`promptkit.llm.tokenizer_cache` does not hold.
    Rendering is always done by transformers' ``apply_chat_template`` (``PreTrainedTokenizerFast``, no torch) and
    remembered in the same cache, so a replayed run usually imports neither transformers nor the tokenizer file.
    """

    padding_side = "left"

    def __init__(self, folder: Path):
        self._folder = folder
        self._rust: Any = None
        self._full: Any = None
        self._lock = threading.Lock()
        template_path = folder / "chat_template.jinja"
        if template_path.is_file():
            self.chat_template: str | None = template_path.read_text("utf-8")
        else:
            import json

            try:
                config = json.loads((folder / "tokenizer_config.json").read_text("utf-8"))
            except (OSError, ValueError):
                config = {}
            template = config.get("chat_template")
            self.chat_template = template if isinstance(template, str) else None

    @classmethod
    def usable(cls, folder: Path) -> bool:
        """Whether ``folder`` has a ``tokenizer.json`` (what counting reads)."""
        return (folder / "tokenizer.json").is_file()

    @property
    def _tok(self) -> Any:
        if self._rust is None:
            with self._lock:
                if self._rust is None:
                    from tokenizers import Tokenizer

                    self._rust = Tokenizer.from_file(str(self._folder / "tokenizer.json"))
        return self._rust

    @property
    def full(self) -> Any:
        """The transformers tokenizer (``PreTrainedTokenizerFast``), loaded on first need."""
        if self._full is None:
            with self._lock:
                if self._full is None:
                    from transformers import PreTrainedTokenizerFast

                    tok = PreTrainedTokenizerFast.from_pretrained(str(self._folder), local_files_only=True)
                    tok.padding_side = "left"
                    if tok.pad_token_id is None:
                        tok.pad_token = tok.eos_token
                    self._full = tok
        return self._full

    def __call__(self, text: str, add_special_tokens: bool = False, **_: Any) -> dict[str, list[int]]:
        return {"input_ids": self._tok.encode(text, add_special_tokens=add_special_tokens).ids}

    def apply_chat_template(self, chat: list[dict[str, Any]], tokenize: bool = False,
                            add_generation_prompt: bool = False,
                            tools: list[dict[str, Any]] | None = None) -> str:
        if tokenize:
            raise ValueError("LightTokenizer renders text only (tokenize=False)")
        from promptkit.llm.tokenizer_cache import render_key, store_for

        store = store_for(str(self._folder)) if self.chat_template else None
        template = self.chat_template or ""
        key = render_key(template, chat, add_generation_prompt, tools) if store is not None else ""
        text = store.get_render(key) if store is not None else None
        if text is None:
            extra = {"tools": tools} if tools else {}
            text = self.full.apply_chat_template(chat, tokenize=False,
                                                 add_generation_prompt=add_generation_prompt, **extra)
            if store is not None:
                store.put_render(key, text)
        return text


def load_tokenizer(source: str, *, local_only: bool = True) -> Any:
    """The tokenizer alone (no weights), prepared like a backend's: enough to render and count prompts.

    A folder with a ``tokenizer.json`` gets a :class:`LightTokenizer` (no torch; transformers only to render a
    conversation the tokenizer cache has not seen); anything else ``AutoTokenizer``, which imports torch.
    """
    with _LOCK:
        tok = _TOKENIZERS.get(source)
        if tok is None:
            if LightTokenizer.usable(Path(source)):
                tok = LightTokenizer(Path(source))
                _TOKENIZERS[source] = tok
                return tok
            from transformers import AutoTokenizer

            tok = AutoTokenizer.from_pretrained(source, local_files_only=local_only)
            tok.padding_side = "left"
            if tok.pad_token_id is None:
                tok.pad_token = tok.eos_token
            _TOKENIZERS[source] = tok
        return tok


def count_tokens(folder: str, tokenizer: Any, text: str) -> int:
    """Tokens of ``text`` for the model in ``folder``, memoised in memory and on disk; ``tokenizer`` (called
    like a transformers tokenizer) counts what neither memo holds."""
    key = (folder, text)
    count = _COUNTS.get(key)
    if count is None:
        from promptkit.llm.tokenizer_cache import store_for

        store = store_for(folder)
        count = store.get_count(text) if store is not None else None
        if count is None:
            count = len(tokenizer(text, add_special_tokens=False)["input_ids"])
            if store is not None:
                store.put_count(text, count)
        if len(_COUNTS) >= _COUNTS_MAX:
            _COUNTS.clear()
        _COUNTS[key] = count
    return count
