"""The pruned grounding score and span snapping give exactly the results of the straightforward window scans."""

from __future__ import annotations

import random

from rapidfuzz.distance import Indel

from promptkit.chains.postprocess import _EDGE_PUNCT, _folded_tokens, grounding_score, snap_to_span
from promptkit.text import fold_words


def reference_score(answer: str, context: str) -> float:
    """Every window of n-1, n and n+1 words scored, no pruning."""
    a, c = fold_words(answer), fold_words(context)
    if not a:
        return 0.0
    if f" {a} " in f" {c} ":
        return 1.0
    a_words, c_words = a.split(), c.split()
    if not c_words:
        return 0.0
    n = len(a_words)
    best = 0.0
    for size in {max(1, n - 1), n, n + 1}:
        for start in range(0, max(1, len(c_words) - size + 1)):
            best = max(best, Indel.normalized_similarity(a, " ".join(c_words[start : start + size])))
    return round(best, 4)


WORDS = ("o modelo transformer foi introduzido em 2017 por vaswani e colegas atenção camada token "
         "contexto prompt exemplo resposta métrica f1 exata 57 tarefas mmlu avaliação").split()


def test_same_scores_as_the_full_scan_on_random_texts():
    rng = random.Random(7)
    for _ in range(300):
        context = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 80)))
        answer = " ".join(rng.choice(WORDS + ["introduzida", "1999", "tranformer"]) for _ in range(rng.randint(0, 5)))
        assert grounding_score(answer, context) == reference_score(answer, context), (answer, context)


def test_known_cases():
    assert grounding_score("Vaswani", "o artigo de Vaswani e colegas") == 1.0
    assert grounding_score("introduzido em 2017", "foi introduzida em 2017 pela equipe") > 0.8
    assert grounding_score("1999", "o artigo saiu em 2017") < 0.6
    assert grounding_score("", "texto") == 0.0
    assert grounding_score("algo", "") == 0.0


def test_same_scores_on_course_text(repo):
    rng = random.Random(11)
    texts = [p.read_text("utf-8") for p in sorted((repo / "corpus").glob("*.md"))[:6]]
    for text in texts:
        words = text.split()
        for _ in range(25):
            start = rng.randrange(max(1, len(words) - 300))
            context = " ".join(words[start : start + 300])
            i = rng.randrange(len(words))
            answer = " ".join(words[i : i + rng.randint(1, 6)])
            if rng.random() < 0.5:  # a paraphrase: one character changed
                k = rng.randrange(len(answer))
                answer = answer[:k] + rng.choice("aeiou0123") + answer[k + 1 :]
            assert grounding_score(answer, context) == reference_score(answer, context), (answer, context[:80])


def reference_snap(answer: str, context: str, *, min_ratio: float = 0.75) -> str:
    """Left-to-right scan of every window; the first of equal best windows wins."""
    a = fold_words(answer)
    if not a:
        return answer
    tokens = _folded_tokens(context)
    if not tokens:
        return answer
    n = len(a.split())
    best, where = 0.0, None
    for size in sorted({max(1, n - 1), n, n + 1}):
        for start in range(0, max(1, len(tokens) - size + 1)):
            window = tokens[start : start + size]
            ratio = Indel.normalized_similarity(a, " ".join(t[0] for t in window))
            if ratio > best:
                best, where = ratio, (window[0][1], window[-1][2])
    if where is None or best < min_ratio:
        return answer
    span = context[where[0] : where[1]].strip(_EDGE_PUNCT + " ")
    return span or answer


def test_snap_to_span_picks_the_same_span(repo):
    rng = random.Random(5)
    texts = [p.read_text("utf-8") for p in sorted((repo / "corpus").glob("*.md"))[:5]]
    for text in texts:
        words = text.split()
        for _ in range(20):
            start = rng.randrange(max(1, len(words) - 200))
            context = " ".join(words[start : start + 200])
            i = rng.randrange(len(words))
            answer = " ".join(words[i : i + rng.randint(1, 5)])
            if rng.random() < 0.6:
                k = rng.randrange(len(answer))
                answer = answer[:k] + rng.choice("aeo1") + answer[k + 1 :]
            for ratio in (0.5, 0.75):
                assert snap_to_span(answer, context, min_ratio=ratio) == reference_snap(
                    answer, context, min_ratio=ratio), (answer, context[:80])
    repeated = "o modelo o modelo o modelo o modelo"
    assert snap_to_span("modelo", repeated) == reference_snap("modelo", repeated)
    assert snap_to_span("xyz", "abc def") == reference_snap("xyz", "abc def") == "xyz"


def test_fold_words_matches_the_character_by_character_version(repo):
    import re
    import unicodedata

    def reference(text: str) -> str:
        text = unicodedata.normalize("NFKD", text).casefold()
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
        return " ".join(re.findall(r"\w+", text))

    rng = random.Random(1)
    alphabet = "aãáâàçéêíóôõúüAÃÇÉ ñ«»“”-_.,;:!?0123456789\u0301\u0327ßŒﬁ①Ωω\t\n日本ℂ™𝐊Ａ"
    texts = [p.read_text("utf-8") for p in sorted((repo / "corpus").glob("*.md"))[:4]]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(2000)]
    for text in texts:
        assert fold_words(text) == reference(text)
