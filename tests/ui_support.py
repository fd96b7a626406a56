"""Helpers shared by the playground tests (no tests here): a tiny course index, a tutor-shaped chain double
and a project made by `promptkit init` with a baseline recorded by a fake model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from promptkit.testing import FakeChatModel

DOCS = {
    "transformers.md": "---\ntitle: Transformers\n---\n\n## Origem\n\nO Transformer foi apresentado em 2017 "
    "no artigo Attention Is All You Need, de Vaswani e colegas do Google.\n",
    "temperatura.md": "---\ntitle: Temperatura\n---\n\n## Amostragem\n\nA temperatura reescala as "
    "probabilidades dos tokens antes da escolha do próximo token.\n",
}

#: the tutor chain's output as TUTOR_CONTRACT.md describes it
TUTOR_OUT: dict[str, Any] = {
    "question": "O que é temperatura em um LLM?",
    "answer": "A temperatura controla o quão aleatória é a escolha do próximo token [1]. "
    "Valores baixos deixam a saída mais previsível [2].",
    "declined": False,
    "decline_reason": None,
    "citations": [
        {
            "n": 1,
            "chunk_id": "10-saida#3",
            "source": "10-saida-do-llm-e-temperatura.md",
            "title": "A saída do LLM e a temperatura",
            "text": "A temperatura reescala a distribuição de probabilidade.",
        },
        {
            "n": 2,
            "chunk_id": "10-saida#4",
            "source": "10-saida-do-llm-e-temperatura.md",
            "title": "A saída do LLM e a temperatura",
            "text": "Com temperatura baixa a saída fica mais previsível.",
        },
    ],
    "sentences": [
        {
            "text": "A temperatura controla o quão aleatória é a escolha do próximo token [1].",
            "cites": [1],
            "support": 0.82,
            "supported": True,
        },
        {
            "text": "Valores baixos deixam a saída mais previsível [2].",
            "cites": [2],
            "support": 0.4,
            "supported": False,
        },
    ],
    "contexts": [
        "A temperatura reescala a distribuição de probabilidade.",
        "Com temperatura baixa a saída fica mais previsível.",
    ],
    "sources": [
        {
            "source": "10-saida-do-llm-e-temperatura.md",
            "title": "A saída do LLM e a temperatura",
            "chunk": 3,
            "id": "10-saida#3",
            "score": 0.41,
        }
    ],
    "chain": "tutor",
    "prompt": "tutor_answer@1",
    "prompt_hash": "abc",
    "model": "qwen2.5-coder-0.5b-instruct",
    "timings": {"retrieve_s": 0.05, "generate_s": 4.1, "total_s": 4.3},
}

TUTOR_DECLINED: dict[str, Any] = {
    **TUTOR_OUT,
    "answer": "Não encontrei isso no material do curso.",
    "declined": True,
    "decline_reason": "out_of_scope",
    "citations": [],
    "sentences": [],
}


class TutorDouble:
    """Streams like a chain: pieces of the answer, then the whole output dict."""

    def __init__(self, out: dict[str, Any], pieces: int = 3):
        self.out = out
        self.pieces = pieces
        self.inputs: list[dict[str, Any]] = []

    def stream(self, inputs: dict[str, Any]):
        self.inputs.append(inputs)
        answer = self.out["answer"]
        step = max(1, len(answer) // self.pieces)
        for i in range(0, len(answer), step):
            yield {"answer": answer[i : i + step]}
        yield dict(self.out)

    def invoke(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return dict(self.out)


def gold_answerer(project: Path, worse_marker: str | None = None) -> FakeChatModel:
    """A fake model answering the project's questions with their gold answers (abstaining on every question
    when the prompt contains ``worse_marker``)."""
    data = json.loads((project / "eval" / "datasets" / "perguntas_curso.json").read_text(encoding="utf-8"))
    gold = {
        qa["question"]: (qa["answers"][0]["text"] if qa["answers"] else "sem resposta")
        for article in data["data"]
        for p in article["paragraphs"]
        for qa in p["qas"]
    }

    def respond(prompt: str) -> str:
        if worse_marker and worse_marker in prompt:
            return "sem resposta"
        return next((answer for question, answer in gold.items() if question in prompt), "sem resposta")

    return FakeChatModel(respond=respond)


def init_with_baseline(folder: Path, marker: str | None = None) -> FakeChatModel:
    """`promptkit init` into ``folder``, record its suite's baseline with a :func:`gold_answerer` (abstaining
    where the prompt holds ``marker``) and return that model. PROMPTKIT_PROJECT must already point at
    ``folder``."""
    from promptkit.regression import record_baseline
    from promptkit.scaffold import init_project

    init_project(folder)
    llm = gold_answerer(folder, worse_marker=marker)
    record_baseline("projeto", cache_path=folder / "cache.sqlite", llm=llm, show_progress=False)
    return llm


def tutor_runs(project: Path) -> tuple[Path, Path]:
    """Two results files of the long-form task (schema ``promptkit.eval/v2``) under ``project``'s
    ``eval/results/``, run with the stand-in tutor of :mod:`tutor_support`: a good one (``tutor_answer@1``,
    written first) and a worse one (``tutor_answer@2``: a wrong number, a false decline, an out-of-scope
    answer)."""
    import os

    from tutor_support import GOOD, WORSE, FakeTutor, make_llm, write_dataset

    from promptkit.evaluation import evaluate

    results = project / "eval" / "results"
    results.mkdir(parents=True, exist_ok=True)
    dataset = write_dataset(project)
    good, worse = results / "tutor_bom.json", results / "tutor_pior.json"
    for path, answers, prompt in ((good, GOOD, "tutor_answer@1"), (worse, WORSE, "tutor_answer@2")):
        evaluate(
            chain=FakeTutor(make_llm(answers), prompt=prompt),
            dataset=dataset,
            cache="off",
            out=path,
            show_progress=False,
        )
    stamp = good.stat().st_mtime
    os.utime(worse, (stamp + 60, stamp + 60))  # the worse run is the newer one
    return good, worse
