"""evaluate() end to end with the fake model: both modes, the replay cache, resume, the results file."""

from __future__ import annotations

import json
import sys
import types
from typing import Any

import pytest
from langchain_core.runnables import Runnable

from promptkit.cache import ReplayCache
from promptkit.errors import CacheMissError, ValidationError
from promptkit.evaluation import EvalResult, evaluate
from promptkit.testing import FakeChatModel

CONTEXTS = [
    "O perceptron foi proposto por Frank Rosenblatt em 1958, na Universidade Cornell.",
    "O artigo de 1943 de Warren McCulloch e Walter Pitts descreveu o neurônio artificial.",
]
QUESTIONS = [
    ("q1", 0, "Quem propôs o perceptron?", ["Frank Rosenblatt"], "dev"),
    ("q2", 0, "Em que ano o perceptron foi proposto?", ["1958", "em 1958"], "dev"),
    ("q3", 1, "Em que ano saiu o artigo do neurônio artificial?", ["1943"], "test"),
    ("q4", 1, "Quantas páginas tinha o artigo?", [], "test"),
    ("q5", 0, "Em que universidade?", ["Universidade Cornell"], "dev"),
]


def tiny_squad() -> dict:
    paragraphs = []
    for ci, context in enumerate(CONTEXTS):
        qas = []
        for qid, cidx, question, answers, split in QUESTIONS:
            if cidx != ci:
                continue
            qas.append(
                {
                    "id": qid,
                    "question": question,
                    "is_impossible": not answers,
                    "split": split,
                    "answers": [{"text": a, "answer_start": context.find(a)} for a in answers],
                }
            )
        paragraphs.append({"context": context, "qas": qas})
    return {"version": "v2.0", "data": [{"title": "perceptron", "paragraphs": paragraphs}]}


@pytest.fixture
def dataset(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(tiny_squad(), ensure_ascii=False), encoding="utf-8")
    return path


def make_llm() -> FakeChatModel:
    return FakeChatModel(
        rules=[
            ("Quem propôs", "Frank Rosenblatt"),
            ("perceptron foi proposto?", "Em 1958."),
            ("artigo do neurônio", "1943"),
            ("Quantas páginas", "Não há resposta."),
            ("universidade", "a Cornell"),
        ]
    )


class FakeQAChain(Runnable):
    """A QA chain honouring the contract: one model.batch call per chain.batch call."""

    def __init__(self, llm: FakeChatModel, fail_on_call: int | None = None):
        self.llm = llm
        self.name = "fake_qa"
        self.batch_calls = 0
        self.fail_on_call = fail_on_call

    def _retrieve(self, question: str) -> list[str]:
        words = set(question.lower().split())
        return sorted(CONTEXTS, key=lambda c: -len(words & set(c.lower().split())))

    def invoke(self, input: dict, config: Any = None, **kwargs: Any) -> dict:
        return self.batch([input])[0]

    def batch(self, inputs: list[dict], config: Any = None, **kwargs: Any) -> list[dict]:
        self.batch_calls += 1
        if self.fail_on_call == self.batch_calls:
            raise KeyboardInterrupt
        contexts = [
            [i["context"]] if i["context"] is not None else self._retrieve(i["question"]) for i in inputs
        ]
        prompts = [
            f"Contexto: {' '.join(c)}\nPergunta: {i['question']}"
            for i, c in zip(inputs, contexts, strict=True)
        ]
        messages = self.llm.batch(prompts, config)  # config carries the run's callbacks
        outs = []
        for message, ctx in zip(messages, contexts, strict=True):
            text = message.content
            abstained = text.startswith("Não há")
            outs.append(
                {
                    "answer": "" if abstained else text,
                    "raw": text,
                    "abstained": abstained,
                    "prompt": "qa_fake@2",
                    "prompt_hash": "f" * 64,
                    "model": self.llm.model_id,
                    "sources": [
                        {"source": f"corpus/{n}.md", "title": "t", "chunk": n, "score": 1.0 - n / 10}
                        for n in range(len(ctx))
                    ],
                    "contexts": ctx,
                    "examples": [],
                    "moderation": None,
                }
            )
        return outs


def test_reading_mode_end_to_end(dataset, tmp_path):
    llm = make_llm()
    chain = FakeQAChain(llm)
    out = tmp_path / "results" / "run.json"
    result = evaluate(chain=chain, dataset=dataset, out=out, show_progress=False, chunk_size=2)
    assert chain.batch_calls == 3 and len(llm.calls) == 3  # chunks of 2, batched
    rows = result.row_map()
    assert rows["q1"].exact == 1
    assert rows["q2"].exact == 1 and rows["q2"].raw == "Em 1958."  # matches the gold "em 1958"
    assert rows["q4"].abstained and rows["q4"].prediction == "" and rows["q4"].exact == 1
    assert rows["q5"].exact == 0 and rows["q5"].f1 == pytest.approx(2 / 3)
    assert result.metrics["total"] == 5 and result.metrics["NoAns_total"] == 1
    assert result.metrics["exact"] == 80.0
    assert result.metrics_pt["exact"] == 80.0
    assert result.normalizers == {"official": "squad-v2.0", "pt": "pt-v1"}
    assert result.retrieval is None
    assert result.prompt.ref == "qa_fake@2" and result.model.id == "fake-chat"
    assert result.model.settings["batch_size"] == llm.batch_size
    assert result.cache.mode == "use" and result.cache.misses == 5 and result.cache.hits == 0
    assert set(result.versions) >= {"promptkit", "langchain-core", "transformers", "torch"}
    assert result.ci["exact"]["low"] <= 80.0 <= result.ci["exact"]["high"]
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert saved["schema"] == "promptkit.eval/v1"
    assert EvalResult.load(out) == result


def test_rag_mode_passes_no_context_and_reports_hits(dataset):
    llm = make_llm()
    chain = FakeQAChain(llm)
    result = evaluate(chain=chain, dataset=dataset, mode="rag", show_progress=False)
    assert all("Contexto:" in p for batch in llm.calls for p in batch)
    assert result.mode == "rag"
    assert result.retrieval is not None
    assert result.retrieval.k == 2 and result.retrieval.total == 4  # answerable questions only
    assert 0 <= result.retrieval.hit_at_1 <= result.retrieval.hit_at_k == 100.0
    assert result.row_map()["q4"].hit_rank is None
    assert result.rows[0].sources[0]["source"] == "corpus/0.md"


def test_split_and_limit(dataset):
    llm = make_llm()
    result = evaluate(chain=FakeQAChain(llm), dataset=dataset, split="test", show_progress=False)
    assert [r.id for r in result.rows] == ["q3", "q4"] and result.dataset.split == "test"
    result = evaluate(chain=FakeQAChain(llm), dataset=dataset, limit=2, show_progress=False)
    assert [r.id for r in result.rows] == ["q1", "q2"] and result.dataset.limit == 2


def test_second_run_replays_from_cache_and_strict_mode(dataset):
    first = evaluate(chain=FakeQAChain(make_llm()), dataset=dataset, show_progress=False)  # model found
    llm = make_llm()
    again = evaluate(chain=FakeQAChain(llm), dataset=dataset, cache="strict", show_progress=False)
    assert llm.calls == []  # nothing generated
    assert again.cache.hits == 5 and again.cache.misses == 0
    assert [r.prediction for r in again.rows] == [r.prediction for r in first.rows]


def test_strict_mode_fails_on_a_miss(dataset):
    llm = make_llm()
    with pytest.raises(CacheMissError, match="strict replay"):
        evaluate(chain=FakeQAChain(llm), dataset=dataset, cache="strict", show_progress=False)
    assert llm.calls == []


def test_cache_off_records_nothing(dataset):
    llm = make_llm()
    evaluate(chain=FakeQAChain(llm), dataset=dataset, cache="off", show_progress=False)
    assert llm.cache is None  # restored after the run
    with pytest.raises(CacheMissError):
        evaluate(chain=FakeQAChain(make_llm()), dataset=dataset, cache="strict", show_progress=False)


def test_interrupted_run_resumes_from_the_cache(dataset):
    llm = make_llm()
    with pytest.raises(KeyboardInterrupt):
        evaluate(
            chain=FakeQAChain(llm, fail_on_call=2),
            dataset=dataset,
            chunk_size=2,
            show_progress=False,
        )
    assert len(llm.calls) == 1 and len(llm.calls[0]) == 2
    llm2 = make_llm()
    result = evaluate(chain=FakeQAChain(llm2), dataset=dataset, chunk_size=2, show_progress=False)
    assert result.cache.hits == 2 and result.cache.misses == 3
    assert sum(len(b) for b in llm2.calls) == 3


def test_an_open_cache_can_be_passed(dataset, tmp_path):
    llm = make_llm()
    with ReplayCache(tmp_path / "mine.sqlite", mode="use") as cache:
        result = evaluate(chain=FakeQAChain(llm), dataset=dataset, cache=cache, show_progress=False)
        assert len(cache) == 5
    assert result.cache.path == str(tmp_path / "mine.sqlite")


def test_plain_string_outputs_are_accepted(dataset):
    from langchain_core.runnables import RunnableLambda

    chain = RunnableLambda(lambda x: "Sem resposta." if "páginas" in x["question"] else "1958")
    result = evaluate(chain=chain, dataset=dataset, cache="off", show_progress=False)
    rows = result.row_map()
    assert rows["q2"].exact == 1 and rows["q4"].abstained and rows["q4"].exact == 1


def test_bad_arguments(dataset):
    llm = make_llm()
    with pytest.raises(ValidationError, match="unknown mode"):
        evaluate(chain=FakeQAChain(llm), dataset=dataset, mode="open")
    with pytest.raises(ValidationError, match="only apply when chain is a chain name"):
        evaluate(chain=FakeQAChain(llm), dataset=dataset, prompt="qa@1", show_progress=False)
    with pytest.raises(ValidationError, match="chain must be a chain name or a LangChain Runnable"):
        evaluate(chain=42, dataset=dataset, show_progress=False)
    with pytest.raises(ValidationError, match="unknown cache mode"):
        evaluate(chain=FakeQAChain(llm), dataset=dataset, cache="sometimes", show_progress=False)


def test_chain_name_is_resolved_with_load_chain(dataset, monkeypatch):
    seen: dict[str, Any] = {}
    llm = make_llm()

    def load_chain(name, *, llm=None, prompt=None, index=None, cache=None, **kwargs):
        seen.update(name=name, llm=llm, prompt=prompt, index=index, cache=cache)
        llm.cache = cache
        return FakeQAChain(llm)

    fake = types.ModuleType("promptkit.chains")
    fake.load_chain = load_chain
    monkeypatch.setitem(sys.modules, "promptkit.chains", fake)
    result = evaluate(chain="qa_zero_shot", dataset=dataset, llm=llm, prompt="qa_fake@2", show_progress=False)
    assert seen["name"] == "qa_zero_shot" and seen["prompt"] == "qa_fake@2" and seen["llm"] is llm
    assert isinstance(seen["cache"], ReplayCache) and seen["cache"].mode == "use"
    assert result.chain == "qa_zero_shot"
    assert result.model.settings["max_new_tokens"] == llm.max_new_tokens  # found inside the chain
    assert result.cache.misses == 5


def test_results_file_schema_is_strict(tmp_path, dataset):
    llm = make_llm()
    result = evaluate(chain=FakeQAChain(llm), dataset=dataset, show_progress=False)
    data = json.loads(result.to_json())
    assert set(data) == {
        "schema",
        "chain",
        "mode",
        "dataset",
        "prompt",
        "model",
        "metrics",
        "metrics_pt",
        "normalizers",
        "ci",
        "retrieval",
        "cache",
        "versions",
        "timestamp",
        "duration_s",
        "rows",
    }
    assert set(data["rows"][0]) >= {
        "id",
        "question",
        "answers",
        "prediction",
        "raw",
        "exact",
        "f1",
        "abstained",
        "sources",
        "latency_s",
    }
    assert list(data["metrics"])[:3] == ["exact", "f1", "total"]
    data["rows"][0]["surprise"] = 1
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValidationError, match="not a promptkit results file"):
        EvalResult.load(bad)


def test_lcel_chain_model_and_bound_settings_are_found(dataset):
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.runnables import RunnableLambda

    llm = make_llm()
    chain = (
        RunnableLambda(lambda x: f"Contexto: {x['context']}\nPergunta: {x['question']}")
        | llm.bind(max_new_tokens=7)
        | StrOutputParser()
    )
    result = evaluate(chain=chain, dataset=dataset, show_progress=False)
    assert result.model.id == "fake-chat"
    assert result.model.settings["max_new_tokens"] == 7
    assert result.cache.misses == 5  # the model found inside the chain used the run's replay cache
    assert result.row_map()["q1"].exact == 1 and result.row_map()["q4"].abstained


def test_hit_rank_counts_by_retrieval_rank_when_the_prompt_shows_the_best_document_last(dataset):
    llm = make_llm()
    ranked = evaluate(chain=FakeQAChain(llm), dataset=dataset, mode="rag", show_progress=False)

    class BestLast(FakeQAChain):
        def batch(self, inputs, config=None, **kwargs):
            outs = super().batch(inputs, config, **kwargs)
            for out in outs:
                out["contexts"] = out["contexts"][::-1]
                out["context_order"] = "best_last"
            return outs

    shown = evaluate(chain=BestLast(llm), dataset=dataset, mode="rag", show_progress=False)
    assert [r.hit_rank for r in shown.rows] == [r.hit_rank for r in ranked.rows]
    assert shown.retrieval == ranked.retrieval
    assert ranked.retrieval.k == 2 and any(r.hit_rank == 1 for r in ranked.rows)  # reversed, these would be 2


def test_a_loaded_chain_passed_as_an_object_keeps_its_name(dataset):
    from promptkit.chains import load_chain

    chain = load_chain("qa_zero_shot", llm=make_llm())
    result = evaluate(chain=chain, dataset=dataset, show_progress=False)
    assert result.chain == "qa_zero_shot"
