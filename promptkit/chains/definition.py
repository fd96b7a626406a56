"""The strict schema of a chain definition (``chains/<name>.yaml``) and how definitions are found.

A definition names its parts by reference (a prompt ref, a model name with generation settings, retriever
settings, an optional moderation guard); it holds no code. Validation problems become one line naming the file,
the field and what was expected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from promptkit import paths
from promptkit.chains.answer_steps import DEFAULT_STEPS, parse_steps
from promptkit.errors import PromptkitError, ValidationError, unknown
from promptkit.index.modes import DEFAULT_MODE, MODES

KINDS = ("zero_shot", "few_shot", "summarize", "rag", "moderation", "tutor")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSettings(_Strict):
    """Which model runs the chain and how it generates (unset values fall back to the prompt's, then the model's)."""

    name: str | None = Field(
        default=None, description="catalogue name, local folder or hub id; default model if unset"
    )
    max_new_tokens: int | None = Field(default=None, ge=1, le=4096)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    seed: int | None = None
    stop: list[str] | None = None
    batch_size: int | None = Field(default=None, ge=1, le=256)
    dtype: Literal["bf16", "fp32"] | None = None
    threads: int | None = Field(default=None, ge=1)
    draft_tokens: int | None = Field(
        default=None, ge=0, le=32,
        description="greedy decoding: tokens drafted per step from the prompt and verified at once (0: off)",
    )
    prefix_cache: bool | None = Field(default=None, description="reuse the shared prompt prefix's key/value states")
    timeout: float | None = Field(default=None, gt=0, description="seconds a model call may take")

    GENERATION: ClassVar[tuple[str, ...]] = ("max_new_tokens", "temperature", "top_p", "seed", "stop")
    LOADING: ClassVar[tuple[str, ...]] = ("batch_size", "dtype", "threads", "draft_tokens", "prefix_cache", "timeout")

    def generation(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.GENERATION if getattr(self, k) is not None}

    def loading(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.LOADING if getattr(self, k) is not None}


class RetrieverSettings(_Strict):
    """How a RAG chain retrieves and how much retrieved text it may give the model."""

    mode: Literal[MODES] = DEFAULT_MODE  # type: ignore[valid-type] - the index's modes
    k: int = Field(default=4, ge=1, le=50)
    max_context_tokens: int = Field(
        default=1200, ge=32, description="token budget for the retrieved documents"
    )
    order: Literal["rank", "best_last"] = Field(
        default="rank",
        description="rank: best document first; best_last: best document last, nearest the question",
    )


class SummarizeSettings(_Strict):
    """Length and language controls and the map-reduce switch of a summarisation chain."""

    max_words: int = Field(default=80, ge=5, le=1000)
    language: Literal["pt-BR", "en"] = "pt-BR"
    max_input_tokens: int | None = Field(
        default=None,
        ge=64,
        description="texts longer than this (or than the model's context window) go through map-reduce",
    )
    chunk_tokens: int = Field(default=700, ge=32)
    chunk_overlap: int = Field(default=60, ge=0)
    map_prompt: str | None = Field(
        default=None, description="prompt ref summarising one chunk (default: prompt)"
    )
    reduce_prompt: str | None = Field(
        default=None, description="prompt ref joining partial summaries (default: prompt)"
    )
    max_rounds: int = Field(
        default=3, ge=1, le=6, description="map rounds before the partial summaries must fit"
    )

    @model_validator(mode="after")
    def _overlap(self) -> SummarizeSettings:
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError("chunk_overlap must be smaller than chunk_tokens")
        return self


class ModerationSettings(_Strict):
    """Which layers a moderation chain runs and how it combines them."""

    layers: Literal["combined", "rules", "llm"] = "combined"
    policy: Literal["any", "confirm"] = Field(
        default="confirm",
        description="any: unsafe if rules are high-confidence or the LLM flags; confirm: the LLM needs a rule hit",
    )
    threshold: float | None = Field(
        default=None,
        description="for a yes/no scoring prompt: the score at or above which the LLM flags the text "
        "(default: promptkit.moderation.scoring.DEFAULT_THRESHOLD)",
    )


class TutorSettings(_Strict):
    """How the course tutor decides to answer, checks its sentences and declines (measured on the dev split of
    ``eval/datasets/tutor_questions.jsonl``; see ``eval/tutor_experiments.md``)."""

    min_coverage: float = Field(
        default=0.5, ge=0.0, le=1.0,
        description="share of a Portuguese question's content words the retrieved chunks must contain; below "
        "it the course does not cover the question and the tutor declines without calling the model",
    )
    support: float = Field(
        default=0.6, ge=0.0, le=1.0,
        description="share of an answer sentence's content words its source must contain (every number too)",
    )
    answer: Literal["model", "sources"] = Field(
        default="sources",
        description="model: show the model's supported sentences; sources: show, for each sentence the model "
        "writes, the source sentence that says it best",
    )
    point_support: float = Field(
        default=0.5, ge=0.0, le=1.0,
        description="answer: sources; share of a model sentence's content words a source must contain for the "
        "sentence to point to the sources (a question the course does not cover points to nothing: decline)",
    )
    max_sentences: int = Field(default=4, ge=1, le=8, description="sentences the answer keeps at most")
    model_sentences: int | None = Field(
        default=None, ge=1, le=8,
        description="answer: sources; read at most this many sentences of the model's answer (streaming stops "
        "the model there, which saves its time; None reads them all)",
    )
    fill: int = Field(
        default=3, ge=0, le=8,
        description="sentences the answer is filled up to with the source sentences that best match the "
        "question and the model's answer (0: none)",
    )
    drop_instructions: bool = Field(
        default=True, description="leave out of the prompt retrieved chunks that give orders to the assistant"
    )


class ChainDefinition(_Strict):
    """One chain, as validated from its YAML file."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: Literal["zero_shot", "few_shot", "summarize", "rag", "moderation", "tutor"]
    description: str = Field(min_length=1)
    task: Literal["qa", "classify"] | None = Field(default=None, description="for zero_shot/few_shot chains")
    prompt: str = Field(min_length=1, description="prompt ref: name, name@3 or name@production")
    model: ModelSettings = Field(default_factory=ModelSettings)
    retriever: RetrieverSettings | None = None
    postprocess: list[str | dict[str, float]] = Field(
        default_factory=lambda: list(DEFAULT_STEPS),
        description="QA chains: the ordered post-processing steps (promptkit.chains.answer_steps)",
    )
    summarize: SummarizeSettings | None = None
    moderation: ModerationSettings | None = None
    tutor: TutorSettings | None = None
    guard: str | None = Field(default=None, description="name of a moderation chain run around this one")
    guard_output: bool = Field(default=True, description="also check the answer with the guard")
    cross_check: str | None = Field(
        default=None,
        description="QA chains: prompt ref of a second prompt that answers from the same context; the chain "
        "abstains unless both prompts answer (each after the same post-processing)",
    )

    @field_validator("postprocess")
    @classmethod
    def _steps(cls, value: list[Any]) -> list[Any]:
        try:
            return [step.describe() for step in parse_steps(value)]
        except PromptkitError as exc:
            raise ValueError(exc.message) from None

    @model_validator(mode="after")
    def _shape(self) -> ChainDefinition:
        if self.kind in ("zero_shot", "few_shot") and self.task is None:
            raise ValueError(f"a {self.kind} chain needs 'task: qa' or 'task: classify'")
        if self.kind not in ("zero_shot", "few_shot") and self.task is not None:
            raise ValueError(f"'task' only applies to zero_shot/few_shot chains, not {self.kind!r}")
        if self.retriever is not None and self.kind not in ("rag", "tutor"):
            raise ValueError("'retriever' only applies to rag and tutor chains")
        if self.tutor is not None and self.kind != "tutor":
            raise ValueError("'tutor' only applies to tutor chains")
        if self.summarize is not None and self.kind != "summarize":
            raise ValueError("'summarize' only applies to summarize chains")
        if self.moderation is not None and self.kind != "moderation":
            raise ValueError("'moderation' only applies to moderation chains")
        if self.kind == "moderation" and self.guard is not None:
            raise ValueError("a moderation chain cannot have a guard")
        if self.cross_check is not None and not (self.kind == "rag" or self.task == "qa"):
            raise ValueError("'cross_check' only applies to question-answering chains (rag, or task: qa)")
        return self

    @property
    def retriever_settings(self) -> RetrieverSettings:
        return self.retriever or RetrieverSettings()

    @property
    def summarize_settings(self) -> SummarizeSettings:
        return self.summarize or SummarizeSettings()

    @property
    def moderation_settings(self) -> ModerationSettings:
        return self.moderation or ModerationSettings()

    @property
    def tutor_settings(self) -> TutorSettings:
        return self.tutor or TutorSettings()


def _one_line(exc: PydanticValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "(top level)"
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown field (check the spelling)"
    elif err["type"] == "missing":
        msg = "required field is missing"
    more = f" (+{len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{where}: {msg}{more}"


def parse_definition(data: Any, *, source: str = "<dict>") -> ChainDefinition:
    """Validate a mapping as a chain definition, raising one readable line on failure."""
    if not isinstance(data, dict):
        raise ValidationError(f"chain definition {source} must be a YAML mapping, got {type(data).__name__}")
    try:
        return ChainDefinition.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationError(f"invalid chain definition {source}: {_one_line(exc)}") from None


def read_definition(path: str | Path) -> ChainDefinition:
    """Load and validate one ``chains/*.yaml`` file."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValidationError(f"chain definition {p} does not exist") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ValidationError(f"chain definition {p} is not valid YAML{where}") from None
    definition = parse_definition(data, source=str(p))
    if definition.name != p.stem:
        raise ValidationError(
            f"chain definition {p} declares name {definition.name!r}; the file must be named {definition.name}.yaml"
        )
    return definition


def _definition_dirs() -> list[Path]:
    dirs = [paths.chains_dir(), paths.shipped_root() / "chains"]
    out: list[Path] = []
    for d in dirs:
        if d.is_dir() and d.resolve() not in [o.resolve() for o in out]:
            out.append(d)
    return out


def list_chains() -> list[str]:
    """Names of the available chain definitions (project first, then the shipped ones)."""
    names: set[str] = set()
    for d in _definition_dirs():
        names.update(p.stem for p in d.glob("*.yaml") if not p.name.startswith("_"))
    return sorted(names)


def find_definition(name: str) -> Path:
    """The file of a chain definition, by name or path."""
    candidate = Path(name)
    if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
        return candidate
    for d in _definition_dirs():
        p = d / f"{name}.yaml"
        if p.is_file():
            return p
    raise unknown("chain", name, list_chains())


def get_definition(name: str) -> ChainDefinition:
    """The validated definition of a chain, by name or path."""
    return read_definition(find_definition(name))
