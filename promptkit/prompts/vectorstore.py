"""The one place that imports LangChain's FAISS vector store (from ``langchain_community``).

``langchain_community`` warns on import that it is being phased out; the warning is filtered here, where it is
raised, so users do not see it. Swapping the store for another implementation means editing only this module.
"""

from __future__ import annotations

import warnings
from typing import Any


def faiss_class() -> Any:
    """``langchain_community.vectorstores.FAISS``, imported quietly."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        try:
            from langchain_community.vectorstores import FAISS
        except ImportError as exc:  # pragma: no cover - both are declared dependencies
            from promptkit.errors import MissingDependencyError

            raise MissingDependencyError(
                f"few-shot similarity selection needs langchain-community and faiss-cpu ({exc})",
                hint="pip install langchain-community faiss-cpu",
            ) from None
    return FAISS
