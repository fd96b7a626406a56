"""Resolving the parts a chain definition names: its prompt, its model and the model's generation settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from promptkit.chains.definition import ChainDefinition
from promptkit.errors import ValidationError

LANGUAGE_NAMES = {"pt-BR": "português do Brasil", "pt": "português", "en": "inglês"}


@dataclass
class Parts:
    """Everything a chain builder needs, resolved once when the chain is loaded."""

    definition: ChainDefinition
    prompt: Any  # langchain_core BasePromptTemplate
    spec: Any  # promptkit.prompts.PromptVersion
    llm: Any  # promptkit.llm.base.BatchedChatModel
    generation: dict[str, Any]
    embeddings: Any = None
    index: Any = None
    extra_prompts: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    # -- provenance ------------------------------------------------------------------------------------------
    @property
    def prompt_ref(self) -> str:
        return str(self.prompt.metadata.get("ref", self.definition.prompt))

    @property
    def prompt_hash(self) -> str:
        return str(self.prompt.metadata.get("hash", ""))

    @property
    def model_id(self) -> str:
        return str(getattr(self.llm, "model_id", type(self.llm).__name__)) if self.llm is not None else ""

    def provenance(self) -> dict[str, Any]:
        out = {
            "chain": self.definition.name,
            "prompt": self.prompt_ref,
            "prompt_hash": self.prompt_hash,
            "model": self.model_id,
        }
        if "cross_check" in self.extra_prompts:
            check = self.extra_prompts["cross_check"][0]
            out["cross_check_prompt"] = str(check.metadata.get("ref", self.definition.cross_check))
        return out

    # -- the model -------------------------------------------------------------------------------------------
    @property
    def model(self) -> Any:
        """The chat model with this chain's generation settings bound (the shared model is not mutated)."""
        return self.llm.bind(**self.generation) if self.generation else self.llm

    def count_tokens(self, text: str) -> int:
        counter = getattr(self.llm, "get_num_tokens", None)
        if counter is None:
            return len(text) // 4 + 1
        return int(counter(text))

    @property
    def context_window(self) -> int:
        """The model's context window in tokens (promptkit models know theirs; 4096 for other chat models)."""
        return int(getattr(self.llm, "window", None) or getattr(self.llm, "context_window", None) or 4096)

    @property
    def max_new_tokens(self) -> int:
        value = self.generation.get("max_new_tokens") or getattr(self.llm, "max_new_tokens", 64)
        return int(value)

    # -- prompt variables ------------------------------------------------------------------------------------
    def variables(self, values: Mapping[str, Any], prompt: Any = None) -> dict[str, Any]:
        """The values ``prompt`` needs, or one clear error naming the missing ones."""
        prompt = prompt if prompt is not None else self.prompt
        needed = list(prompt.input_variables)
        missing = [v for v in needed if values.get(v) is None]
        if missing:
            raise ValidationError(
                f"chain {self.definition.name!r} needs input(s) {', '.join(repr(m) for m in missing)} "
                f"for prompt {prompt.metadata.get('ref', '?')}; got: {', '.join(sorted(values)) or 'nothing'}"
            )
        return {v: values[v] for v in needed}

    def render_length(self, values: Mapping[str, Any], prompt: Any = None) -> int:
        """Tokens of the prompt rendered with ``values`` (chat roles joined as plain text)."""
        prompt = prompt if prompt is not None else self.prompt
        return self.count_tokens(prompt.invoke(dict(values)).to_string())


def generation_settings(definition: ChainDefinition, spec: Any) -> dict[str, Any]:
    """The definition's generation settings, completed by the prompt's defaults."""
    settings: dict[str, Any] = {}
    prompt_gen = getattr(spec, "generation", None)
    if prompt_gen is not None:
        for key in ("temperature", "max_new_tokens", "stop"):
            value = prompt_gen.get(key) if hasattr(prompt_gen, "get") else getattr(prompt_gen, key, None)
            if value is not None:
                settings[key] = list(value) if key == "stop" else value
    settings.update(definition.model.generation())
    return settings


def resolve_llm(definition: ChainDefinition, llm: Any = None, cache: Any = None) -> Any:
    """The injected model, or :func:`promptkit.llm.load_llm` with the definition's loading settings."""
    if llm is None:
        from promptkit.llm import load_llm

        settings = definition.model.loading()
        if cache is not None:
            settings["cache"] = cache
        return load_llm(definition.model.name, **settings)
    if cache is not None and hasattr(llm, "model_copy"):
        return llm.model_copy(update={"cache": cache})  # the caller's model object keeps its own cache
    return llm


def resolve_prompt(ref: str, embeddings: Any = None) -> tuple[Any, Any]:
    """``(prompt object, validated spec)`` for a prompt reference."""
    from promptkit.prompts import get_prompt_spec, load_prompt

    return load_prompt(ref, embeddings=embeddings), get_prompt_spec(ref)
