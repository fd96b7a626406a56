"""The stop-string stopping criterion: rows finish when their new text holds a stop string; the batch ends when
every row is done (EOS rows are finished by ``generate`` itself)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from promptkit.models.local import stop_string_criterion  # noqa: E402

VOCAB = {0: "<pad>", 1: "a", 2: "b", 3: "\n", 4: "57", 5: "x\ny", 6: "</s>", 7: "\u00e7"}


class CharTokenizer:
    """Decodes ids by concatenating fixed pieces; ``</s>`` and ``<pad>`` are special (skipped)."""

    def decode(self, ids, skip_special_tokens=False):
        return "".join(VOCAB[i] for i in ids if not (skip_special_tokens and i in (0, 6)))


def run(criterion, rows: list[list[int]], prompt_length: int) -> list[list[bool]]:
    """Feed the sequences one generated token at a time; the per-step done flags."""
    steps = []
    for length in range(prompt_length + 1, len(rows[0]) + 1):
        ids = torch.tensor([r[:length] for r in rows])
        steps.append(criterion(ids, None).tolist())
    return steps


def test_each_row_stops_at_its_first_newline():
    crit = stop_string_criterion(CharTokenizer(), ["\n"], prompt_length=2)
    rows = [
        [1, 1, 4, 3, 1, 1],  # prompt "aa", then "57", "\n": done at the second new token
        [1, 1, 1, 2, 2, 3],  # done only at the last token
    ]
    assert run(crit, rows, 2) == [[False, False], [True, False], [True, False], [True, True]]


def test_the_prompt_itself_never_counts():
    crit = stop_string_criterion(CharTokenizer(), ["\n"], prompt_length=3)
    assert run(crit, [[3, 3, 3, 1, 2]], 3) == [[False], [False]]


def test_a_stop_string_inside_one_token_or_across_tokens():
    crit = stop_string_criterion(CharTokenizer(), ["\n"], prompt_length=1)
    assert run(crit, [[1, 1, 5]], 1) == [[False], [True]]
    crit = stop_string_criterion(CharTokenizer(), ["b\n"], prompt_length=1)
    assert run(crit, [[1, 2, 3, 1]], 1) == [[False], [True], [True]]


def test_done_rows_stay_done_and_special_tokens_are_ignored():
    crit = stop_string_criterion(CharTokenizer(), ["</s>", "\n"], prompt_length=1)
    # "</s>" is a special token: skipped when decoding, so it never matches as text; "\n" then stops the row
    assert run(crit, [[1, 6, 1, 3, 0, 0]], 1) == [[False], [False], [True], [True], [True]]


def test_long_generations_only_decode_a_short_tail():
    calls = []

    class Counting(CharTokenizer):
        def decode(self, ids, skip_special_tokens=False):
            calls.append(len(ids))
            return super().decode(ids, skip_special_tokens)

    crit = stop_string_criterion(Counting(), ["\n"], prompt_length=1)
    run(crit, [[1] + [2] * 200], 1)
    assert max(calls) <= 2 * len("\n") + 4


def test_the_model_passes_the_criterion_to_generate_only_with_stop_strings():
    from promptkit.models.local import LocalChatModel

    model = LocalChatModel(model_id="m", path="/nonexistent")
    model.attach(type("B", (), {"tokenizer": CharTokenizer()})())
    assert model._stopping({"stop": []}, 3) == {}
    assert model._stopping({"stop": [""]}, 3) == {}
    criteria = model._stopping({"stop": ["\n"]}, 3)["stopping_criteria"]
    assert len(criteria) == 1
