"""Shared fixtures. Unit tests get a private PROMPTKIT_HOME; `model`-marked tests use the real one so the
converted default model is reused between runs."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


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
