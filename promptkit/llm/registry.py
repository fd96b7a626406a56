"""``models.yaml``: the served models a project can name wherever it names a model.

A project keeps one ``models.yaml`` beside ``prompts/`` and ``chains/`` (or points ``PROMPTKIT_MODELS`` at
another file). Each entry gives a short name to a model that a server answers for::

    models:
      - name: qwen-gpu                     # what chains (`model: {name: qwen-gpu}`) and `--model` use
        kind: openai                       # vLLM, TGI, llama.cpp server, LM Studio, transformers serve
        base_url: http://gpu-box:8000/v1   # ollama: kind: ollama, base_url: http://host:11434
        model: Qwen/Qwen2.5-7B-Instruct    # the server's own model id (the replay cache keys on it)
        api_key_env: QWEN_API_KEY          # the NAME of the variable holding the key, never the key
        tokenizer: ./tokenizers/qwen2.5-7b # a local tokenizer copy (folder or catalogue name)
        context_window: 32768
        generation: {max_new_tokens: 64, temperature: 0}
        timeout: 60                        # seconds per request
        max_retries: 2                     # retries on 429/5xx/timeouts/connection errors
        concurrency: 16                    # requests kept in flight by `eval run`

The schema is strict: an unknown key, a wrong type or a key written into the file (``api_key:``) is one error
line naming the file, the entry and the field.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticError

from promptkit.errors import NotFoundError, ValidationError, unknown

MODELS_FILE = "models.yaml"
KINDS = ("openai", "ollama")
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"


class Generation(BaseModel):
    """Default generation settings of a served model (a chain's or a call's own settings override them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_new_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    seed: int | None = None
    stop: list[str] | None = None

    def settings(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class ServedModelEntry(BaseModel):
    """One served model of ``models.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME)
    kind: Literal["openai", "ollama"]
    base_url: str = Field(min_length=1)
    model: str = Field(min_length=1, description="the server's own model id")
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    tokenizer: str | None = Field(
        default=None, description="catalogue name or folder of the model's tokenizer"
    )
    token_counter: Literal["auto", "tokenizer", "server", "bytes"] = "auto"
    context_window: int | None = Field(default=None, ge=16)
    generation: Generation = Field(default_factory=Generation)
    timeout: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=2, ge=0, le=10)
    concurrency: int = Field(default=4, ge=1, le=1024)
    logprobs: Literal["auto", "completions", "chat", "none"] = "auto"
    description: str | None = None

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s]+$", value):
            raise ValueError(f"expected an http(s) URL, got {value!r}")
        if re.match(r"^https?://[^/]*@", value):
            raise ValueError(
                "put no credentials in base_url; name the key's environment variable in api_key_env"
            )
        return value.rstrip("/")

    def settings(self) -> dict[str, Any]:
        """The keyword arguments of :class:`~promptkit.llm.served.ServedChatModel` for this entry."""
        out: dict[str, Any] = {
            "backend": self.kind,
            "base_url": self.base_url,
            "model": self.model,
            "served_name": self.name,
            "api_key_env": self.api_key_env,
            "tokenizer": self.tokenizer,
            "token_counter": self.token_counter,
            "context_window": self.context_window,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            "concurrency": self.concurrency,
            "logprobs": self.logprobs,
        }
        gen = self.generation.settings()
        if "max_new_tokens" in gen:
            gen["max_tokens"] = gen.pop("max_new_tokens")
        return {**out, **gen}


class ModelsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    models: list[ServedModelEntry] = Field(default_factory=list)


def models_path() -> Path:
    """``PROMPTKIT_MODELS`` when set, else ``models.yaml`` at the project root."""
    env = os.environ.get("PROMPTKIT_MODELS")
    if env:
        return Path(env).expanduser()
    from promptkit.paths import project_root

    return project_root() / MODELS_FILE


_LOADED: dict[tuple[str, int, int], ModelsFile] = {}


def load_models_file(path: str | os.PathLike[str] | None = None) -> ModelsFile:
    """The validated models file (an empty one when there is none); re-read when the file changes."""
    target = Path(path) if path is not None else models_path()
    try:
        stat = target.stat()
    except FileNotFoundError:
        if path is not None or os.environ.get("PROMPTKIT_MODELS"):
            raise NotFoundError(
                f"models file {target} does not exist",
                hint="write it (see `promptkit models served --help`) or unset PROMPTKIT_MODELS",
            ) from None
        return ModelsFile()
    key = (str(target.resolve()), stat.st_mtime_ns, stat.st_size)
    if key in _LOADED:
        return _LOADED[key]
    try:
        data = yaml.safe_load(target.read_text("utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ValidationError(
            f"{target} is not valid YAML ({exc.__class__.__name__}: {str(exc).splitlines()[0]})"
        ) from None
    if isinstance(data, dict):
        for i, entry in enumerate(data.get("models") or []):
            if isinstance(entry, dict) and any(k in entry for k in ("api_key", "key", "token", "password")):
                raise ValidationError(
                    f"{target}: models[{i}] ({entry.get('name', '?')}) holds a secret; models.yaml must not",
                    hint="set api_key_env: NAME_OF_AN_ENVIRONMENT_VARIABLE and export the key there",
                )
    try:
        parsed = ModelsFile.model_validate(data)
    except PydanticError as exc:
        first = exc.errors()[0]
        loc = first["loc"]
        where = ".".join(str(p) for p in loc) or "top level"
        if len(loc) >= 2 and loc[0] == "models" and isinstance(loc[1], int):
            models = data.get("models") if isinstance(data, dict) else None
            name = (
                models[loc[1]].get("name")
                if isinstance(models, list) and isinstance(models[loc[1]], dict)
                else None
            )
            where = (
                f"models[{loc[1]}]"
                + (f" ({name})" if name else "")
                + ("." + ".".join(str(p) for p in loc[2:]) if len(loc) > 2 else "")
            )
        raise ValidationError(
            f"{target}: {where}: {first['msg']}", hint="fields: " + ", ".join(ServedModelEntry.model_fields)
        ) from None
    names = [m.name for m in parsed.models]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValidationError(f"{target}: model name(s) {', '.join(dupes)} appear more than once")
    _LOADED[key] = parsed
    return parsed


def served_entry(name: str, path: str | os.PathLike[str] | None = None) -> ServedModelEntry | None:
    """The entry called ``name``, or ``None`` when the models file has none by that name."""
    for entry in load_models_file(path).models:
        if entry.name == name:
            return entry
    return None


def get_served_entry(name: str, path: str | os.PathLike[str] | None = None) -> ServedModelEntry:
    entry = served_entry(name, path)
    if entry is None:
        raise unknown("served model", name, [m.name for m in load_models_file(path).models])
    return entry
