"""The decoder's one dependency on transformers' cache internals: the installed release passes the layout
check, and a release whose cache is laid out otherwise is refused with one clear error."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from promptkit.errors import MissingDependencyError  # noqa: E402
from promptkit.llm.decoding import kv  # noqa: E402


def test_the_installed_transformers_has_the_cache_layout_the_decoder_uses():
    kv.check_compatible()


def test_a_cache_without_row_operations_is_refused(monkeypatch):
    import transformers  # the module object the check imports (other tests may have replaced it)

    class NoCrop(transformers.DynamicCache):
        crop = None

    monkeypatch.setattr(transformers, "DynamicCache", NoCrop)
    with pytest.raises(MissingDependencyError, match=r"DynamicCache\.crop is missing") as info:
        kv.check_compatible()
    assert "transformers>=5,<6" in info.value.hint


def test_a_cache_that_cannot_be_built_is_refused(monkeypatch):
    class Broken:
        def __init__(self, *args, **kwargs):
            raise TypeError("new signature")

    monkeypatch.setattr("transformers.DynamicCache", Broken)
    with pytest.raises(MissingDependencyError, match="building a cache failed"):
        kv.check_compatible()
