"""The calibrated LLM layer: one yes/no question per text, scored by log-probabilities.

A prompt with a ``labels`` parser is rendered for each text and scored with :meth:`BatchedChatModel.logprob`
(batched and cached), the unsafe answer first in ``labels``:

* two labels (``[sim, não]``): score = ``log P(labels[0]) - log P(labels[1])``, two rows per text;
* one label (``[Não]`` after "Este texto é seguro?"): score = ``log P(labels[0])``, one row per text (half the
  cost; on the dev split it separated unsafe from safe texts at least as well as the difference).

No text is generated and nothing has to be parsed: the score is a number, and a threshold tuned on the
labelled ``dev`` split turns it into a decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from promptkit.errors import ValidationError

# Score at or above which the default model's answer counts as "unsafe" (log P("Não") with moderation@3): the
# lowest value keeping the LLM's own false-positive rate at most 0.1 per language on the dev split of
# eval/datasets/moderation.jsonl (benchmarks/bench_moderation.py --split dev --sweep); never tuned on test.
DEFAULT_THRESHOLD = -0.43


def yes_no_labels(spec: Any) -> tuple[str, ...] | None:
    """``(unsafe label,)`` or ``(unsafe label, safe label)`` for a scoring prompt, else ``None``."""
    parser = getattr(spec, "parser", None)
    if parser is None or parser.type != "labels":
        return None
    labels = list(parser.labels or [])
    if len(labels) not in (1, 2):
        raise ValidationError(
            f"moderation prompt {getattr(spec, 'ref', '?')} has labels {labels}; a scoring prompt needs one or "
            "two, the unsafe answer first (e.g. [sim, não])"
        )
    return tuple(labels)


def yes_no_scores(llm: Any, prompts: Sequence[str], labels: tuple[str, ...]) -> list[float]:
    """The score of each rendered prompt (see the module docstring), in one batched ``logprob`` call."""
    if not prompts:
        return []
    if len(labels) == 1:
        return llm.logprob(list(prompts), [labels[0]] * len(prompts))
    yes, no = labels
    n = len(prompts)
    values = llm.logprob([*prompts, *prompts], [yes] * n + [no] * n)
    return [values[i] - values[n + i] for i in range(n)]
