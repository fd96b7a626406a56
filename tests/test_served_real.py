"""A real OpenAI-compatible server: ``transformers serve`` over the converted default model on 127.0.0.1.

Chains and evaluation end to end, requests overlapping, the server killed mid-run and restarted (nothing lost,
the resume completes with the scores of an uninterrupted run), strict replay with the server stopped, a
timeout, a model id the server does not know, and a server that gives no log-probabilities.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from langchain_core.messages import HumanMessage
from served_support import transformers_serve, write_models

from promptkit.cache import ReplayCache
from promptkit.cli import main
from promptkit.errors import GenerationTimeout, ServerError
from promptkit.evaluation import evaluate
from promptkit.evaluation.concurrent import IncompleteRun
from promptkit.llm import load_llm
from promptkit.llm.logprobs import continuation_logprobs
from promptkit.llm.served import ServedChatModel

pytestmark = [pytest.mark.server, pytest.mark.model]

DEFAULT = "qwen2.5-coder-0.5b-instruct"


@pytest.fixture(scope="module")
def folder() -> str:
    from promptkit.weights import pull

    return str(pull(DEFAULT, progress=False))


@pytest.fixture(scope="module")
def server(folder, tmp_path_factory):
    proc = transformers_serve(folder, log=tmp_path_factory.mktemp("serve") / "serve.log").start()
    yield proc
    proc.kill()


@pytest.fixture
def served(server, folder, tmp_path, monkeypatch):
    """models.yaml naming the server's model, with the local tokenizer for token counts."""
    path = write_models(
        tmp_path / "models.yaml",
        [
            {
                "name": "served-default",
                "kind": "openai",
                "base_url": server.base_url,
                "model": folder,
                "tokenizer": DEFAULT,
                "context_window": 32768,
                "timeout": 300,
                "max_retries": 1,
                "concurrency": 2,
            }
        ],
    )
    monkeypatch.setenv("PROMPTKIT_MODELS", str(path))
    return server


def ensure_running(server) -> None:
    if server.proc is None or server.proc.poll() is not None:
        server.start()


def test_a_chain_answers_through_the_server(served):
    from promptkit.chains import load_chain

    llm = load_llm("served-default")
    out = load_chain("qa_zero_shot", llm=llm).invoke(
        {
            "question": "Quantas tarefas compõem o MMLU?",
            "context": "O MMLU reúne 57 tarefas de múltipla escolha.",
        }
    )
    assert out["answer"] == "57"
    assert llm.counts_with == "tokenizer"  # the chain's budget counted with the model's own tokenizer


def test_the_server_renders_the_prompt_the_in_process_template_renders(served):
    """The server's prompt token count equals the local chat template's: no template difference."""
    from promptkit.llm.local import LocalChatModel

    local = LocalChatModel(model=DEFAULT)
    messages = [HumanMessage("Responda só com o número: quanto é 2+2?")]
    message = load_llm("served-default", max_tokens=4).invoke(messages)
    assert message.usage_metadata["input_tokens"] == local.get_num_tokens(local.render_prompt(messages))


def test_eval_overlaps_requests_then_survives_a_kill_and_replays_strictly(served, tmp_path):
    server = served
    cache_path = tmp_path / "c.sqlite"
    common = {
        "chain": "qa_zero_shot",
        "dataset": "course_qa",
        "split": "dev",
        "limit": 4,
        "show_progress": False,
    }

    llm = load_llm("served-default", max_retries=0)
    killed = threading.Event()

    def kill_after_first_answer() -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not killed.is_set():
            if cache_path.exists() and len(ReplayCache(cache_path)) >= 1:
                server.kill()
                killed.set()
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=kill_after_first_answer, daemon=True)
    watcher.start()
    with pytest.raises(IncompleteRun) as info:
        evaluate(**common, llm=llm, concurrency=2, cache=ReplayCache(cache_path))
    watcher.join(timeout=5)
    assert killed.is_set() and llm.max_in_flight == 2  # two requests were in flight at once
    kept = len(ReplayCache(cache_path))
    assert 1 <= kept < 4 and "run stopped after" in str(info.value)

    server.start()  # the server comes back on the same port
    resumed_llm = load_llm("served-default")
    resumed = evaluate(**common, llm=resumed_llm, concurrency=2, cache=ReplayCache(cache_path))
    assert resumed_llm.requests_sent == 4 - kept and resumed.cache.hits == kept
    whole = evaluate(
        **common, llm=load_llm("served-default"), concurrency=1, cache=ReplayCache(tmp_path / "fresh.sqlite")
    )
    assert [r.prediction for r in resumed.rows] == [r.prediction for r in whole.rows]
    assert resumed.metrics == whole.metrics

    server.kill()
    try:
        replayed = evaluate(
            **common, llm=load_llm("served-default"), cache=ReplayCache(cache_path, mode="strict")
        )
        assert replayed.metrics == whole.metrics
    finally:
        ensure_running(server)


def test_a_model_id_the_server_does_not_know_is_one_cli_line(served, tmp_path, monkeypatch, capsys):
    ensure_running(served)
    write_models(
        tmp_path / "bad.yaml",
        [{"name": "typo", "kind": "openai", "base_url": served.base_url, "model": "Qwen/not-this-one"}],
    )
    monkeypatch.setenv("PROMPTKIT_MODELS", str(tmp_path / "bad.yaml"))
    code = main(["run", "qa_zero_shot", "--model", "typo", "-i", "question=Quanto é 2+2?", "-i", "context=4"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "does not serve model 'Qwen/not-this-one'" in err[0]


def test_no_logprobs_from_this_server_is_said_and_the_run_goes_on(served):
    ensure_running(served)
    llm = load_llm("served-default")
    chat = [HumanMessage("Este texto é seguro? Responda sim ou não.")]
    assert continuation_logprobs(llm, [chat], ["sim"], feature="moderation yes/no layer") is None
    assert llm.invoke(chat, max_tokens=4).content  # the model still answers


def test_a_request_past_its_timeout_fails_with_a_clear_error(served, folder):
    ensure_running(served)
    llm = ServedChatModel(base_url=served.base_url, model=folder, timeout=0.05, max_retries=0, max_tokens=256)
    with pytest.raises(GenerationTimeout, match="timed out after 0.05 s"):
        llm.invoke("Escreva um texto longo sobre redes neurais.")
    with pytest.raises(ServerError):
        ServedChatModel(base_url="http://127.0.0.1:9/v1", model=folder, max_retries=0).invoke("oi")
    json.dumps(llm._identifying_params)  # plain data only
