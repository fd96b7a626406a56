"""Deterministic versions of LangChain's vector-store example selectors (imported only when needed).

:func:`choose` is the ``cover`` rule both selectors apply to their ranking. The module sits below
:mod:`promptkit.prompts.fewshot`, which builds these selectors, and imports nothing from it.
"""

from __future__ import annotations

from typing import Any

from langchain_core.example_selectors import (
    MaxMarginalRelevanceExampleSelector,
    SemanticSimilarityExampleSelector,
)
from pydantic import PrivateAttr

# selections remembered per selector (a chain selects once to record the ids and once more to render the prompt)
MEMO_SIZE = 4096


def choose(ranked: list[dict[str, Any]], k: int, cover: dict[str, list[str]] | None) -> list[dict[str, Any]]:
    """The first ``k`` of ``ranked``, swapping the lowest-ranked ones for the best candidates that carry each
    value listed in ``cover`` when no chosen example carries it. Keeps ranking order."""
    position = {e["id"]: i for i, e in enumerate(ranked)}
    chosen = list(ranked[:k])
    required = [(f, v) for f, values in (cover or {}).items() for v in values]

    def carries(example: dict[str, Any], field: str, value: str) -> bool:
        return str(example.get(field)) == value

    for field, value in required:
        if any(carries(e, field, value) for e in chosen):
            continue
        ids = {e["id"] for e in chosen}
        candidate = next((e for e in ranked if e["id"] not in ids and carries(e, field, value)), None)
        if candidate is None:
            continue
        for victim in reversed(chosen):
            if all(
                not carries(victim, f, v) or sum(carries(e, f, v) for e in chosen) > 1 for f, v in required
            ):
                chosen.remove(victim)
                chosen.append(candidate)
                break
    return sorted(chosen, key=lambda e: position[e["id"]])


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
