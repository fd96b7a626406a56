"""Stop strings: a row ends once the text of its last few generated tokens holds a stop string."""

from __future__ import annotations

from promptkit.llm.local import stop_matcher

VOCAB = {0: "<pad>", 1: "a", 2: "b", 3: "\n", 4: "57", 5: "x\ny", 6: "</s>", 7: "\u00e7"}


class CharTokenizer:
    """Decodes ids by concatenating fixed pieces; ``</s>`` and ``<pad>`` are special (skipped)."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def decode(self, ids, skip_special_tokens=False):
        self.calls.append(len(ids))
        return "".join(VOCAB[i] for i in ids if not (skip_special_tokens and i in (0, 6)))


def test_a_row_stops_at_its_first_newline():
    matches = stop_matcher(CharTokenizer(), ["\n"])
    assert not matches([4])
    assert matches([4, 3])
    assert not matches([1, 2, 2])


def test_a_stop_string_inside_one_token_or_across_tokens():
    assert stop_matcher(CharTokenizer(), ["\n"])([1, 5])
    across = stop_matcher(CharTokenizer(), ["b\n"])
    assert not across([1, 2])
    assert across([1, 2, 3])


def test_special_tokens_are_ignored():
    # "</s>" is a special token: skipped when decoding, so it never matches as text
    matches = stop_matcher(CharTokenizer(), ["</s>"])
    assert not matches([1, 6, 1])


def test_long_generations_only_decode_a_short_tail():
    tok = CharTokenizer()
    matches = stop_matcher(tok, ["\n"])
    assert not matches([1] + [2] * 200)
    assert max(tok.calls) <= 2 * len("\n") + 4
