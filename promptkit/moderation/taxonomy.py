"""The closed list of moderation categories (ids are stable; see ``prompts/moderation/TAXONOMY.md``)."""

from __future__ import annotations

CATEGORIES: tuple[str, ...] = (
    "hate",
    "harassment",
    "violence",
    "self_harm",
    "sexual",
    "illegal",
    "privacy",
)

# Names the LLM classifier may use instead of the ids (Portuguese labels, spelling variants).
ALIASES: dict[str, str] = {
    "odio": "hate",
    "discriminacao": "hate",
    "hate_speech": "hate",
    "assedio": "harassment",
    "bullying": "harassment",
    "violencia": "violence",
    "threat": "violence",
    "threats": "violence",
    "autolesao": "self_harm",
    "self-harm": "self_harm",
    "selfharm": "self_harm",
    "suicide": "self_harm",
    "suicidio": "self_harm",
    "sexual_content": "sexual",
    "conteudo_sexual": "sexual",
    "sex": "sexual",
    "ilegal": "illegal",
    "illegal_activities": "illegal",
    "atividades_ilegais": "illegal",
    "crime": "illegal",
    "privacidade": "privacy",
    "pii": "privacy",
    "personal_data": "privacy",
    "dados_pessoais": "privacy",
}
