"""The retrieval modes of the course index: the one list that CLI options and chain settings choose from.

* ``dense``: FAISS inner product over normalised embeddings (cosine similarity);
* ``bm25``: the Portuguese-aware BM25 of :mod:`promptkit.index.lexical`;
* ``hybrid``: weighted reciprocal rank fusion of the two rankings (the default);
* ``mmr``: the ``fetch_k`` best hybrid candidates re-ranked by maximal marginal relevance: relevance is the
  hybrid score, redundancy the cosine similarity of the chunk embeddings, so chunks that repeat what is
  already picked (overlapping windows of one section, the same point in two files) give way to chunks that
  add something; ``lambda_mult`` weighs relevance (1: the hybrid order) against diversity (0).

This module imports nothing, so the command line can offer the modes without loading the index code.
"""

from __future__ import annotations

MODES: tuple[str, ...] = ("dense", "bm25", "hybrid", "mmr")
DEFAULT_MODE = "hybrid"
