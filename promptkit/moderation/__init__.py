"""Content moderation in two layers, for Portuguese and English text.

Layers
------
1. **Rules** (:mod:`promptkit.moderation.rules`, lexicon in :mod:`promptkit.moderation.lexicon`): regular
   expressions over folded text (case, accents, look-alike digits such as ``v1ad0`` and stretched letters such as
   ``burrooo`` are normalised). Each category has *high-confidence* patterns that describe what a text does (a
   threat aimed at someone, a request for a lethal dose, a recipe for an explosive, a CPF next to an order to
   spread it) and *low-confidence* topic words (``suicídio``, ``bomba``, ``endereço``). A high hit is lowered to
   low when the text also shows a safe context for that category: prevention and care (CVV 188, clinical
   language) for self-harm, teaching, history, fiction or news for hate, violence and illegal activities, sex
   education for sexual content, law or obviously fictitious data for privacy. Technical idioms ("matar o
   processo", "kill -9", "kill two birds with one stone", "morrer de rir") are removed before matching.
2. **LLM classifier**: the prompt ``moderation@production`` (falling back to the latest version) asks the
   model for ``{"categories": [...]}`` over the taxonomy of ``prompts/moderation/TAXONOMY.md``
   (hate, harassment, violence, self_harm, sexual, illegal, privacy); :func:`parse_categories` reads it and
   tolerates prose around the JSON.

Combination rule (per category)
-------------------------------
* a **high**-confidence rule hit makes the category unsafe on its own;
* a **low**-confidence rule hit alone never does: it needs the LLM to flag the same category;
* an **LLM flag** counts only when the rules also hit that category (at any confidence). This is policy
  ``confirm``, the default of ``chains/moderation.yaml``;
* policy ``any`` (``--set policy=any``) also accepts LLM flags in categories where the rules found nothing.

Why ``confirm`` by default: measured on ``eval/datasets/moderation.jsonl`` (``benchmarks/bench_moderation.py``),
the default 0.5B model answers ``{"categories": ["violence"]}`` for almost every text, safe ones included
(flagged-vs-safe false-positive rate 1.00 on the test split), so under ``any`` a guard would refuse everything.
Under ``confirm`` the LLM can only confirm a topic the rules saw (test split: micro precision 0.85, false-positive
rate 0.01). With a stronger classifier, ``any`` is the rule to use.

A text is flagged when any category is unsafe. Every verdict records both layers' opinions, the matched
phrases and the safe context that lowered a hit, so each decision can be audited.

Use it alone (``load_chain("moderation")`` or :func:`moderate_rules`) or as a guard around any chain
(``guard: moderation`` in a chain definition, or :func:`promptkit.chains.with_guard`).
"""

from __future__ import annotations

from promptkit.moderation.rules import RuleHit, check_rules
from promptkit.moderation.taxonomy import CATEGORIES
from promptkit.moderation.verdict import CategoriesParser, combine, parse_categories

__all__ = [
    "CATEGORIES",
    "CategoriesParser",
    "RuleHit",
    "check_rules",
    "combine",
    "moderate_rules",
    "parse_categories",
]


def moderate_rules(text: str) -> dict:
    """The rules-only verdict for one text (no model): ``{"flagged", "categories", "verdicts"}``."""
    return combine(check_rules(text), None)
