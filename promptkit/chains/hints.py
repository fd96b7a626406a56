"""Question-type hints: what kind of answer a question asks for, from its interrogative words.

A prompt that declares the input variable ``answer_hint`` gets one short line describing the expected answer
("um número, com a unidade como o texto escreve", "nome de pessoa, grupo ou organização", …); callers may pass
their own ``answer_hint`` instead. Plain rules rather than a classifier: the interrogative word decides the answer
type in both languages of the course, and the rules cost nothing at run time.
"""

from __future__ import annotations

import re

from promptkit.text import fold

_DEFAULT = ("um termo ou expressão curta copiada do texto", "a short term or phrase copied from the text")
# (pattern over the folded question, Portuguese hint, English hint); the first match wins
_RULES: tuple[tuple[str, str, str], ...] = (
    (r"\bquant[oa]s?\b|\bhow (many|much)\b|\bwhat (number|percentage)\b",
     "um número, com a unidade como o texto escreve", "a number, with its unit as the text writes it"),
    (r"\bem que (ano|decada|seculo|data|mes|epoca)\b|\bquando\b|\b(qual|que) (o )?ano\b|\bwhen\b|\bwhat year\b"
     r"|\bin which year\b",
     "uma data, um ano ou um período", "a date, a year or a period"),
    (r"\bquem\b|\bwho\b|\bwhom\b",
     "nome de pessoa, grupo ou organização", "the name of a person, group or organisation"),
    (r"\bonde\b|\bem que (pais|cidade|lugar|local)\b|\bwhere\b",
     "um lugar", "a place"),
    (r"\bpor que\b|\bqual (o|e o) motivo\b|\bwhy\b",
     "o motivo, em poucas palavras copiadas do texto", "the reason, in a few words copied from the text"),
    (r"\bcomo (se chama|e chamad|sao chamad|ficou conhecid)|\bwhat is .* called\b", *_DEFAULT),
    (r"^\W*como\b|^\W*how\b",
     "o modo ou meio, em poucas palavras copiadas do texto", "the way or means, in a few words copied from the text"),
)
_ENGLISH = re.compile(r"\b(what|which|who|whom|when|where|why|how|is|are|does|do|did|the)\b")


def answer_hint(question: str) -> str:
    """The expected answer type of ``question``, in the question's language (Portuguese unless English)."""
    folded = fold(question)
    english = len(_ENGLISH.findall(folded)) >= 2 or folded.startswith(("what", "which", "who", "when", "where",
                                                                         "why", "how"))
    for pattern, pt, en in _RULES:
        if re.search(pattern, folded):
            return en if english else pt
    return _DEFAULT[1] if english else _DEFAULT[0]
