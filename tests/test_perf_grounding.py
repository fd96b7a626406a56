"""The faster grounding score gives exactly the scores of the straightforward window scan."""

from __future__ import annotations

import difflib
import random

from promptkit.chains.postprocess import fold_text, grounding_score


def reference_score(answer: str, context: str) -> float:
    """Every window of n-1, n and n+1 words, pruned only by the ratio's upper bounds (the previous code)."""
    a, c = fold_text(answer), fold_text(context)
    if not a:
        return 0.0
    if f" {a} " in f" {c} ":
        return 1.0
    a_words, c_words = a.split(), c.split()
    if not c_words:
        return 0.0
    n = len(a_words)
    best = 0.0
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(a)
    for size in {max(1, n - 1), n, n + 1}:
        for start in range(0, max(1, len(c_words) - size + 1)):
            matcher.set_seq1(" ".join(c_words[start : start + size]))
            if matcher.real_quick_ratio() <= best or matcher.quick_ratio() <= best:
                continue
            best = max(best, matcher.ratio())
            if best == 1.0:
                return best
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
