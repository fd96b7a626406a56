"""LangChain's standard cache suites (sync and async) for promptkit's replay cache."""

from __future__ import annotations

import pytest
from langchain_core.caches import BaseCache
from langchain_tests.integration_tests.cache import AsyncCacheTestSuite, SyncCacheTestSuite

from promptkit.cache import ReplayCache


class TestReplayCache(SyncCacheTestSuite):
    @pytest.fixture
    def cache(self, tmp_path) -> BaseCache:
        return ReplayCache(tmp_path / "replay.sqlite")


class TestReplayCacheAsync(AsyncCacheTestSuite):
    @pytest.fixture
    async def cache(self, tmp_path) -> BaseCache:
        return ReplayCache(tmp_path / "replay.sqlite")
