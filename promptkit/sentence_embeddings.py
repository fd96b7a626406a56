"""The embeddings model class: LangChain's ``HuggingFaceEmbeddings`` that also names the model behind its
vectors.

Kept apart from :mod:`promptkit.embeddings` so that importing the loader (which every chain and evaluation
does) does not import ``langchain_huggingface``; the class loads with the first model.
"""

from __future__ import annotations

from langchain_huggingface import HuggingFaceEmbeddings


class LocalEmbeddings(HuggingFaceEmbeddings):
    """``HuggingFaceEmbeddings`` that also says which model produced the vectors (``model_id``)."""

    model_id: str = ""
