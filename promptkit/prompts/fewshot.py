"""Few-shot example selection over a pool: fixed, by similarity, or by maximal marginal relevance.

This module builds the selector a prompt version asks for: the examples of a ``fixed`` selector, or one of the
deterministic LangChain selectors of :mod:`promptkit.prompts.selectors` over a FAISS store of the pool (ranked
by distance rounded to 6 decimals, ties broken by example id, then the ``cover`` rule that guarantees given
values, such as an abstention answer or each label, appear among the chosen examples).
LangChain is imported only when a selector is built; :mod:`~promptkit.prompts.selectors` never imports this
module back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from promptkit.prompts.pools import load_pool, pool_sha256
from promptkit.prompts.schema import FewShot, PromptVersion

# (pool sha256, embeddings model id, id(embeddings), input keys) -> (embeddings, FAISS store)
_STORES: dict[tuple[str, str, int, tuple[str, ...]], tuple[Any, Any]] = {}


def _query_keys(spec: PromptVersion) -> list[str]:
    fs = spec.fewshot
    assert fs is not None
    return list(fs.input_keys or spec.input_variables)


_DEFAULT_EMBEDDINGS: list[Any] = []


def _default_embeddings() -> Any:
    """The default embeddings behind the on-disk query cache, one per process: a run whose questions and pool
    were embedded before selects its examples without loading the embedding model (or torch)."""
    if not _DEFAULT_EMBEDDINGS:
        from promptkit.embeddings import default_embeddings

        _DEFAULT_EMBEDDINGS.append(default_embeddings(cache_documents=True))
    return _DEFAULT_EMBEDDINGS[0]


def _store(rows: list[dict[str, Any]], sha: str, keys: list[str], embeddings: Any) -> Any:
    model_id = str(getattr(embeddings, "model_id", type(embeddings).__name__))
    cache_key = (sha, model_id, id(embeddings), tuple(keys))
    hit = _STORES.get(cache_key)
    if hit is not None:
        return hit[1]
    from langchain_core.example_selectors import SemanticSimilarityExampleSelector

    from promptkit.prompts.vectorstore import faiss_class

    ordered = sorted(rows, key=lambda r: r["id"])  # insertion order by id: ties resolve the same way
    texts = [SemanticSimilarityExampleSelector._example_to_text(r, keys) for r in ordered]
    store = faiss_class().from_texts(texts, embeddings, metadatas=ordered)
    _STORES[cache_key] = (embeddings, store)
    return store


def build_selector(spec: PromptVersion, prompts_root: Path, embeddings: Any = None) -> Any:
    """A LangChain example selector for a similarity/MMR few-shot version (``None`` for ``fixed``)."""
    fs = spec.fewshot
    assert fs is not None
    if fs.selector == "fixed":
        return None
    from promptkit.prompts.selectors import StableMMRSelector, StableSimilaritySelector

    path = prompts_root / fs.pool
    rows = load_pool(path)
    keys = _query_keys(spec)
    store = _store(
        rows, pool_sha256(path), keys, embeddings if embeddings is not None else _default_embeddings()
    )
    common = {"vectorstore": store, "k": fs.k, "input_keys": keys, "pool_size": len(rows), "cover": fs.cover}
    if fs.selector == "mmr":
        return StableMMRSelector(fetch_k=min(fs.fetch_k, len(rows)), **common)
    return StableSimilaritySelector(**common)


def fixed_examples(fs: FewShot, prompts_root: Path) -> list[dict[str, Any]]:
    """The examples of a ``fixed`` selector: the listed ids in order, else the first ``k`` of the pool."""
    rows = load_pool(prompts_root / fs.pool)
    if fs.ids:
        by_id = {r["id"]: r for r in rows}
        return [by_id[i] for i in fs.ids]
    return rows[: fs.k]
