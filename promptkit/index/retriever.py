"""The course index as a LangChain ``BaseRetriever``, in any mode of :data:`~promptkit.index.modes.MODES`."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables.config import run_in_executor
from pydantic import ConfigDict, Field, field_validator

from promptkit.errors import ValidationError, unknown
from promptkit.index.modes import DEFAULT_MODE, MODES

# the search settings a call may override: retriever.invoke(question, k=1, mode="bm25", filter={...})
SEARCH_KWARGS = ("k", "mode", "mmr", "fetch_k", "lambda_mult", "filter")


class CourseRetriever(BaseRetriever):
    """Retrieves chunks from a :class:`~promptkit.index.course_index.CourseIndex`.

    Every field in :data:`SEARCH_KWARGS` is a default that one call can override as a keyword argument of
    ``invoke``/``ainvoke``, the way LangChain's retrievers take ``k``. ``filter`` is a dict of metadata values
    or a predicate on a ``Document`` (see :meth:`CourseIndex.allowed`).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: Any  # CourseIndex (Any keeps pydantic from inspecting it)
    mode: str = DEFAULT_MODE
    k: int = Field(default=4, ge=1)
    mmr: bool = False
    fetch_k: int = Field(default=20, ge=1)
    lambda_mult: float = Field(default=0.5, ge=0.0, le=1.0)
    filter: Any = None

    @field_validator("mode")
    @classmethod
    def _known_mode(cls, mode: str) -> str:
        if mode not in MODES:
            raise unknown("search mode", mode, MODES)
        return mode

    def _search_settings(self, overrides: dict[str, Any]) -> dict[str, Any]:
        overrides.pop("verbose", None)  # LangChain's callback switch comes with the call's keyword arguments
        extra = sorted(set(overrides) - set(SEARCH_KWARGS))
        if extra:
            raise ValidationError(
                f"unknown retriever argument(s) {', '.join(extra)}; accepted: {', '.join(SEARCH_KWARGS)}"
            )
        return {name: getattr(self, name) for name in SEARCH_KWARGS} | overrides

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun | None = None, **kwargs: Any
    ) -> list[Document]:
        return self.index.search(query, **self._search_settings(kwargs))

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun | None = None, **kwargs: Any
    ) -> list[Document]:
        settings = self._search_settings(kwargs)
        return await run_in_executor(None, lambda: self.index.search(query, **settings))
