"""Served models against the stub OpenAI-compatible server on 127.0.0.1: models.yaml, the cache-key rule, keys
that never leak, errors as one line, retries, timeouts, concurrency, token counts and log-probabilities."""

from __future__ import annotations

import json
import logging
import time

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from served_support import write_models

from promptkit.cache import ReplayCache
from promptkit.errors import CacheMissError, GenerationTimeout, NotFoundError, ServerError, ValidationError
from promptkit.llm import load_llm
from promptkit.llm.logprobs import continuation_logprobs, label_probabilities
from promptkit.llm.registry import load_models_file
from promptkit.llm.served import ServedChatModel, adopt
from promptkit.llm.stub_server import StubServer, stub_answer

SECRET = "sk-test-7f3a9c-never-written-anywhere"


@pytest.fixture
def stub():
    with StubServer(model="stub-model", logprobs=True) as server:
        yield server


def served(server: StubServer, **settings) -> ServedChatModel:
    return ServedChatModel(base_url=server.base_url, model="stub-model", **settings)


def entry(server: StubServer, **fields) -> dict:
    return {"name": "stub", "kind": "openai", "base_url": server.base_url, "model": "stub-model", **fields}


# -- models.yaml ---------------------------------------------------------------------------------------------


def test_models_yaml_entry_builds_a_served_model_with_its_settings(tmp_path, monkeypatch, stub):
    path = write_models(
        tmp_path / "models.yaml",
        [
            entry(
                stub,
                context_window=2048,
                concurrency=6,
                timeout=9,
                generation={"max_new_tokens": 12, "temperature": 0.3},
            )
        ],
    )
    monkeypatch.setenv("PROMPTKIT_MODELS", str(path))
    llm = load_llm(
        "stub", dtype="fp32", threads=2, batch_size=4
    )  # the in-process decoder's settings are dropped
    assert isinstance(llm, ServedChatModel)
    assert (llm.backend, llm.model, llm.window, llm.concurrency, llm.timeout) == (
        "openai",
        "stub-model",
        2048,
        6,
        9,
    )
    assert (llm.max_new_tokens, llm.temperature) == (12, 0.3)
    assert llm.invoke("Quanto é 2+2?").content == stub_answer(
        json.dumps([{"content": "Quanto é 2+2?", "role": "user"}], ensure_ascii=False, sort_keys=True)
    )


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"kind": "vllm"}, "models[0] (stub).kind"),
        ({"colour": "red"}, "models[0] (stub).colour"),
        ({"api_key": "sk-x"}, "holds a secret"),
        ({"base_url": "http://bob:pw@127.0.0.1:1/v1"}, "no credentials in base_url"),
        ({"concurrency": 0}, "concurrency"),
    ],
)
def test_models_yaml_errors_are_one_line_naming_entry_and_field(tmp_path, change, expected):
    path = write_models(
        tmp_path / "models.yaml",
        [{"name": "stub", "kind": "openai", "base_url": "http://127.0.0.1:1/v1", "model": "m", **change}],
    )
    with pytest.raises(ValidationError) as info:
        load_models_file(path)
    assert expected in str(info.value) and "\n" not in str(info.value)
    assert "sk-x" not in str(info.value) and "pw" not in str(info.value)


def test_an_unknown_name_is_neither_served_nor_catalogued(tmp_path, monkeypatch, stub):
    monkeypatch.setenv("PROMPTKIT_MODELS", str(write_models(tmp_path / "models.yaml", [entry(stub)])))
    with pytest.raises(NotFoundError, match="unknown model 'stubb'"):
        load_llm("stubb")


# -- the cache key -------------------------------------------------------------------------------------------


def test_cache_key_holds_backend_model_and_settings_but_not_url_or_key(monkeypatch):
    monkeypatch.setenv("STUB_KEY", SECRET)
    a = ServedChatModel(base_url="http://127.0.0.1:8000/v1", model="qwen", api_key_env="STUB_KEY")
    moved = ServedChatModel(base_url="http://10.1.2.3:9999/v1", model="qwen", api_key_env="OTHER_KEY")
    key = a._get_llm_string()
    assert key == moved._get_llm_string()
    assert "8000" not in key and "127.0.0.1" not in key and SECRET not in key and "STUB_KEY" not in key
    assert json.loads(key)["_type"] == "promptkit-served-openai" and json.loads(key)["model"] == "qwen"
    assert a._get_llm_string(temperature=0.5) != key
    assert ServedChatModel(base_url="http://127.0.0.1:8000/v1", model="qwen2")._get_llm_string() != key
    assert (
        ServedChatModel(backend="ollama", base_url="http://127.0.0.1:8000", model="qwen")._get_llm_string()
        != key
    )
    assert SECRET not in repr(a) and SECRET not in json.dumps(a._identifying_params)
    assert "base_url" not in a._identifying_params


def test_strict_replay_of_a_served_run_needs_no_server_and_no_key(tmp_path, monkeypatch):
    monkeypatch.setenv("STUB_KEY", SECRET)
    prompts = [f"Qual é o módulo {i} do curso?" for i in range(6)]
    with StubServer(model="stub-model", api_key=SECRET) as server:
        recorded = served(server, api_key_env="STUB_KEY", cache=ReplayCache(tmp_path / "c.sqlite")).batch(
            prompts
        )
        url = server.base_url
    monkeypatch.delenv("STUB_KEY")
    replay = ServedChatModel(
        base_url=url,
        model="stub-model",
        api_key_env="STUB_KEY",
        cache=ReplayCache(tmp_path / "c.sqlite", mode="strict"),
    )
    assert [m.content for m in replay.batch(prompts)] == [m.content for m in recorded]
    assert replay.requests_sent == 0
    with pytest.raises(CacheMissError, match="strict replay: 1 model call"):
        replay.invoke("uma pergunta nova")
    assert SECRET.encode() not in (tmp_path / "c.sqlite").read_bytes()


# -- keys and errors -----------------------------------------------------------------------------------------


def test_a_wrong_api_key_is_one_line_without_the_key(monkeypatch):
    monkeypatch.setenv("STUB_KEY", SECRET)
    with StubServer(model="stub-model", api_key="the-right-one") as server:
        llm = served(server, api_key_env="STUB_KEY", max_retries=0)
        with pytest.raises(ServerError) as info:
            llm.invoke("oi")
    text = str(info.value)
    assert "refused the API key (HTTP 401)" in text and "STUB_KEY" in text
    assert SECRET not in text and "\n" not in text and server.state.served == 0


def test_an_unset_key_variable_is_named(monkeypatch, stub):
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    with pytest.raises(ServerError, match="environment variable NO_SUCH_KEY_VAR is empty"):
        served(stub, api_key_env="NO_SUCH_KEY_VAR").invoke("oi")


def test_a_model_id_the_server_does_not_serve_is_one_line_listing_what_it_serves(stub):
    with pytest.raises(ServerError) as info:
        ServedChatModel(base_url=stub.base_url, model="qwen-typo").invoke("oi")
    assert "does not serve model 'qwen-typo'; it serves: stub-model" in str(info.value)
    assert stub.state.served == 0


def test_server_errors_are_retried_by_the_openai_client_then_reported():
    with StubServer(model="stub-model", fail_first=2, fail_status=500) as server:
        assert served(server, max_retries=2).invoke("oi").content
        assert (server.state.failed, server.state.served) == (2, 1)
    with StubServer(model="stub-model", fail_first=2, fail_status=429) as server:
        assert served(server, max_retries=2).invoke("oi").content
    with StubServer(model="stub-model", fail_first=99, fail_status=500) as server:
        with pytest.raises(ServerError) as info:
            served(server, max_retries=1).invoke("oi")
        assert "answered HTTP 500 after 2 tries" in str(info.value) and server.state.failed == 2


def test_a_request_past_its_timeout_is_a_generation_timeout():
    with StubServer(model="stub-model", delay=1.5) as server:
        llm = served(server, timeout=0.3, max_retries=0)
        started = time.monotonic()
        with pytest.raises(GenerationTimeout, match="timed out after 0.3 s"):
            llm.invoke("oi")
        assert time.monotonic() - started < 1.4


def test_an_unreachable_server_is_one_line_with_the_url_without_credentials():
    llm = ServedChatModel(base_url="http://127.0.0.1:9/v1", model="m", max_retries=0)
    with pytest.raises(ServerError, match=r"cannot reach the model server at http://127.0.0.1:9/v1"):
        llm.invoke("oi")


# -- concurrency and streaming -------------------------------------------------------------------------------


def test_a_batch_keeps_concurrency_requests_in_flight_and_records_each_answer(tmp_path):
    with StubServer(model="stub-model", delay=0.25) as server:
        cache = ReplayCache(tmp_path / "c.sqlite")
        llm = served(server, concurrency=4, cache=cache)
        out = llm.batch([f"pergunta {i}" for i in range(8)])
        assert len(out) == 8 and server.state.max_in_flight == 4
        # measured server-side: eight requests of 0.25 s took about two waves, not eight in a row
        spans = server.state.intervals
        busy = sum(end - start for start, end in spans)
        assert busy / (max(e for _, e in spans) - min(s for s, _ in spans)) > 2.5
    assert len(cache) == 8


def test_streaming_yields_pieces_that_add_up_to_the_answer(stub):
    llm = served(stub)
    pieces = [c.content for c in llm.stream("Explique embeddings.")]
    assert len([p for p in pieces if p]) > 1
    assert "".join(pieces) == llm.invoke("Explique embeddings.").content


# -- tokens and window ---------------------------------------------------------------------------------------


def test_token_counts_never_use_tiktoken(monkeypatch):
    import tiktoken

    def refuse(*args, **kwargs):
        raise AssertionError("tiktoken was asked for an encoding (a download offline)")

    monkeypatch.setattr(tiktoken, "get_encoding", refuse)
    monkeypatch.setattr(tiktoken, "encoding_for_model", refuse)
    with StubServer(model="stub-model", tokenize=True) as server:
        llm = served(server)
        assert llm.get_num_tokens("três palavras aqui") == 3 and llm.counts_with == "server"
    plain = ServedChatModel(base_url="http://127.0.0.1:9/v1", model="m")
    assert plain.get_num_tokens("ação") == len("ação".encode()) and plain.counts_with == "bytes"
    from langchain_openai import ChatOpenAI

    wrapped = adopt(ChatOpenAI(base_url="http://127.0.0.1:9/v1", api_key="x", model="gpt-4o"))
    assert wrapped.get_num_tokens("abc") == 3


def test_token_counts_and_template_from_a_local_tokenizer(tmp_path, chat_tokenizer):
    llm = ServedChatModel(base_url="http://127.0.0.1:9/v1", model="m", tokenizer=str(chat_tokenizer))
    assert llm.get_num_tokens("w3 w4 w5") == 3 and llm.counts_with == "tokenizer"
    rendered = llm.render_template([SystemMessage("w3"), HumanMessage("w4")])
    assert rendered == "<s>system w3</s><s>user w4</s><s>assistant "


def test_the_window_comes_from_models_yaml_else_the_server_listing():
    with StubServer(model="stub-model", window=12345) as server:
        assert served(server).window == 12345
        assert served(server, context_window=2048).window == 2048


# -- log-probabilities ---------------------------------------------------------------------------------------


def test_logprobs_from_chat_top_logprobs_and_from_completions_echo(tmp_path, stub, chat_tokenizer):
    chat = [HumanMessage("O texto é seguro?")]
    by_chat = served(stub, cache=ReplayCache(tmp_path / "c.sqlite"))
    values = continuation_logprobs(by_chat, [chat, chat], ["sim", "não"])
    assert values is not None and all(v < 0 for v in values) and values[0] != values[1]
    probs = label_probabilities(by_chat, [chat], ["sim", "não"])
    assert probs is not None and abs(sum(probs[0].values()) - 1) < 1e-9
    by_echo = served(stub, tokenizer=str(chat_tokenizer), logprobs="completions")
    exact = continuation_logprobs(by_echo, [chat], ["w7 w8"])
    assert exact is not None and exact[0] < 0 and by_echo._logprob_method == "completions"


def test_a_server_without_logprobs_says_so_once_and_returns_none(caplog):
    caplog.set_level(logging.WARNING, logger="promptkit.llm")
    with StubServer(model="stub-model") as server:  # no --logprobs: it answers without them
        llm = served(server)
        chat = [HumanMessage("O texto é seguro?")]
        assert continuation_logprobs(llm, [chat], ["sim"], feature="moderation yes/no layer") is None
        assert continuation_logprobs(llm, [chat], ["não"], feature="moderation yes/no layer") is None
    lines = [r.getMessage() for r in caplog.records if "moderation yes/no layer" in r.getMessage()]
    assert len(lines) == 1 and "returns no log-probabilities" in lines[0]


# -- any LangChain chat model --------------------------------------------------------------------------------


def test_a_chatopenai_object_runs_a_chain_offline(stub):
    from langchain_openai import ChatOpenAI

    from promptkit.chains import load_chain

    raw = ChatOpenAI(base_url=stub.base_url, api_key="x", model="stub-model", temperature=0)
    llm = load_llm(raw)
    assert isinstance(llm, ServedChatModel) and llm.client is raw and llm.backend == "openai"
    out = load_chain("qa_zero_shot", llm=llm).invoke(
        {"question": "Quantas tarefas compõem o MMLU?", "context": "O MMLU reúne 57 tarefas."}
    )
    assert isinstance(out["answer"], str) and out["model"] == "stub-model"


def test_any_other_chat_model_is_keyed_by_its_own_settings():
    from langchain_core.language_models import FakeListChatModel

    llm = adopt(FakeListChatModel(responses=["57"]))
    assert llm.invoke("Quantas tarefas?").content == "57"
    key = json.loads(llm._get_llm_string())
    assert key["_type"] == "promptkit-served-langchain" and key["numerics"]["type"] == "fake-list-chat-model"
    with pytest.raises(ValidationError, match="expected a LangChain chat model"):
        adopt(object())


@pytest.fixture
def chat_tokenizer(tmp_path):
    """A word-level tokenizer folder (token ``wi``) with a tiny chat template."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["<pad>", "</s>", "<s>"] + [f"w{i}" for i in range(3, 64)]
    inner = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="w3"))
    inner.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(tokenizer_object=inner, pad_token="<pad>", eos_token="</s>")
    tok.chat_template = (
        "{% for m in messages %}<s>{{ m['role'] }} {{ m['content'] }}</s>{% endfor %}"
        "{% if add_generation_prompt %}<s>assistant {% endif %}"
    )
    folder = tmp_path / "tok"
    tok.save_pretrained(folder)
    return folder


def test_the_shipped_example_models_file_is_valid():
    from served_support import REPO

    names = [m.name for m in load_models_file(REPO / "models.example.yaml").models]
    assert names == ["qwen-7b-vllm", "qwen-0.5b-local-server", "qwen-gguf-llamacpp", "qwen-7b-ollama"]


def test_the_ollama_backend_answers_retries_and_names_an_unknown_model():
    with StubServer(model="qwen2.5:7b") as server:
        root = server.base_url.removesuffix("/v1")
        llm = ServedChatModel(backend="ollama", base_url=root, model="qwen2.5:7b", max_tokens=8)
        prompt = json.dumps([{"content": "Quanto é 2+2?", "role": "user"}], ensure_ascii=False, sort_keys=True)
        message = llm.invoke("Quanto é 2+2?")
        assert message.content == stub_answer(prompt) and message.usage_metadata["input_tokens"] > 0
        assert json.loads(llm._get_llm_string())["_type"] == "promptkit-served-ollama"
        with pytest.raises(ServerError, match="does not serve model 'llama3'; it serves: qwen2.5:7b"):
            ServedChatModel(backend="ollama", base_url=root, model="llama3").invoke("oi")
    with StubServer(model="qwen2.5:7b", fail_first=2, fail_status=500) as server:
        root = server.base_url.removesuffix("/v1")
        assert ServedChatModel(backend="ollama", base_url=root, model="qwen2.5:7b", max_retries=2).invoke("oi")
        assert (server.state.failed, server.state.served) == (2, 1)  # promptkit's own backoff for Ollama
