"""Which weights a bf16 load reads: the converted folder's bf16 copy (added once to older folders), else float32."""

from __future__ import annotations

import hashlib
import importlib
import json
from pathlib import Path

import pytest

from promptkit.errors import IntegrityError
from promptkit.weights import assemble, catalog
from promptkit.llm.runtime import Resolved
from promptkit.weights.catalog import ModelEntry

def weights_source(entry: ModelEntry | None, source: str, dtype: str) -> str:
    """Where a load of ``source`` in ``dtype`` reads its weights from."""
    if entry is None:
        return Resolved(source, source, "", True, False).weights(source, dtype)
    return Resolved(entry.name, entry.name, "", True, True).weights(source, dtype)


PARTS = [b"GGUF" + bytes(range(256)), b"second-chunk" * 7]


@pytest.fixture
def entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModelEntry:
    site = tmp_path / "site"
    for i, data in enumerate(PARTS, start=1):
        pkg = site / f"pk_perf_model_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("raise RuntimeError('never imported')\n")
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(data)
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    whole = b"".join(PARTS)
    e = ModelEntry(name="perf-llm", kind="llm", description="test", upstream="x/y", license="MIT",
                   packages=tuple(f"pk-perf-model-part{i}==0.1.0" for i in (1, 2)), size=len(whole),
                   sha256=hashlib.sha256(whole).hexdigest())
    monkeypatch.setitem(catalog.CATALOG, e.name, e)
    return e


def _fp32_only(gguf: Path, out_dir: Path) -> None:
    """What conversion wrote before the bf16 copy existed."""
    (out_dir / "config.json").write_text('{"model_type": "fake"}')
    (out_dir / "model.safetensors").write_bytes(b"f" * 64)


def _with_bf16(gguf: Path, out_dir: Path) -> None:
    _fp32_only(gguf, out_dir)
    (out_dir / assemble.BF16_DIR).mkdir()
    (out_dir / assemble.BF16_DIR / "config.json").write_text('{"model_type": "fake", "dtype": "bfloat16"}')
    (out_dir / assemble.BF16_DIR / "model.safetensors").write_bytes(b"h" * 32)


@pytest.fixture
def copies(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Replace the transformers downcast by a tiny fake; records each folder it was asked to derive from."""
    seen: list[Path] = []

    def fake_copy(folder: Path, out_dir: Path) -> None:
        seen.append(folder)
        (out_dir / "config.json").write_text('{"model_type": "fake", "dtype": "bfloat16"}')
        (out_dir / "model.safetensors").write_bytes(b"h" * 32)

    monkeypatch.setattr(assemble, "write_bf16_copy", fake_copy)
    return seen


def test_a_fresh_conversion_records_the_bf16_copy_in_the_manifest(entry, monkeypatch, copies):
    monkeypatch.setattr(assemble, "convert_gguf", _with_bf16)
    folder = assemble.pull(entry, progress=False)
    manifest = assemble.read_manifest(folder)
    assert manifest["variants"] == {"bf16": "bf16"}
    assert {"bf16/model.safetensors", "bf16/config.json", "model.safetensors"} <= set(manifest["files"])
    assert weights_source(entry, str(folder), "bf16") == str(folder / "bf16")
    assert copies == [], "nothing to upgrade"


def test_the_float32_file_serves_fp32_and_int8(entry, monkeypatch, copies):
    monkeypatch.setattr(assemble, "convert_gguf", _with_bf16)
    folder = assemble.pull(entry, progress=False)
    assert weights_source(entry, str(folder), "fp32") == str(folder)
    assert weights_source(None, "/some/local/folder", "bf16") == "/some/local/folder"


def test_an_older_folder_is_upgraded_once_with_a_message(entry, monkeypatch, copies, capsys):
    monkeypatch.setattr(assemble, "convert_gguf", _fp32_only)
    folder = assemble.pull(entry, progress=False)
    assert "variants" not in assemble.read_manifest(folder)
    assert weights_source(entry, str(folder), "bf16") == str(folder / "bf16")
    assert "adding a bf16 copy" in capsys.readouterr().err
    manifest = assemble.read_manifest(folder)
    assert manifest["variants"] == {"bf16": "bf16"} and "bf16/model.safetensors" in manifest["files"]
    assert weights_source(entry, str(folder), "bf16") == str(folder / "bf16")
    assert copies == [folder], "the copy is made once"
    assemble.check_folder(entry, folder, full=True)
    assert not list(folder.glob(".bf16.tmp-*"))


def test_a_tampered_bf16_copy_is_refused(entry, monkeypatch, copies):
    monkeypatch.setattr(assemble, "convert_gguf", _with_bf16)
    folder = assemble.pull(entry, progress=False)
    (folder / "bf16" / "model.safetensors").write_bytes(b"x" * 32)
    with pytest.raises(IntegrityError, match="bf16/model.safetensors"):
        assemble.check_folder(entry, folder)


def test_an_unwritable_folder_falls_back_to_float32(entry, monkeypatch, capsys):
    monkeypatch.setattr(assemble, "convert_gguf", _fp32_only)
    folder = assemble.pull(entry, progress=False)

    def denied(folder: Path, out_dir: Path) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(assemble, "write_bf16_copy", denied)
    assert weights_source(entry, str(folder), "bf16") == str(folder)
    assert "loading the float32 weights instead" in capsys.readouterr().err
    assert "variants" not in assemble.read_manifest(folder)


@pytest.mark.parametrize("name", ["../model.safetensors", "/etc/passwd", "other/model.safetensors",
                                  "bf16/../../x", "bf16/a/b"])
def test_manifest_names_outside_the_folder_are_refused(entry, monkeypatch, name):
    monkeypatch.setattr(assemble, "convert_gguf", _with_bf16)
    folder = assemble.pull(entry, progress=False)
    data = json.loads((folder / assemble.MANIFEST).read_text())
    data["files"][name] = {"size": 1, "sha256": "0" * 64}
    (folder / assemble.MANIFEST).write_text(json.dumps(data))
    with pytest.raises(IntegrityError, match="not a promptkit manifest"):
        assemble.read_manifest(folder)
