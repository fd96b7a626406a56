"""pytest plugin for prompt regression tests (registered through the ``pytest11`` entry point)."""

from __future__ import annotations


def pytest_configure(config) -> None:  # type: ignore[no-untyped-def]
    config.addinivalue_line("markers", "model: loads the real default model (slow)")
