"""A stand-in course tutor for the long-form evaluation tests: a tiny made-up corpus, a tiny question set in
the ``tutor_questions.jsonl`` format, and a Runnable that answers through a :class:`FakeChatModel` and returns
the tutor's output contract (answer, declined, citations, sentences, contexts, sources, prompt, model)."""

from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path
from typing import Any

from langchain_core.runnables import Runnable

from promptkit.testing import FakeChatModel

DECLINE_PT = "Não encontrei isso no material do curso."
DECLINE_EN = "I could not find that in the course material."

# (file, text): short course-like passages written for these tests
CHUNKS = [
    ("04-avaliacao-e-benchmarks.md",
     "O benchmark MMLU reúne 57 tarefas de múltipla escolha, que vão do direito à medicina."),
    ("10-saida-do-llm-e-temperatura.md",
     "A temperatura controla o quanto a escolha do próximo token é aleatória. Perto de zero, o modelo fica "
     "com o token mais provável quase sempre."),
    ("01-historia-da-ia-generativa.md",
     "As GANs foram propostas por Ian Goodfellow em 2014: uma rede geradora disputa com uma rede "
     "discriminadora."),
    ("08-transformers.md",
     "O Transformer apareceu em 2017 no artigo Attention is All You Need, escrito por Vaswani e colegas."),
]

ITEMS = [
    {"id": "q1", "lang": "pt", "type": "fact", "question": "Quantas tarefas tem o MMLU?",
     "reference": "O MMLU tem 57 tarefas de múltipla escolha.", "key_facts": ["57 tarefas"],
     "gold_sources": ["04-avaliacao-e-benchmarks.md"], "split": "dev"},
    {"id": "q2", "lang": "pt", "type": "explanation", "question": "O que a temperatura controla num LLM?",
     "reference": "A temperatura controla o quão aleatória é a escolha do próximo token.",
     "key_facts": ["aleatória", "próximo token"], "gold_sources": ["10-saida-do-llm-e-temperatura.md"],
     "split": "dev"},
    {"id": "q3", "lang": "en", "type": "fact", "question": "Who proposed GANs, and when?",
     "reference": "GANs were proposed by Ian Goodfellow in 2014.", "key_facts": ["Ian Goodfellow", "2014"],
     "gold_sources": ["01-historia-da-ia-generativa.md"], "split": "dev"},
    {"id": "q4", "lang": "pt", "type": "fact", "question": "Quando surgiu o Transformer e quem o propôs?",
     "reference": "O Transformer surgiu em 2017, proposto por Vaswani e colegas.",
     "key_facts": ["2017", "Vaswani"],
     "gold_sources": ["08-transformers.md"], "split": "test"},
    {"id": "q5", "lang": "pt", "type": "out_of_scope", "question": "Qual é o preço da mensalidade do curso?",
     "reference": DECLINE_PT, "key_facts": [], "gold_sources": [], "split": "dev"},
    {"id": "q6", "lang": "en", "type": "out_of_scope", "question": "Will it rain in Rio tomorrow?",
     "reference": DECLINE_EN, "key_facts": [], "gold_sources": [], "split": "dev"},
]

# what a good tutor says, by the start of the question (citations are numbered by retrieval rank: [1] is the
# first chunk retrieved)
GOOD = {
    "Quantas tarefas": "O MMLU reúne 57 tarefas de múltipla escolha [1].",
    "O que a temperatura": "A temperatura controla o quanto a escolha do próximo token é aleatória [1]. "
                           "Perto de zero, o modelo fica com o token mais provável [1].",
    "Who proposed GANs": "GANs were proposed by Ian Goodfellow in 2014 [1].",
    "Quando surgiu o Transformer": "O Transformer apareceu em 2017, no artigo de Vaswani e colegas [1].",
    "Qual é o preço": DECLINE_PT,
    "Will it rain": DECLINE_EN,
}

# a worse tutor: a wrong number, an unsupported claim, a false decline and an out-of-scope answer
WORSE = {
    "Quantas tarefas": "O MMLU reúne 75 tarefas de múltipla escolha [1].",
    "O que a temperatura": "A temperatura controla o quanto a escolha do próximo token é aleatória [1]. "
                           "Ela também muda os pesos da rede durante o treino.",
    "Who proposed GANs": DECLINE_EN,
    "Quando surgiu o Transformer": "O Transformer apareceu em 2017, no artigo de Vaswani e colegas [1].",
    "Qual é o preço": "A mensalidade custa 300 reais [2].",
    "Will it rain": DECLINE_EN,
}


def write_dataset(folder: Path, items: list[dict[str, Any]] | None = None,
                  name: str = "mini_tutor.jsonl") -> Path:
    path = folder / name
    lines = [json.dumps(i, ensure_ascii=False) + "\n" for i in (items or ITEMS)]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def make_llm(answers: dict[str, str] = GOOD, model: str = "fake-tutor") -> FakeChatModel:
    """A fake model answering by the start of the question (the prompt's "Pergunta:" line)."""
    rules = [(f"Pergunta: {k}", v) for k, v in answers.items()]
    return FakeChatModel(model=model, rules=rules, default=DECLINE_PT, max_new_tokens=200)


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"\w+", text.lower()) if len(w) > 3}


class FakeTutor(Runnable):
    """The tutor's contract with a fake model: retrieve two chunks by word overlap, ask the model once per
    batch, number the chunks [1], [2] and report the ones the answer cites."""

    def __init__(self, llm: FakeChatModel, prompt: str = "tutor_answer@1"):
        self.llm = llm
        self.prompt = prompt
        self.name = "tutor"
        self.batch_calls = 0

    def _retrieve(self, question: str) -> list[tuple[int, str, str]]:
        words = _words(question)
        ranked = sorted(range(len(CHUNKS)), key=lambda i: (-len(words & _words(CHUNKS[i][1])), i))
        return [(i, CHUNKS[i][0], CHUNKS[i][1]) for i in ranked[:2]]

    def invoke(self, input: dict, config: Any = None, **kwargs: Any) -> dict:
        return self.batch([input], config)[0]

    def batch(self, inputs: list[dict], config: Any = None, **kwargs: Any) -> list[dict]:
        self.batch_calls += 1
        retrieved = [self._retrieve(i["question"]) for i in inputs]
        prompts = [  # the prompt version is part of the text, as a new version's wording would be
            f"({self.prompt}) Trechos:\n"
            + "\n".join(f"[{n}] {text}" for n, (_, _, text) in enumerate(r, start=1))
            + f"\nPergunta: {i['question']}"
            for i, r in zip(inputs, retrieved, strict=True)
        ]
        messages = self.llm.batch(prompts, config if isinstance(config, dict) else None)
        return [self._output(i["question"], m.content, r)
                for i, m, r in zip(inputs, messages, retrieved, strict=True)]

    def _output(self, question: str, answer: str, retrieved: list[tuple[int, str, str]]) -> dict:
        declined = answer in (DECLINE_PT, DECLINE_EN)
        cited = sorted({int(n) for n in re.findall(r"\[(\d+)\]", answer)})
        citations = [
            {"n": n, "chunk_id": f"{src}#{i}", "source": src, "title": src[3:-3], "text": text}
            for n in cited if 0 < n <= len(retrieved)
            for i, src, text in [retrieved[n - 1]]
        ]
        sentences = [] if declined else [{"text": s, "cites": [int(n) for n in re.findall(r"\[(\d+)\]", s)]}
                                         for s in re.split(r"(?<=\.)\s+", answer) if s]
        return {
            "question": question,
            "answer": answer,
            "declined": declined,
            "decline_reason": "out_of_scope" if declined else None,
            "citations": [] if declined else citations,
            "sentences": sentences,
            "contexts": [text for _, _, text in retrieved],
            "sources": [{"source": f"corpus/{src}", "title": src, "chunk": i, "id": f"{src}#{i}",
                         "score": 0.5} for i, src, _ in retrieved],
            "chain": "tutor",
            "prompt": self.prompt,
            "prompt_hash": "a" * 64,
            "model": self.llm.model_id,
            "timings": {"retrieve_s": 0.0, "generate_s": 0.0, "total_s": 0.0},
        }


def install_fake_chains(monkeypatch: Any, answers: dict[str, str] = GOOD, made: list | None = None) -> list:
    """Make ``promptkit.chains.load_chain("tutor", …)`` build a :class:`FakeTutor` answering with ``answers``
    through the run's replay cache; returns the list of fake models built (newest last)."""
    made = [] if made is None else made

    def load_chain(name, *, llm=None, prompt=None, index=None, cache=None, **kwargs):
        model = llm or make_llm(answers)
        model.cache = cache
        made.append(model)
        return FakeTutor(model, prompt=prompt or "tutor_answer@1")

    module = types.ModuleType("promptkit.chains")
    module.load_chain = load_chain
    monkeypatch.setitem(sys.modules, "promptkit.chains", module)
    return made
