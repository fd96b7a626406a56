"""Helpers shared by the decoder and prefill tests (no tests here): a small random Qwen2 in float32,
built offline, prompts shaped like the RAG chain's, and ``generate``'s greedy tokens as the reference."""

from __future__ import annotations

import random
from typing import Any

PAD, EOS = 0, 1


def tiny_qwen() -> Any:
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.Qwen2Config(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                                      pad_token_id=PAD, eos_token_id=EOS, bos_token_id=EOS)
    model = transformers.Qwen2ForCausalLM(config).eval()
    model.generation_config.pad_token_id = PAD
    return model


def tiny_chat_model(model: Any, batch_size: int = 4) -> Any:
    """A LocalChatModel on ``model`` with a word-level tokenizer built in memory (token i is the word ``wi``)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from promptkit.llm.local import LocalChatModel
    from promptkit.llm.runtime import Backend

    words = ["<pad>", "</s>"] + [f"w{i}" for i in range(2, 64)]
    inner = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="w2"))
    inner.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(tokenizer_object=inner, pad_token="<pad>", eos_token="</s>")
    tok.padding_side = "left"
    backend = Backend(model=model, tokenizer=tok, dtype="fp32", context_window=512, eos_ids=[EOS])
    # a hub-style name: nothing is resolved on disk, and the attached backend serves every call
    return LocalChatModel(model="tiny/random", dtype="fp32", batch_size=batch_size,
                          context_window=512).attach(backend)


def as_text(row: list[int]) -> str:
    return " ".join(f"w{t}" for t in row)


def rows_with_shared_prefix(seed: int, count: int) -> list[list[int]]:
    rng = random.Random(seed)
    prefix = [rng.randrange(2, 64) for _ in range(24)]
    rows = []
    for _ in range(count):
        own = [rng.randrange(2, 64) for _ in range(rng.randrange(3, 30))]
        # repeat a piece of the row so that prompt-lookup drafts have something to propose
        rows.append(prefix + own + own[: rng.randrange(0, len(own))])
    return rows


def rows_sharing_passages(seed: int, sizes: list[int]) -> list[list[int]]:
    """Rows of RAG-like prompts: one shared prefix, then a passage shared by ``sizes[g]`` rows, then a question."""
    rng = random.Random(seed)
    prefix = [rng.randrange(2, 64) for _ in range(20)]
    rows = []
    for size in sizes:
        passage = [rng.randrange(2, 64) for _ in range(rng.randrange(34, 60))]
        for _ in range(size):
            question = [rng.randrange(2, 64) for _ in range(rng.randrange(1, 12))]
            rows.append(prefix + passage + question + passage[:4])
    rng.shuffle(rows)
    return rows


def decode(model: Any, rows: list[list[int]], max_new: int, **options: Any) -> list[list[int]]:
    """The decoder's tokens for ``rows`` with the small model's padding and EOS ids."""
    import torch

    from promptkit.llm.decoding import decode as run

    with torch.inference_mode():
        return [tokens for tokens, _ in run(model, rows, max_new_tokens=max_new, pad_id=PAD, eos_ids=[EOS],
                                            **options)]


def reference(model: Any, row: list[int], max_new: int, **generate_options: Any) -> list[int]:
    """``generate``'s greedy continuation of one row, EOS excluded (transformers as the reference)."""
    import torch

    with torch.inference_mode():
        out = model.generate(input_ids=torch.tensor([row]), attention_mask=torch.ones(1, len(row), dtype=torch.long),
                             max_new_tokens=max_new, do_sample=False, eos_token_id=EOS, pad_token_id=PAD,
                             **generate_options)
    new = out[0, len(row):].tolist()
    return new[: new.index(EOS)] if EOS in new else new
