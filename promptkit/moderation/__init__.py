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
2. **Model layer**, in one of three forms:

   * *linear probe* (``moderation@4``, the production label, with ``prompts/_probes/moderation@4--<model>.json``):
     the prompt (the seven categories as a one-sentence policy) is rendered, one forward pass stops after layer 14,
     and logistic-regression heads over the hidden states (:mod:`promptkit.probes`, fitted on the dev split of
     ``eval/datasets/guard_texts.jsonl`` by :mod:`promptkit.moderation.fit`) give the probability that the text is
     unsafe and one per category. Nothing is generated.
   * *yes/no scoring* (a ``labels`` prompt without a probe for the model, e.g. ``moderation@3`` or
     ``moderation@4`` on another model): ``log P("Não")`` after "Este texto é seguro?", read by
     :mod:`promptkit.moderation.scoring` and compared with ``moderation.threshold`` (default
     :data:`~promptkit.moderation.scoring.DEFAULT_THRESHOLD`). One decision for the whole text, no category.
   * *JSON classifier* (``moderation@1``): the model answers ``{"categories": [...]}``; :func:`parse_categories`
     reads it.

Combination rule (per category)
-------------------------------
* a **high**-confidence rule hit makes the category unsafe on its own, whatever the model says;
* a **low**-confidence rule hit alone never does: it needs the model to flag the text or the same category;
* a **model flag** where the rules found nothing counts only under policy ``any`` (the probe names its
  categories; the yes/no form reports ``unspecified``). Under policy ``confirm`` a model flag counts only where
  the rules also hit.

``chains/moderation.yaml`` runs ``layers: combined``, ``policy: any`` with the probe. Measured on the held-out
``eval/datasets/guard_texts.jsonl`` (``benchmarks/bench_moderation.py``, ``eval/moderation_results.md``): test
recall of unsafe texts 0.93 (pt) and 0.90 (en) at false-positive rates 0.08 and 0.10; the rules alone find 0.15 and
0.07, and the earlier yes/no layer was near chance on these texts.

A text is flagged when any category is unsafe. Every verdict records both layers' opinions, the matched
phrases, the safe context that lowered a hit and the probe's probabilities against their thresholds, says which
layer decided (``decided_by``) and explains itself in a few lines (:func:`promptkit.moderation.verdict.explain`,
``promptkit run moderation --explain``).

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
