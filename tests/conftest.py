"""Shared fixtures. Unit tests get a private PROMPTKIT_HOME; `model`-marked tests use the real one so the
converted default model is reused between runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Captured at import, before the autouse fixture gives each test a private PROMPTKIT_HOME.
REAL_HOME = os.environ.get("PROMPTKIT_HOME")


@pytest.fixture(autouse=True)
def _isolated_home(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, monkeypatch):
    if request.node.get_closest_marker("model") is None:
        monkeypatch.setenv("PROMPTKIT_HOME", str(tmp_path_factory.mktemp("home")))
    monkeypatch.setenv("PROMPTKIT_PROJECT", str(REPO))
    yield


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def tokenizer_home(monkeypatch):
    """The real cache folder (for the converted model's tokenizer), pulling the model once if needed: strict
    replays render chat templates but never load weights."""
    if REAL_HOME:
        monkeypatch.setenv("PROMPTKIT_HOME", REAL_HOME)
    else:
        monkeypatch.delenv("PROMPTKIT_HOME", raising=False)
    from promptkit.weights import DEFAULT_LLM, pull

    pull(DEFAULT_LLM, progress=False)  # a no-op once converted; weights are not loaded here


@pytest.fixture
def weights_loaded():
    """Whether any local model's weights are loaded in this process (a callable)."""

    def loaded() -> bool:
        from promptkit.llm.runtime import _BACKENDS

        return bool(_BACKENDS)

    return loaded


@pytest.fixture
def fake_llm():
    from promptkit.testing import FakeChatModel

    return FakeChatModel()


@pytest.fixture
def fake_embeddings():
    from promptkit.testing import FakeEmbeddings

    return FakeEmbeddings()


@pytest.fixture(scope="session")
def tiny_model():
    """A small random Qwen2 in float32, built offline, for the greedy-decoding and prefill tests."""
    from tiny_qwen_support import tiny_qwen

    return tiny_qwen()
