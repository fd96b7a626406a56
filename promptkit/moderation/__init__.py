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
* unsafe when the rules fire with **high** confidence, or when the **LLM flags** the category;
* a **low**-confidence rule hit alone never makes a text unsafe: it needs the LLM to agree;
* policy ``confirm`` (optional, stricter on false positives) additionally ignores LLM flags in categories where
  the rules found nothing at all.

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
