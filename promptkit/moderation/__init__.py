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
2. **LLM layer**, in one of two forms chosen by the prompt version:

   * *yes/no scoring* (``moderation@3``, the production label): one question per text, "Este texto é
     seguro? Responda Sim ou Não.", read from the model's log-probabilities by
     :mod:`promptkit.moderation.scoring` (``model.logprob``, batched and cached; nothing is generated or
     parsed). The score is ``log P("Não")``; the text counts as unsafe for the LLM when the score is at or above
     ``moderation.threshold`` of the chain definition (tuned on the dev split only). This form gives one
     decision for the whole text, not a category.
   * *JSON classifier* (``moderation@1``): the model answers ``{"categories": [...]}`` over the taxonomy of
     ``prompts/moderation/TAXONOMY.md`` (hate, harassment, violence, self_harm, sexual, illegal, privacy);
     :func:`parse_categories` reads it and tolerates prose around the JSON.

Combination rule (per category)
-------------------------------
* a **high**-confidence rule hit makes the category unsafe on its own, whatever the LLM says;
* a **low**-confidence rule hit alone never does: it needs the LLM to flag the text (yes/no form) or the same
  category (JSON form);
* an **LLM flag** where the rules found nothing counts only under policy ``any``; the yes/no form then reports
  the category ``unspecified``. Under policy ``confirm`` an LLM flag counts only where the rules also hit.

``chains/moderation.yaml`` runs ``layers: combined``, ``policy: any`` with the yes/no prompt and its tuned
threshold, so a text is flagged when (a) a rule hits with high confidence, or (b) the score reaches the
threshold (the categories are then the rule hits of any confidence, or ``unspecified``).

Measured on ``eval/datasets/moderation.jsonl`` (``benchmarks/bench_moderation.py``, figures and command in
``eval/moderation_results.md``): the default 0.5B model separates unsafe from safe texts only weakly (area
under the ROC curve about 0.8 on dev with the best wording, close to chance on test), so the threshold that
keeps its false-positive rate at most 0.1 on dev adds little recall (test, unsafe-vs-safe recall pt/en: rules
0.45/0.32, combined 0.55/0.36); the rules still carry most of the decisions, and their lexicon fits the dev split
far better than the held-out test split. The JSON classifier (``moderation@1``)
answers ``{"categories": ["violence"]}`` for almost every text, safe ones included, so it is kept only under
policy ``confirm``.

A text is flagged when any category is unsafe. Every verdict records both layers' opinions, the matched
phrases and the safe context that lowered a hit, so each decision can be audited.

Use it alone (``load_chain("moderation")`` or :func:`moderate_rules`) or as a guard around any chain
(``guard: moderation`` in a chain definition, or :func:`promptkit.chains.with_guard`).
"""

from __future__ import annotations

from promptkit.moderation.rules import RuleHit, check_rules
from promptkit.moderation.taxonomy import CATEGORIES
from promptkit.moderation.verdict import UNSPECIFIED, CategoriesParser, combine, parse_categories

__all__ = [
    "CATEGORIES",
    "CategoriesParser",
    "RuleHit",
    "UNSPECIFIED",
    "check_rules",
    "combine",
    "moderate_rules",
    "parse_categories",
]


def moderate_rules(text: str) -> dict:
    """The rules-only verdict for one text (no model): ``{"flagged", "categories", "verdicts"}``."""
    return combine(check_rules(text), None)
