"""The chains' input size limits (defined in :mod:`promptkit.limits`, which imports nothing heavy)."""

from promptkit.limits import MAX_QUESTION_CHARS, MAX_TEXT_CHARS, check_question, check_text

__all__ = ["MAX_QUESTION_CHARS", "MAX_TEXT_CHARS", "check_question", "check_text"]
