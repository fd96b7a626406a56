"""The strict schema of one prompt version file (``prompts/<name>/v<N>.yaml``).

Every field is checked by pydantic with ``extra="forbid"``; :func:`parse_version` turns the first validation
problem into one readable line naming the file, the field and the fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from promptkit.errors import ValidationError
from promptkit.fileio import canonical_json, sha256_bytes
from promptkit.prompts.names import LABEL_PATTERN, NAME_PATTERN, RESERVED_LABELS, VERSION_FILE

__all__ = [
    "LABEL_PATTERN",
    "NAME_PATTERN",
    "RESERVED_LABELS",
    "VERSION_FILE",
    "PromptVersion",
    "parse_version",
]


# Fields that do not change what a version renders or how its output is read: two versions that differ only in
# these hold duplicate content.
_BOOKKEEPING = ("name", "version", "description", "changelog")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _MappingLike(_Strict):
    """A small model that also reads like a dict (``spec.parser["type"]``, ``**spec.generation``)."""

    def keys(self) -> list[str]:
        return [k for k, v in self.model_dump().items() if v is not None]

    def __getitem__(self, key: str) -> Any:
        if key not in type(self).model_fields:
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        value = getattr(self, key, None) if key in type(self).model_fields else None
        return default if value is None else value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self.keys()


class Message(_Strict):
    """One message of a chat prompt."""

    role: Literal["system", "human", "ai"]
    content: str = Field(min_length=1)


class FewShot(_MappingLike):
    """How demonstrations are drawn from a pool file and shown to the model."""

    pool: str = Field(description="pool file, relative to prompts/, e.g. _pools/qa_pt.jsonl")
    selector: Literal["fixed", "similarity", "mmr"] = "similarity"
    k: int = Field(default=4, ge=1, le=32)
    input_keys: list[str] | None = Field(
        default=None,
        description="input variables compared with the same-named pool fields (default: all input variables)",
    )
    ids: list[str] | None = Field(default=None, description="for selector 'fixed': the example ids, in order")
    fetch_k: int = Field(default=20, ge=1, description="for selector 'mmr': candidates considered")
    cover: dict[str, list[str]] | None = Field(
        default=None,
        description="field -> values that must each appear at least once among the chosen examples",
    )
    example: list[Message] = Field(min_length=1, description="the messages one example renders to")

    @field_validator("pool")
    @classmethod
    def _relative_pool(cls, value: str) -> str:
        p = Path(value)
        if p.is_absolute() or ".." in p.parts or p.suffix != ".jsonl":
            raise ValueError("must be a .jsonl path relative to prompts/, e.g. _pools/qa_pt.jsonl")
        return value

    @model_validator(mode="after")
    def _fixed_needs_ids(self) -> FewShot:
        if self.ids is not None and self.selector != "fixed":
            raise ValueError("'ids' only applies to selector 'fixed'; remove it or set selector: fixed")
        if self.ids is not None and len(self.ids) != self.k:
            raise ValueError(f"selector 'fixed' lists {len(self.ids)} ids but k is {self.k}; make them agree")
        return self


class Generation(_MappingLike):
    """Default generation settings a chain uses with this prompt (a chain's own settings win)."""

    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    max_new_tokens: int | None = Field(default=None, ge=1, le=4096)
    stop: list[str] | None = None


class JsonField(_Strict):
    """One field of the JSON object a ``json`` parser expects (a small JSON-schema subset)."""

    name: str
    type: Literal["string", "number", "integer", "boolean", "array", "object"]
    items: Literal["string", "number", "integer", "boolean"] | None = None
    enum: list[str] | None = None
    required: bool = True
    description: str | None = None


class Parser(_MappingLike):
    """How the model's text is read: as is, as one label out of a list, or as a JSON object."""

    type: Literal["text", "labels", "json"]
    labels: list[str] | None = None
    fields: list[JsonField] | None = None

    @model_validator(mode="after")
    def _shape(self) -> Parser:
        if self.type == "labels" and not self.labels:
            raise ValueError("a 'labels' parser needs a non-empty 'labels' list")
        if self.type == "json" and not self.fields:
            raise ValueError("a 'json' parser needs a non-empty 'fields' list")
        if self.type != "labels" and self.labels is not None:
            raise ValueError(f"'labels' only applies to parser type 'labels', not {self.type!r}")
        if self.type != "json" and self.fields is not None:
            raise ValueError(f"'fields' only applies to parser type 'json', not {self.type!r}")
        return self


class PromptVersion(_Strict):
    """One immutable version of a prompt, exactly as validated from its YAML file."""

    name: str = Field(pattern=NAME_PATTERN)
    version: int = Field(ge=1)
    description: str = Field(min_length=1)
    language: Literal["pt-BR", "en"]
    kind: Literal["text", "chat"]
    template_format: Literal["f-string", "mustache"] = "f-string"
    input_variables: list[str] = Field(min_length=1)
    template: str | None = None
    messages: list[Message] | None = None
    fewshot: FewShot | None = None
    generation: Generation = Field(default_factory=Generation)
    parser: Parser | None = None
    abstain_phrase: str | None = None
    changelog: str = Field(min_length=1)

    _path: Path | None = PrivateAttr(default=None)

    @field_validator("template_format", mode="before")
    @classmethod
    def _no_jinja(cls, value: Any) -> Any:
        if isinstance(value, str) and value.lower().startswith("jinja"):
            raise ValueError(
                "jinja2 templates are refused (they can run code when loaded from files); "
                "use 'f-string' or 'mustache'"
            )
        return value

    @field_validator("changelog")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if "\n" in value.strip():
            raise ValueError("must be one line saying what changed in this version")
        return value.strip()

    @field_validator("input_variables")
    @classmethod
    def _identifiers(cls, value: list[str]) -> list[str]:
        for var in value:
            if not var.isidentifier():
                raise ValueError(f"{var!r} is not a valid variable name (letters, digits and _ only)")
        if len(set(value)) != len(value):
            raise ValueError("lists a variable twice")
        return value

    @model_validator(mode="after")
    def _kind_shape(self) -> PromptVersion:
        if self.kind == "text":
            if self.template is None or self.messages is not None:
                raise ValueError("a 'text' prompt needs 'template' (a string) and no 'messages'")
            if self.fewshot is not None:
                raise ValueError("few-shot prompts must be kind 'chat' (examples become messages)")
        else:
            if not self.messages or self.template is not None:
                raise ValueError(
                    "a 'chat' prompt needs 'messages' (a list of role/content) and no 'template'"
                )
        return self

    # ---- derived values -------------------------------------------------------------------------------
    @property
    def ref(self) -> str:
        """``name@version``."""
        return f"{self.name}@{self.version}"

    @property
    def hash(self) -> str:
        """sha256 of the canonical content (formatting and comments of the YAML file do not count)."""
        return sha256_bytes(canonical_json(self.content()).encode("utf-8"))

    @property
    def content_hash(self) -> str:
        """sha256 of what the version renders and how it is read, ignoring name, version and prose.

        Two versions of one prompt with the same ``content_hash`` are duplicates."""
        body = {k: v for k, v in self.content().items() if k not in _BOOKKEEPING}
        return sha256_bytes(canonical_json(body).encode("utf-8"))

    @property
    def path(self) -> Path | None:
        return self._path

    def content(self) -> dict[str, Any]:
        """The validated content as plain data, defaults filled in, ``None`` values dropped."""
        return self.model_dump(mode="json", exclude_none=True)

    def templates(self) -> list[tuple[str, str]]:
        """Every template string with a label saying where it sits (for linting and diffs)."""
        out: list[tuple[str, str]] = []
        if self.template is not None:
            out.append(("template", self.template))
        for i, msg in enumerate(self.messages or []):
            out.append((f"messages[{i}].content", msg.content))
        return out


def _field_path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in ("function-after[_kind_shape()]",) or str(item).startswith(("function-", "literal[")):
            continue
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


def _fix_for(error: dict[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "remove it or check its spelling"
    if kind == "missing":
        return "add it"
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"use one of {expected}"
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return f"expected {kind.split('_')[0]}, got {type(error.get('input')).__name__}"
    if kind == "string_pattern_mismatch":
        return "use lowercase letters, digits and _"
    return ""


def format_pydantic_error(path: Path | str, exc: PydanticValidationError) -> str:
    """Rewrite a pydantic error into one line: ``file: field: problem (fix)``."""
    error = exc.errors()[0]
    field = _field_path(tuple(error["loc"]))
    msg = error["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    kind = error["type"]
    if kind == "extra_forbidden":
        msg = "unknown key"
    fix = _fix_for(error)
    more = len(exc.errors()) - 1
    tail = f" [+{more} more problem{'s' if more > 1 else ''}]" if more else ""
    return f"{path}: {field}: {msg}" + (f" ({fix})" if fix and fix not in msg else "") + tail


def parse_version(data: Any, path: Path) -> PromptVersion:
    """Validate loaded YAML data for the file ``path`` (``…/<name>/v<N>.yaml``)."""
    if not isinstance(data, dict):
        raise ValidationError(
            f"{path}: expected a mapping of keys (name, version, …), got {type(data).__name__}"
        )
    try:
        spec = PromptVersion.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationError(format_pydantic_error(path, exc)) from None
    folder, stem = path.parent.name, path.stem
    if spec.name != folder:
        raise ValidationError(
            f"{path}: name: is {spec.name!r} but the folder is {folder!r} (make them agree)"
        )
    if stem != f"v{spec.version}":
        raise ValidationError(
            f"{path}: version: is {spec.version} but the file is {path.name} "
            f"(rename it to v{spec.version}.yaml)"
        )
    spec._path = path
    return spec
