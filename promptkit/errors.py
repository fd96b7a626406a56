"""Error types. Every error a user can cause is a :class:`PromptkitError`.

The CLI prints ``error: <message>`` on one line and exits with status 2 for these; library callers can catch
the base class. Messages say what was expected, what was received, and how to fix it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class PromptkitError(Exception):
    """Base class of every user-facing error (bad input, unknown names, tampered files)."""

    def __init__(self, message: str, *, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(f"{message} ({hint})" if hint else message)


class NotFoundError(PromptkitError, LookupError):
    """An unknown prompt, version, label, chain, model, dataset or file."""


class ValidationError(PromptkitError, ValueError):
    """A file or value that does not have the expected shape."""


class IntegrityError(PromptkitError):
    """A file whose content does not match its recorded hash (tampered, truncated or mismatched)."""


class CacheMissError(PromptkitError):
    """A strict replay run asked for a model call that is not in the cache."""


class MissingDependencyError(PromptkitError, ImportError):
    """An optional package (model weights, an extra) is not installed."""


class GenerationTimeout(PromptkitError, TimeoutError):
    """A model call ran past its timeout (a local generation, or a request to a served model)."""


class UnsupportedError(PromptkitError, NotImplementedError):
    """A feature the chosen model cannot provide (e.g. tool calling on a model without it)."""


class ServerError(PromptkitError, ConnectionError):
    """A model server that cannot be reached, refuses a request (key, model id) or keeps failing after its
    retries."""


def unknown(kind: str, name: str, available: Iterable[str]) -> NotFoundError:
    """Build the standard "unknown X; did you mean Y? available: …" error."""
    names = sorted(set(available))
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    listing = ", ".join(names) if names else "none"
    return NotFoundError(f"unknown {kind} {name!r}; {hint}available: {listing}")
