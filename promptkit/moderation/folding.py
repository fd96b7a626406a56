"""Text folding for the rule layer: case, accents, look-alike digits ("leet") and stretched letters.

Two views of a text are matched: ``fold(text)`` (lowercase, no accents, spacing collapsed) keeps digits so that
CPF, SSN or age patterns still work; ``fold_leet(text)`` also maps look-alike digits and symbols to letters
(``v1ad0`` → ``viado``) and squeezes letters repeated three or more times (``burrooo`` → ``burro``).
"""

from __future__ import annotations

import re

from promptkit.text import fold as fold_case_and_accents

_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"}
)
_STRETCH = re.compile(r"([a-z])\1{2,}")
_SPACES = re.compile(r"\s+")
# letters split by dots, dashes or underscores: "v.i.a.d.o", "i-d-i-o-t-a"
_SPLIT_WORD = re.compile(r"\b(?:[a-z][.\-_*]){2,}[a-z]\b")


def fold(text: str) -> str:
    """Lowercase, accents removed (:func:`promptkit.text.fold`), typographic quotes made plain, whitespace
    collapsed.

    >>> fold("  Você É “BURRO”  ")
    'voce e "burro"'
    """
    text = fold_case_and_accents(text)
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    return _SPACES.sub(" ", text).strip()


def fold_leet(text: str) -> str:
    """:func:`fold`, then look-alike characters mapped to letters and stretched letters squeezed."""
    folded = fold(text)
    # Keep "@handle" mentions intact: only map '@' inside words.
    words = []
    for word in folded.split(" "):
        if word.startswith("@"):
            words.append(word)
            continue
        if any(c.isalpha() for c in word):
            word = word.translate(_LEET)
        words.append(word)
    out = " ".join(words)
    out = _SPLIT_WORD.sub(lambda m: re.sub(r"[.\-_*]", "", m.group(0)), out)
    return _STRETCH.sub(r"\1", out)
