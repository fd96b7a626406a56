"""Input size limits of the chains, checked before anything reaches a model.

* A question (QA and RAG chains) may hold at most :data:`MAX_QUESTION_CHARS` characters. Course questions
  are a sentence or two; a longer "question" is almost always a pasted document or an attack, and it would
  crowd the retrieved context out of the model's window. Put long material in ``context`` instead.
* A text to classify or moderate may hold at most :data:`MAX_TEXT_CHARS` characters (a few pages).

Over the limit, the chain raises :class:`~promptkit.errors.ValidationError` saying the size, the limit and the
fix; nothing is truncated silently. Contexts and documents have no character limit: they are fitted to the
model's context window by token count (reading and RAG chains truncate and record it in ``truncated``;
summaries go through map-reduce).
"""

from __future__ import annotations

from promptkit.errors import ValidationError

MAX_QUESTION_CHARS = 2_000
MAX_TEXT_CHARS = 8_000


def check_question(question: str) -> str:
    """Return ``question`` unchanged, or refuse it when it is longer than :data:`MAX_QUESTION_CHARS`."""
    if len(question) > MAX_QUESTION_CHARS:
        raise ValidationError(
            f"the question has {len(question):,} characters, over the limit of {MAX_QUESTION_CHARS:,}",
            hint="ask a shorter question and pass long material as the context",
        )
    return question


def check_text(text: str, what: str = "text") -> str:
    """Return ``text`` unchanged, or refuse it when it is longer than :data:`MAX_TEXT_CHARS`."""
    if len(text) > MAX_TEXT_CHARS:
        raise ValidationError(
            f"the {what} has {len(text):,} characters, over the limit of {MAX_TEXT_CHARS:,}",
            hint="split it into shorter pieces (or summarise it first)",
        )
    return text
