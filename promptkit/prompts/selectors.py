"""Deterministic versions of LangChain's vector-store example selectors (imported only when needed)."""

from __future__ import annotations

from typing import Any

from langchain_core.example_selectors import (
    MaxMarginalRelevanceExampleSelector,
    SemanticSimilarityExampleSelector,
)
from pydantic import PrivateAttr

from promptkit.prompts.fewshot import choose

# selections remembered per selector (a chain selects once to record the ids and once more to render the prompt)
MEMO_SIZE = 4096


class _Memo:
    """The last selections by query text (the selection is deterministic, so a repeat is a lookup)."""

    def __init__(self) -> None:
        self.found: dict[str, list[dict[str, Any]]] = {}

    def get(self, query: str, select: Any) -> list[dict[str, Any]]:
        hit = self.found.get(query)
        if hit is None:
            hit = select(query)
            if len(self.found) >= MEMO_SIZE:
                self.found.pop(next(iter(self.found)))
            self.found[query] = hit
        return [dict(e) for e in hit]


def _ranked(selector: Any, query: str) -> list[dict[str, Any]]:
    """The whole pool, nearest first, ties broken by example id."""
    pairs = selector.vectorstore.similarity_search_with_score(query, k=selector.pool_size)
    pairs.sort(key=lambda p: (round(float(p[1]), 6), str(p[0].metadata["id"])))
    return [dict(doc.metadata) for doc, _ in pairs]


class StableSimilaritySelector(SemanticSimilarityExampleSelector):
    """The ``k`` nearest examples (ties by id), then the ``cover`` rule."""

    pool_size: int
    cover: dict[str, list[str]] | None = None
    _memo: _Memo = PrivateAttr(default_factory=_Memo)

    def select_examples(self, input_variables: dict[str, str]) -> list[dict[str, Any]]:
        query = self._example_to_text(input_variables, self.input_keys)
        return self._memo.get(query, lambda q: choose(_ranked(self, q), self.k, self.cover))

    async def aselect_examples(self, input_variables: dict[str, str]) -> list[dict[str, Any]]:
        return self.select_examples(input_variables)


class StableMMRSelector(MaxMarginalRelevanceExampleSelector):
    """Maximal marginal relevance over the ``fetch_k`` nearest examples, then the ``cover`` rule (candidates
    for it come from the similarity ranking)."""

    pool_size: int
    cover: dict[str, list[str]] | None = None
    _memo: _Memo = PrivateAttr(default_factory=_Memo)

    def select_examples(self, input_variables: dict[str, str]) -> list[dict[str, Any]]:
        query = self._example_to_text(input_variables, self.input_keys)
        return self._memo.get(query, self._select)

    def _select(self, query: str) -> list[dict[str, Any]]:
        picked = self.vectorstore.max_marginal_relevance_search(query, k=self.k, fetch_k=self.fetch_k)
        first = [dict(doc.metadata) for doc in picked]
        ids = {e["id"] for e in first}
        rest = [e for e in _ranked(self, query) if e["id"] not in ids]
        return choose(first + rest, self.k, self.cover)

    async def aselect_examples(self, input_variables: dict[str, str]) -> list[dict[str, Any]]:
        return self.select_examples(input_variables)
