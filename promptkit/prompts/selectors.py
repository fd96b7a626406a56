"""Deterministic versions of LangChain's vector-store example selectors (imported only when needed)."""

from __future__ import annotations

from typing import Any

from langchain_core.example_selectors import (
    MaxMarginalRelevanceExampleSelector,
    SemanticSimilarityExampleSelector,
)

from promptkit.prompts.fewshot import choose


def _ranked(selector: Any, query: str) -> list[dict[str, Any]]:
    """The whole pool, nearest first, ties broken by example id."""
    pairs = selector.vectorstore.similarity_search_with_score(query, k=selector.pool_size)
    pairs.sort(key=lambda p: (round(float(p[1]), 6), str(p[0].metadata["id"])))
    return [dict(doc.metadata) for doc, _ in pairs]


class StableSimilaritySelector(SemanticSimilarityExampleSelector):
    """The ``k`` nearest examples (ties by id), then the ``cover`` rule."""

    pool_size: int
    cover: dict[str, list[str]] | None = None

    def select_examples(self, input_variables: dict[str, str]) -> list[dict[str, Any]]:
        query = self._example_to_text(input_variables, self.input_keys)
        return choose(_ranked(self, query), self.k, self.cover)

    async def aselect_examples(self, input_variables: dict[str, str]) -> list[dict[str, Any]]:
        return self.select_examples(input_variables)


class StableMMRSelector(MaxMarginalRelevanceExampleSelector):
    """Maximal marginal relevance over the ``fetch_k`` nearest examples, then the ``cover`` rule (candidates
    for it come from the similarity ranking)."""

    pool_size: int
    cover: dict[str, list[str]] | None = None

    def select_examples(self, input_variables: dict[str, str]) -> list[dict[str, Any]]:
        query = self._example_to_text(input_variables, self.input_keys)
        picked = self.vectorstore.max_marginal_relevance_search(query, k=self.k, fetch_k=self.fetch_k)
        first = [dict(doc.metadata) for doc in picked]
        ids = {e["id"] for e in first}
        rest = [e for e in _ranked(self, query) if e["id"] not in ids]
        return choose(first + rest, self.k, self.cover)

    async def aselect_examples(self, input_variables: dict[str, str]) -> list[dict[str, Any]]:
        return self.select_examples(input_variables)
