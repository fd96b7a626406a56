"""promptkit's decoder: the one generation loop behind every local model call.

* :mod:`~promptkit.llm.decoding.prefill`: prompts' shared prefix from a store, a batch prefilled as a prefix tree;
* :mod:`~promptkit.llm.decoding.loop`: greedy steps with prompt-lookup drafts, or sampling, yielding tokens as
  they come (``invoke``/``batch`` collect them, ``stream`` shows them);
* :mod:`~promptkit.llm.decoding.logprobs`: log-probabilities of given continuations;
* :mod:`~promptkit.llm.decoding.kv`: the only code that touches transformers' cache layers.
"""

from __future__ import annotations

from promptkit.llm.decoding.loop import Sampling, Step, decode, decode_events, lookup_draft
from promptkit.llm.decoding.logprobs import continuation_logprobs
from promptkit.llm.decoding.prefill import PrefixStore, grouped_order, prefill

__all__ = [
    "PrefixStore",
    "Sampling",
    "Step",
    "continuation_logprobs",
    "decode",
    "decode_events",
    "grouped_order",
    "lookup_draft",
    "prefill",
]
