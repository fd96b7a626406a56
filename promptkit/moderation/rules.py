"""The rule layer: fast, auditable lexicon matching with a confidence per category."""

from __future__ import annotations

from dataclasses import dataclass, field

from promptkit.moderation.folding import fold, fold_leet
from promptkit.moderation.lexicon import HARMLESS, RULES, SAFE_CONTEXT, Rule
from promptkit.moderation.taxonomy import CATEGORIES


@dataclass
class RuleHit:
    """What the rule layer found for one category."""

    confidence: str  # "high" | "low"
    rules: list[str] = field(default_factory=list)
    matches: list[str] = field(default_factory=list)
    safe_context: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "confidence": self.confidence,
            "rules": self.rules,
            "matches": self.matches,
            "safe_context": self.safe_context,
        }


def _views(text: str) -> list[str]:
    views = []
    for view in (fold(text), fold_leet(text)):
        view = HARMLESS.sub(" ", view)
        if view not in views:
            views.append(view)
    return views


def check_rules(text: str, rules: list[Rule] | None = None) -> dict[str, RuleHit]:
    """Match the lexicon against ``text``; returns only the categories with a hit.

    >>> sorted(check_rules("vou te pegar na saida"))
    ['violence']
    >>> check_rules("se o notebook travar, mata o processo do jupyter")
    {}
    """
    views = _views(text)
    hits: dict[str, RuleHit] = {}
    for rule in rules if rules is not None else RULES:
        for view in views:
            m = rule.pattern.search(view)
            if m is None:
                continue
            hit = hits.get(rule.category)
            if hit is None:
                hit = hits[rule.category] = RuleHit(confidence=rule.confidence)
            elif rule.confidence == "high":
                hit.confidence = "high"
            if rule.name not in hit.rules:
                hit.rules.append(rule.name)
                hit.matches.append(m.group(0).strip())
            break
    for category, hit in hits.items():
        if hit.confidence != "high":
            continue
        for view in views:
            safe = SAFE_CONTEXT[category].search(view)
            if safe:
                hit.confidence = "low"
                hit.safe_context = safe.group(0).strip()
                break
    return {c: hits[c] for c in CATEGORIES if c in hits}
