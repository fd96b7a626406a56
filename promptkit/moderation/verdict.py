"""Reading the LLM classifier's answer and combining it with the rule layer into per-category verdicts."""

from __future__ import annotations

import json
import re
from typing import Any

from langchain_core.output_parsers import BaseOutputParser

from promptkit.moderation.folding import fold
from promptkit.moderation.rules import RuleHit
from promptkit.moderation.taxonomy import ALIASES, CATEGORIES

POLICIES = ("any", "confirm")
_SAFE_WORDS = {"safe", "seguro", "none", "nenhuma", "nenhum", "ok"}
_OBJECT = re.compile(r"\{.*?\}", re.DOTALL)


def _category(name: str) -> str | None:
    key = fold(str(name)).strip().replace(" ", "_").replace("-", "_")
    if key in CATEGORIES:
        return key
    if key in _SAFE_WORDS:
        return "safe"
    return ALIASES.get(key) or ALIASES.get(key.replace("_", "-"))


def parse_categories(text: str) -> tuple[list[str], bool]:
    """``(categories, parsed)`` from the classifier's text.

    Reads the first JSON object's ``categories`` list; without valid JSON it falls back to category ids named in
    the text. ``parsed`` is False when nothing usable was found (then the list is empty).

    >>> parse_categories('{"categories": ["violence", "privacy"]}')
    (['violence', 'privacy'], True)
    >>> parse_categories('{"categories": ["safe"]}')
    ([], True)
    >>> parse_categories('Categoria: assedio')
    (['harassment'], True)
    >>> parse_categories('hmm')
    ([], False)
    """
    found: list[str] = []
    for match in _OBJECT.finditer(text or ""):
        try:
            data = json.loads(match.group(0))
        except json.JSONDecodeError:
            continue
        values = data.get("categories") if isinstance(data, dict) else None
        if isinstance(values, str):
            values = [values]
        if isinstance(values, list):
            for v in values:
                c = _category(v)
                if c and c != "safe" and c not in found:
                    found.append(c)
            return [c for c in CATEGORIES if c in found], True
    words = re.findall(r"[a-z_\-]+", fold(text or ""))
    safe_seen = False
    for w in words:
        c = _category(w)
        if c == "safe":
            safe_seen = True
        elif c and c not in found:
            found.append(c)
    return [c for c in CATEGORIES if c in found], bool(found) or safe_seen


class CategoriesParser(BaseOutputParser[dict]):
    """LangChain output parser for the moderation prompt's JSON: ``{"categories": [...], "parsed": bool}``."""

    def parse(self, text: str) -> dict[str, Any]:
        categories, parsed = parse_categories(text)
        return {"categories": categories, "parsed": parsed}

    @property
    def _type(self) -> str:
        return "promptkit_moderation_categories"


UNSPECIFIED = "unspecified"  # the category reported when only the yes/no LLM layer flags a text


def probe_categories(probe: dict[str, Any]) -> tuple[bool, list[str]]:
    """``(unsafe, categories)`` from a probe's probabilities: unsafe when the ``unsafe`` head reaches its
    threshold; the categories are the category heads at or above their thresholds, or, for an unsafe text where
    none is, the most probable category (a flagged text always names one).

    >>> probe_categories({"probabilities": {"unsafe": 0.9, "hate": 0.2, "violence": 0.4},
    ...                   "thresholds": {"unsafe": 0.5, "hate": 0.5, "violence": 0.5}})
    (True, ['violence'])
    """
    probs, thresholds = probe["probabilities"], probe["thresholds"]
    unsafe = probs.get("unsafe", 0.0) >= thresholds.get("unsafe", 0.5)
    found = [c for c in CATEGORIES if c in probs and probs[c] >= thresholds.get(c, 0.5)]
    if unsafe and not found:
        scored = [c for c in CATEGORIES if c in probs]
        if scored:
            found = [max(scored, key=lambda c: probs[c])]
    return unsafe, found


def combine(
    rules: dict[str, RuleHit] | None,
    llm: list[str] | None,
    *,
    policy: str = "confirm",
    llm_unsafe: bool | None = None,
    llm_score: float | None = None,
    probe: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Per-category verdicts from the two layers (either may be ``None`` when not run).

    The LLM layer speaks either as a list of categories (``llm``, the JSON classifier) or as one calibrated
    yes/no decision for the whole text (``llm_unsafe``, from :mod:`promptkit.moderation.scoring`).

    ``confirm`` (default): flagged when the rules hit it with high confidence, or when the LLM flags it and the
    rules hit it at any confidence. ``any``: flagged on a high rule hit or on any LLM flag.
    A low-confidence rule hit alone never flags.

    With ``llm_unsafe`` the LLM flag applies to every category the rules hit; under ``any``, a text the LLM
    calls unsafe while the rules saw nothing is flagged with the category ``unspecified``.

    ``probe`` (``{"probabilities": {head: p}, "thresholds": {head: t}}``, from a linear probe) speaks both ways:
    its ``unsafe`` head is the yes/no decision and its category heads name the categories
    (:func:`probe_categories`), so a text the model alone flags gets a real category. When no category head reaches
    its threshold, the categories the rules hit (at any confidence) are used before the most probable head; a
    low-confidence rule hit (a topic word) counts as soon as the probe calls the text unsafe, as with the other forms.

    Every result says which layer decided (``decided_by``: ``rules``, ``model``, ``rules+model`` or ``None``
    for a safe text) and, per category, the evidence (``matches`` of the rules, ``probability`` and
    ``threshold`` of the probe).
    """
    probe_found: list[str] = []
    if probe is not None:
        if llm is not None or llm_unsafe is not None:
            raise ValueError("give the LLM layer as a probe, as categories or as a yes/no decision, not several")
        llm_unsafe, probe_found = probe_categories(probe)
        llm_score = probe["probabilities"].get("unsafe")
        thresholds = probe["thresholds"]
        guessed = not any(probe["probabilities"].get(c, 0.0) >= thresholds.get(c, 0.5) for c in probe_found)
        if guessed and rules:  # no category head fired: the rules' categories name the text, not a guess
            probe_found = [c for c in CATEGORIES if c in rules]
    if policy not in POLICIES:
        raise ValueError(f"unknown moderation policy {policy!r}; expected one of {POLICIES}")
    if llm is not None and llm_unsafe is not None:
        raise ValueError("give the LLM layer as categories or as a yes/no decision, not both")
    verdicts: dict[str, dict[str, Any]] = {}
    flagged: list[str] = []
    for category in CATEGORIES:
        hit = (rules or {}).get(category)
        rule_level = hit.confidence if hit else None
        if probe is not None:
            llm_flag = bool(llm_unsafe) and (category in probe_found or rule_level is not None)
        elif llm_unsafe is not None:
            llm_flag = bool(llm_unsafe) and rule_level is not None
        else:
            llm_flag = None if llm is None else category in llm
        if rule_level == "high":
            unsafe = True
        elif llm_flag:
            # without the rule layer (rules=None) there is nothing to confirm with: the LLM decides
            unsafe = policy == "any" or rules is None or rule_level is not None
        else:
            unsafe = False
        if unsafe:
            flagged.append(category)
        verdicts[category] = {
            "unsafe": unsafe,
            "rules": rule_level,
            "llm": llm_flag,
            "matches": hit.matches if hit else [],
            "rule_names": hit.rules if hit else [],
            "safe_context": hit.safe_context if hit else None,
        }
        if probe is not None:
            verdicts[category]["probability"] = probe["probabilities"].get(category)
            verdicts[category]["threshold"] = probe["thresholds"].get(category)
    if llm_unsafe and not flagged and (policy == "any" or rules is None):
        flagged.append(UNSPECIFIED)
    by_rules = any(v["unsafe"] and v["rules"] == "high" for v in verdicts.values())
    by_model = bool(flagged) and (
        UNSPECIFIED in flagged or any(v["unsafe"] and v["rules"] != "high" for v in verdicts.values())
    )
    decided = "rules+model" if by_rules and by_model else "rules" if by_rules else "model" if by_model else None
    result: dict[str, Any] = {"flagged": bool(flagged), "categories": flagged, "verdicts": verdicts,
                              "decided_by": decided}
    if llm_unsafe is not None:
        result["llm_unsafe"] = bool(llm_unsafe)
        result["llm_score"] = llm_score
    if probe is not None:
        result["llm_threshold"] = probe["thresholds"].get("unsafe")
    return result


def explain(result: dict[str, Any]) -> list[str]:
    """One line per decision of a moderation result: the verdict and which layer decided, then each category
    with evidence (rule matches and safe context, probe probability against its threshold).

    >>> explain(combine({}, None, policy="any", probe={"probabilities": {"unsafe": 0.2, "hate": 0.1},
    ...                                               "thresholds": {"unsafe": 0.5, "hate": 0.5}}))[0]
    'safe: no layer flagged the text (model: unsafe probability 0.20 < threshold 0.50)'
    """
    lines = []
    score, threshold = result.get("llm_score"), result.get("llm_threshold")
    if score is not None and threshold is not None:
        model = f"model: unsafe probability {score:.2f} {'>=' if score >= threshold else '<'} threshold {threshold:.2f}"
    elif score is not None:
        model = f"model: score {score:+.2f}" + (", unsafe" if result.get("llm_unsafe") else ", safe")
    else:
        model = "model: not run"
    if result["flagged"]:
        lines.append(f"flagged: {', '.join(result['categories'])} (decided by {result.get('decided_by')}; {model})")
    else:
        lines.append(f"safe: no layer flagged the text ({model})")
    for category, v in result["verdicts"].items():
        if not (v["unsafe"] or v["rules"] or v["llm"] or (v.get("probability") or 0) >= 0.5 * (v.get("threshold") or 1)):
            continue
        parts = [f"unsafe={v['unsafe']}"]
        if v["rules"]:
            parts.append(f"rules={v['rules']} matches={v['matches']}")
            if v["safe_context"]:
                parts.append(f"lowered by safe context {v['safe_context']!r}")
        if v.get("probability") is not None:
            parts.append(f"probe p={v['probability']:.2f} (threshold {v['threshold']:.2f})")
        lines.append(f"  {category}: " + ", ".join(parts))
    return lines
