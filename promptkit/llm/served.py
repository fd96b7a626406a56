"""A model behind a server, as a promptkit chat model: OpenAI-compatible servers and Ollama.

:class:`ServedChatModel` speaks to vLLM, TGI, the llama.cpp server, LM Studio, ``transformers serve`` (all
OpenAI-compatible: ``backend="openai"``, through ``langchain_openai.ChatOpenAI``) and Ollama
(``backend="ollama"``, through ``langchain_ollama.ChatOllama``), or wraps any other LangChain chat model
object (``backend="langchain"``, see :func:`adopt`). It is a :class:`~promptkit.llm.base.BatchedChatModel`,
so chains, the replay cache, strict replay and the regression gate treat it like the in-process model:

* **batches are concurrent requests**: ``batch`` keeps up to ``concurrency`` requests in flight and records
  each answer in the replay cache as soon as it arrives (a server that dies mid-batch loses nothing answered);
* **the cache key** holds the backend kind, the server's own model id and every generation setting, never the
  URL (moving the server keeps the cache) nor the API key (:meth:`_get_llm_string`, :meth:`request`);
* **retries**: the OpenAI backend uses the ``openai`` client's own retries (``max_retries``: 408/409/429/5xx,
  timeouts and connection errors, exponential backoff that honours ``Retry-After``); Ollama's client has none,
  so :meth:`_invoke_retrying` retries its connection errors, 429 and 5xx with exponential backoff. After the
  retries a failure is one :class:`~promptkit.errors.ServerError` line (a timeout:
  :class:`~promptkit.errors.GenerationTimeout`) naming the server without credentials;
* **token counts** come from the model's own tokenizer (``tokenizer``: a local folder or catalogue name), else
  the server's ``/tokenize`` endpoint (vLLM, llama.cpp), else UTF-8 bytes (an upper bound); never tiktoken's
  download;
* **log-probabilities** of a continuation come from the completions endpoint (``echo`` + ``logprobs``, exact)
  or the chat endpoint's ``top_logprobs`` of the first token (approximate); :mod:`promptkit.llm.logprobs` says
  in one line when a server gives neither.

The rendered prompt of a served model is its request's messages as canonical JSON (the server applies the chat
template); :meth:`render_template` renders them with the local tokenizer's template where one is named.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Literal

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from pydantic import Field, PrivateAttr

from promptkit.cache import without_credentials
from promptkit.errors import (
    GenerationTimeout,
    MissingDependencyError,
    PromptkitError,
    ServerError,
    UnsupportedError,
    ValidationError,
)
from promptkit.llm.base import BatchedChatModel, Completion

log = logging.getLogger("promptkit.llm")

_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool", "function": "tool"}
#: keys of a wrapped model's settings that never enter a cache key or a results file
_PRIVATE = (
    "url",
    "base",
    "key",
    "token",
    "secret",
    "password",
    "client",
    "host",
    "endpoint",
    "header",
    "proxy",
    "organization",
    "callback",
    "cache",
    "verbose",
    "tags",
    "metadata",
    "rate_limiter",
)
FALLBACK_WINDOW = 4096
#: the client's own call is not a run of its own: callbacks and tracers see this model's call only
_QUIET: dict[str, Any] = {"callbacks": [], "run_name": "served-request"}
TOP_LOGPROBS = 20
#: tokenize endpoints, tried in this order: vLLM's and llama.cpp's ``/tokenize``, llama-cpp-python's count
TOKENIZE_PATHS = ("/tokenize", "/extras/tokenize/count")


class LogprobsUnavailable(UnsupportedError):
    """The model (or its server) returns no log-probabilities."""


def text_of(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(
        p if isinstance(p, str) else str(p.get("text", ""))
        for p in content
        if isinstance(p, str) or (isinstance(p, dict) and p.get("type") == "text")
    )


def chat_of(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    """A conversation as OpenAI-style ``{"role", "content"}`` dicts."""
    out = []
    for m in messages:
        role = getattr(m, "role", None) if m.type == "chat" else _ROLES.get(m.type, "user")
        out.append({"role": role or "user", "content": text_of(m)})
    return out


def messages_of(chat: list[dict[str, str]]) -> list[BaseMessage]:
    kinds = {"system": SystemMessage, "assistant": AIMessage}
    return [kinds.get(c["role"], HumanMessage)(content=c["content"]) for c in chat]


class ServedChatModel(BatchedChatModel):
    """A chat model answered by a server (see the module docstring).

    >>> llm = ServedChatModel(base_url="http://127.0.0.1:8000/v1", model="Qwen/Qwen2.5-7B-Instruct",
    ...                       api_key_env="VLLM_KEY", context_window=32768, concurrency=16)
    """

    backend: Literal["openai", "ollama", "langchain"] = "openai"
    base_url: str | None = None
    model: str = Field(default="", description="the server's own model id")
    served_name: str | None = Field(default=None, description="the name of the entry in models.yaml")
    api_key_env: str | None = Field(default=None, description="environment variable holding the API key")
    tokenizer: str | None = None
    token_counter: Literal["auto", "tokenizer", "server", "bytes"] = "auto"
    timeout: float | None = Field(default=120.0, gt=0)
    max_retries: int = Field(default=2, ge=0, le=10)
    concurrency: int = Field(default=4, ge=1, le=1024)
    logprobs: Literal["auto", "completions", "chat", "none"] = "auto"

    _client: Any = PrivateAttr(default=None)
    _wrapped_settings: dict[str, Any] = PrivateAttr(default_factory=dict)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)
    _checked: bool = PrivateAttr(default=False)
    _window: int | None = PrivateAttr(default=None)
    _counter: Any = PrivateAttr(default=None)
    _counts: dict[str, int] = PrivateAttr(default_factory=dict)
    _logprob_method: str | None = PrivateAttr(default=None)
    _tok: Any = PrivateAttr(default=None)
    _stats: dict[str, int] = PrivateAttr(
        default_factory=lambda: {"sent": 0, "in_flight": 0, "max_in_flight": 0}
    )
    _metadata: dict[str, Any] = PrivateAttr(default_factory=dict)
    _tokenize_path: str | None = PrivateAttr(default=None)

    @property
    def requests_sent(self) -> int:
        """Requests this object has sent (answered or not), for progress bars and benchmarks."""
        return self._stats["sent"]

    @property
    def max_in_flight(self) -> int:
        """The most requests this object (and its copies) had in flight at once, measured client-side."""
        return self._stats["max_in_flight"]

    # -- identity --------------------------------------------------------------------------------------------
    @property
    def _llm_type(self) -> str:
        return f"promptkit-served-{self.backend}"

    @property
    def model_id(self) -> str:
        return self.model

    def numerics(self) -> dict[str, Any]:
        """A wrapped model's own settings (its identifying parameters without URLs, keys or clients)."""
        return dict(self._wrapped_settings)

    @property
    def where(self) -> str:
        """The server, as messages name it (no credentials)."""
        return without_credentials(self.base_url or type(self._client).__name__)

    def request(self, prompt: str, params: dict[str, Any], kind: str = "generate") -> dict[str, Any]:
        out = super().request(prompt, params, kind)
        out["backend"] = self.backend
        if kind == "logprob":
            out["method"] = self._logprob_method or self.logprobs
        return out

    @property
    def _identifying_params(self) -> dict[str, Any]:
        """What results files record: backend, the server's model id and the generation settings (no URL, no
        key: moving the server or rotating the key changes no baseline)."""
        params = {k: v for k, v in self.call_params().items() if k != "timeout"}
        return {
            "backend": self.backend,
            "model": self.model_id,
            **self.numerics(),
            **params,
            "context_window": self.context_window,
        }

    # -- the client ------------------------------------------------------------------------------------------
    def _api_key(self) -> str:
        if not self.api_key_env:
            return "not-needed"  # servers started without a key accept any; the client insists on one
        value = os.environ.get(self.api_key_env)
        if not value:
            raise ServerError(
                f"the API key of served model {self.served_name or self.model!r} is not set: environment "
                f"variable {self.api_key_env} is empty",
                hint=f"export {self.api_key_env}=… (api_key_env in models.yaml names it)",
            )
        return value

    @property
    def client(self) -> Any:
        """The LangChain chat model that sends the requests (built on first use)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._build_client()
        return self._client

    def _build_client(self) -> Any:
        if self.backend in ("openai", "ollama"):
            import importlib.util

            package = "langchain_openai" if self.backend == "openai" else "langchain_ollama"
            if importlib.util.find_spec(package) is None:
                raise MissingDependencyError(f"served models of kind {self.backend} need {package}",
                                             hint='pip install "promptkit[serve]" (or -e ".[serve]")')
        if self.backend == "openai":
            from langchain_openai import ChatOpenAI

            return ChatOpenAI(
                model=self.model,
                base_url=self.base_url,
                api_key=self._api_key(),
                timeout=self.timeout,
                max_retries=self.max_retries,
                cache=False,
            )
        if self.backend == "ollama":
            from langchain_ollama import ChatOllama

            headers = {"Authorization": f"Bearer {self._api_key()}"} if self.api_key_env else {}
            return ChatOllama(
                model=self.model,
                base_url=self.base_url,
                cache=False,
                client_kwargs={"timeout": self.timeout, "headers": headers},
            )
        raise ValidationError("a wrapped chat model needs its object: use promptkit.llm.adopt(model)")

    def _invoke(self, client: Any, messages: list[BaseMessage], kwargs: dict[str, Any]) -> Any:
        """One call of the client, as a step of this model's call (no callbacks or tracing of its own)."""
        return client.invoke(messages, _QUIET, **kwargs)

    def _invoke_retrying(self, client: Any, messages: list[BaseMessage], kwargs: dict[str, Any]) -> Any:
        """Ollama's client has no retries of its own: connection errors, 429 and 5xx are retried here with
        exponential backoff (0.5 s doubling, at most 8 s), ``max_retries`` times."""
        delay = 0.5
        for attempt in range(self.max_retries + 1):
            try:
                return self._invoke(client, messages, kwargs)
            except Exception as exc:  # noqa: BLE001 - re-raised unless worth another try
                status = getattr(exc, "status_code", None)
                transient = (
                    status == 429 or (isinstance(status, int) and status >= 500) or _is_connection(exc)
                )
                if attempt == self.max_retries or not transient:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 8.0)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- requests --------------------------------------------------------------------------------------------
    def _call_kwargs(self, params: dict[str, Any]) -> dict[str, Any]:
        stop = params["stop"] or None
        if self.backend == "openai":
            kwargs: dict[str, Any] = {
                "max_tokens": params["max_new_tokens"],
                "temperature": params["temperature"],
                "top_p": params["top_p"],
                "seed": params["seed"],
                "stop": stop,
            }
            if params.get("timeout"):
                kwargs["timeout"] = params["timeout"]
            return kwargs
        if self.backend == "ollama":
            options = {
                "num_predict": params["max_new_tokens"],
                "temperature": params["temperature"],
                "top_p": params["top_p"],
                "seed": params["seed"],
            }
            if stop:
                options["stop"] = stop
            if self.context_window:
                options["num_ctx"] = self.context_window
            return {"options": options}
        return {"stop": stop} if stop else {}

    def _send(self, prompt: str, params: dict[str, Any]) -> Completion:
        """One request; errors after the client's retries become one clear promptkit error."""
        self._ensure_model()
        messages = messages_of(json.loads(prompt))
        client = self.client
        stats = self._stats
        with self._lock:
            stats["sent"] += 1
            stats["in_flight"] += 1
            stats["max_in_flight"] = max(stats["max_in_flight"], stats["in_flight"])
        try:
            if self.backend == "ollama":
                message = self._invoke_retrying(client, messages, self._call_kwargs(params))
            else:
                message = self._invoke(client, messages, self._call_kwargs(params))
        except PromptkitError:
            raise
        except Exception as exc:  # noqa: BLE001 - every client error is mapped to one promptkit error
            raise self._error(exc, params) from None
        finally:
            with self._lock:
                stats["in_flight"] -= 1
        text = message.content if isinstance(message.content, str) else text_of(message)
        usage = getattr(message, "usage_metadata", None) or {}
        meta = getattr(message, "response_metadata", None) or {}
        finish = meta.get("finish_reason") or meta.get("done_reason") or "stop"
        return Completion(
            text,
            int(usage.get("input_tokens") or 0),
            int(usage.get("output_tokens") or 0),
            "length" if finish == "length" else "stop",
        )

    def batch(
        self, inputs: list[Any], config: Any = None, *, return_exceptions: bool = False, **kwargs: Any
    ) -> list[Any]:
        """A batch of one is one ``invoke`` (LangChain's cache lookup and record around one request); longer
        batches keep ``concurrency`` requests in flight (:meth:`_complete_stream`)."""
        if len(inputs) == 1:
            config = config[0] if isinstance(config, list) else config
            try:
                return [self.invoke(inputs[0], config, **kwargs)]
            except Exception as exc:
                if return_exceptions:
                    return [exc]
                raise
        return super().batch(inputs, config, return_exceptions=return_exceptions, **kwargs)

    def _complete(self, prompts: list[str], params: dict[str, Any]) -> list[Completion]:
        out: list[Completion | None] = [None] * len(prompts)
        for i, completion in self._complete_stream(prompts, params):
            out[i] = completion
        return out  # type: ignore[return-value]

    def _complete_stream(
        self, prompts: list[str], params: dict[str, Any]
    ) -> Iterator[tuple[int, Completion]]:
        """Up to ``concurrency`` requests in flight, answers yielded as they arrive. After a failure no new
        request starts; those in flight finish (and are yielded, so they are recorded), then the first error
        is raised."""
        workers = min(self.concurrency, int(params.get("batch_size") or self.concurrency), len(prompts))
        if workers <= 1:
            for i, prompt in enumerate(prompts):
                yield i, self._send(prompt, params)
            return
        todo = iter(enumerate(prompts))
        error: BaseException | None = None
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="promptkit-request") as pool:
            running: dict[Future, int] = {}

            def fill() -> None:
                while len(running) < workers:
                    nxt = next(todo, None)
                    if nxt is None:
                        return
                    running[pool.submit(self._send, nxt[1], params)] = nxt[0]

            fill()
            while running:
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in done:
                    i = running.pop(future)
                    try:
                        completion = future.result()
                    except BaseException as exc:  # noqa: BLE001 - re-raised once the others are in
                        error = error or exc
                        continue
                    yield i, completion
                if error is None:
                    fill()
        if error is not None:
            raise error

    def _stream_completion(self, prompt: str, params: dict[str, Any]) -> Iterator[str | Completion]:
        self._ensure_model()
        messages = messages_of(json.loads(prompt))
        with self._lock:
            self._stats["sent"] += 1
        text, usage, finish = "", {}, "stop"
        try:
            for chunk in self.client.stream(messages, _QUIET, **self._call_kwargs(params)):
                piece = chunk.content if isinstance(chunk.content, str) else ""
                if piece:
                    text += piece
                    yield piece
                usage = getattr(chunk, "usage_metadata", None) or usage
                reason = (getattr(chunk, "response_metadata", None) or {}).get("finish_reason")
                finish = "length" if reason == "length" else finish
        except PromptkitError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, params) from None
        yield Completion(
            text, int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0), finish
        )

    # -- checks and errors -----------------------------------------------------------------------------------
    def _ensure_model(self) -> None:
        """Before the first request: the server serves this model id (one clear line if not)."""
        if self._checked or self.backend == "langchain":
            return
        served = self.server_models()
        if served is not None and self.model not in served:
            raise ServerError(
                f"the server at {self.where} does not serve model {self.model!r}; it serves: "
                f"{', '.join(served) or 'nothing'}",
                hint=f"fix `model:` of {self.served_name!r} in models.yaml"
                if self.served_name
                else "pass one of the served ids as model=",
            )
        self._checked = True

    def _http(self, method: str, url: str, *, retries: int | None = None, **kwargs: Any) -> Any:
        """A plain HTTP request to the server (model listing, tokenize, log-probabilities), with the key and
        the same retries on connection errors, 429 and 5xx as the model calls."""
        import httpx

        headers = {"Authorization": f"Bearer {self._api_key()}"} if self.api_key_env else {}
        delay = 0.5
        last = self.max_retries if retries is None else retries
        for attempt in range(last + 1):
            try:
                response = httpx.request(method, url, headers=headers, timeout=self.timeout, **kwargs)
            except httpx.TimeoutException:
                if attempt == last:
                    raise GenerationTimeout(
                        f"request to {self.where} timed out after {self.timeout:g} s ({attempt + 1} tries)"
                    ) from None
            except httpx.HTTPError as exc:
                if attempt == last:
                    raise ServerError(
                        f"cannot reach the model server at {self.where} ({_reason(exc)}) after "
                        f"{attempt + 1} tries",
                        hint=_resume_hint(),
                    ) from None
            else:
                if response.status_code in (401, 403):
                    raise ServerError(
                        f"the model server at {self.where} refused the API key (HTTP {response.status_code})",
                        hint=self._key_hint(),
                    )
                if response.status_code != 429 and response.status_code < 500:
                    return response
                if attempt == last:
                    raise ServerError(
                        f"the model server at {self.where} answered HTTP {response.status_code} "
                        f"after {attempt + 1} tries",
                        hint=_resume_hint(),
                    )
            time.sleep(min(delay, 8.0))
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def server_models(self, *, retries: int | None = None) -> list[str] | None:
        """The model ids the server lists (``None`` when it has no listing endpoint)."""
        if self.backend == "ollama":
            response = self._http("GET", f"{self.base_url}/api/tags", retries=retries)
            if response.status_code != 200:
                return None
            names = [m.get("name") or m.get("model") for m in response.json().get("models", [])]
            return [n for n in names if n] + [n.removesuffix(":latest") for n in names if n]
        response = self._http("GET", f"{self.base_url}/models", retries=retries)
        if response.status_code != 200:
            return None
        try:
            self._metadata = {m.get("id"): m for m in response.json().get("data", [])}
        except (ValueError, AttributeError):
            return None
        return [m for m in self._metadata if m]

    def _key_hint(self) -> str:
        if self.api_key_env:
            return (
                f"check the key in the environment variable {self.api_key_env} (api_key_env in models.yaml)"
            )
        return "the server wants a key: set api_key_env in models.yaml to the name of a variable holding it"

    def _error(self, exc: BaseException, params: dict[str, Any]) -> PromptkitError:
        """One promptkit error for a client error (the key never appears in it)."""
        names = {c.__name__ for c in type(exc).__mro__}
        status = getattr(exc, "status_code", None) or getattr(
            getattr(exc, "response", None), "status_code", None
        )
        message = _redact(_server_message(exc), self)
        tries = self.max_retries + 1
        if names & {"APITimeoutError", "ModelTimeoutError", "TimeoutException", "ReadTimeout"} or isinstance(
            exc, TimeoutError
        ):
            timeout = params.get("timeout") or self.timeout
            return GenerationTimeout(
                f"request to model {self.model!r} at {self.where} timed out after "
                f"{timeout:g} s ({tries} tries)",
                hint="raise timeout in models.yaml, or lower concurrency; " + _resume_hint(),
            )
        if status in (401, 403) or names & {"AuthenticationError", "PermissionDeniedError"}:
            return ServerError(
                f"the model server at {self.where} refused the API key (HTTP {status or 401})",
                hint=self._key_hint(),
            )
        if status == 404 or (
            status == 400
            and "model" in message.lower()
            and ("not found" in message.lower() or "does not exist" in message.lower() or "pinned" in message)
        ):
            return ServerError(
                f"the server at {self.where} does not know model {self.model!r} (HTTP {status}: {message})",
                hint="fix `model:` in models.yaml",
            )
        if status is not None and 400 <= status < 500 and status not in (408, 409, 429):
            return ValidationError(
                f"the model server at {self.where} rejected the request (HTTP {status}: {message})",
                hint="check the prompt length and the generation settings",
            )
        if status is not None:
            return ServerError(
                f"the model server at {self.where} answered HTTP {status} after {tries} tries"
                + (f": {message}" if message else ""),
                hint=_resume_hint(),
            )
        return ServerError(
            f"cannot reach the model server at {self.where} ({_reason(exc)}) after {tries} tries",
            hint=_resume_hint(),
        )

    # -- prompts, tokens, window -----------------------------------------------------------------------------
    def render_prompt(self, messages: Sequence[BaseMessage]) -> str:
        """The request's messages as canonical JSON: what is sent (the server applies its chat template)."""
        return json.dumps(chat_of(messages), ensure_ascii=False, separators=(",", ":"))

    def _local_tokenizer(self) -> Any:
        if self._tok is None:
            if not self.tokenizer:
                self._tok = False
            else:
                from promptkit.llm.runtime import resolve
                from promptkit.llm.tokenizer import load_tokenizer

                resolved = resolve(self.tokenizer)
                source = resolved.source(progress=False) if resolved.local_only else resolved.model_id
                self._tok = (source, load_tokenizer(source, local_only=resolved.local_only))
        return self._tok or None

    def render_template(self, prompt_or_messages: str | Sequence[BaseMessage]) -> str | None:
        """The text the server's chat template makes of a request, rendered with the local tokenizer's
        template (``None`` without a local tokenizer that has one)."""
        tok = self._local_tokenizer()
        if tok is None or not getattr(tok[1], "chat_template", None):
            return None
        chat = (
            json.loads(prompt_or_messages)
            if isinstance(prompt_or_messages, str)
            else chat_of(prompt_or_messages)
        )
        return tok[1].apply_chat_template(chat, tokenize=False, add_generation_prompt=True)

    def get_num_tokens(self, text: str) -> int:
        """Tokens of ``text``: the local tokenizer, the server's ``/tokenize``, or UTF-8 bytes (an upper bound
        for byte-level tokenizers), as ``token_counter`` says (``auto``: the first that is available)."""
        count = self._counts.get(text)
        if count is not None:
            return count
        counter = self._pick_counter()
        count = counter(text)
        if len(self._counts) > 50_000:
            self._counts.clear()
        self._counts[text] = count
        return count

    @property
    def counts_with(self) -> str:
        """Which counter :meth:`get_num_tokens` uses: ``tokenizer``, ``server`` or ``bytes``."""
        self._pick_counter()
        return self._counter[0]

    def _pick_counter(self) -> Any:
        if self._counter is not None:
            return self._counter[1]
        with self._lock:
            if self._counter is None:
                self._counter = self._choose_counter()
        return self._counter[1]

    def _choose_counter(self) -> tuple[str, Any]:
        choice = self.token_counter
        if choice in ("auto", "tokenizer") and self._local_tokenizer() is not None:
            from promptkit.llm.tokenizer import count_tokens

            source, tok = self._local_tokenizer()
            return ("tokenizer", lambda t: count_tokens(source, tok, t))
        elif choice == "tokenizer":
            raise ValidationError(
                f"served model {self.served_name or self.model!r} has token_counter: tokenizer "
                "but names no tokenizer",
                hint="set tokenizer: FOLDER or a catalogue name",
            )
        elif choice in ("auto", "server") and self._server_tokenize("probe") is not None:
            return ("server", lambda t: int(self._server_tokenize(t)))  # type: ignore[arg-type]
        elif choice == "server":
            raise UnsupportedError(
                f"the server at {self.where} has no tokenize endpoint",
                hint="name a local tokenizer in models.yaml, or token_counter: bytes",
            )
        else:
            if choice == "auto":
                log.warning(
                    "served model %s: no tokenizer named and no tokenize endpoint; token counts are UTF-8 "
                    "bytes (an upper bound: contexts are fitted conservatively)",
                    self.served_name or self.model,
                )
        return ("bytes", lambda t: len(t.encode("utf-8")))

    def _root(self) -> str:
        base = (self.base_url or "").rstrip("/")
        return base[:-3] if base.endswith("/v1") else base

    def _server_tokenize(self, text: str) -> int | None:
        """Tokens of ``text`` from the server's tokenize endpoint (``None`` when it has none): vLLM's and
        llama.cpp's ``/tokenize``, llama-cpp-python's ``/extras/tokenize/count``."""
        if self.backend != "openai" or not self.base_url:
            return None
        probing = text == "probe"
        paths = TOKENIZE_PATHS if probing or self._tokenize_path is None else (self._tokenize_path,)
        for path in paths:
            try:
                response = self._http(
                    "POST",
                    f"{self._root()}{path}",
                    retries=0 if probing else None,
                    json={"model": self.model, "prompt": text, "content": text, "input": text,
                          "add_special_tokens": False},
                )
            except PromptkitError:
                if probing:
                    return None
                raise
            if response.status_code != 200:
                continue
            try:
                body = response.json()
            except ValueError:
                continue
            count = body.get("count")
            if not isinstance(count, int) and isinstance(body.get("tokens"), list):
                count = len(body["tokens"])
            if isinstance(count, int):
                self._tokenize_path = path
                return int(count)
        return None

    @property
    def window(self) -> int:
        """``context_window`` (models.yaml), else the local tokenizer folder's config, else the server's model
        listing (vLLM's ``max_model_len``, llama.cpp's ``n_ctx``), else 4096."""
        if self.context_window:
            return self.context_window
        if self._window is None:
            self._window = self._discover_window()
        return self._window

    def _discover_window(self) -> int:
        tok = self._local_tokenizer()
        if tok is not None:
            from promptkit.llm.runtime import config_window

            found = config_window(tok[0])
            if found:
                return found
        if self.backend == "openai" and self.base_url:
            try:
                self.server_models(retries=0)
            except PromptkitError:
                pass
            meta = self._metadata.get(self.model) or {}
            for key in ("max_model_len", "context_length", "context_window", "n_ctx"):
                if isinstance(meta.get(key), int):
                    return int(meta[key])
            inner = meta.get("meta") or {}
            if isinstance(inner.get("n_ctx_train"), int):
                return int(inner["n_ctx_train"])
        log.warning(
            "served model %s: context window unknown; assuming %d tokens (set context_window in models.yaml)",
            self.served_name or self.model,
            FALLBACK_WINDOW,
        )
        return FALLBACK_WINDOW

    # -- log-probabilities -----------------------------------------------------------------------------------
    def _logprob(self, prompts: list[str], continuations: list[str]) -> list[float]:
        method = self._logprob_method or self._choose_logprob_method()
        if method == "completions":
            values = [self._completion_logprob(p, c) for p, c in zip(prompts, continuations, strict=True)]
            if all(v is not None for v in values):
                return values  # type: ignore[return-value]
            if self.logprobs == "completions":
                raise self._no_logprobs()
            self._logprob_method = method = "chat"
        if method == "chat":
            values = [self._chat_logprob(p, c) for p, c in zip(prompts, continuations, strict=True)]
            if all(v is not None for v in values):
                return values  # type: ignore[return-value]
        self._logprob_method = "none"
        raise self._no_logprobs()

    def _choose_logprob_method(self) -> str:
        if self.logprobs == "none" or self.backend != "openai":
            raise self._no_logprobs()
        if self.logprobs in ("completions", "chat"):
            self._logprob_method = self.logprobs
        else:
            tok = self._local_tokenizer()
            can_render = tok is not None and bool(getattr(tok[1], "chat_template", None))
            self._logprob_method = "completions" if can_render else "chat"
        return self._logprob_method

    def _no_logprobs(self) -> LogprobsUnavailable:
        return LogprobsUnavailable(
            f"the server at {self.where} returns no log-probabilities for model {self.model!r}"
        )

    def _completion_logprob(self, prompt: str, continuation: str) -> float | None:
        """Exact: the completions endpoint scores the prompt rendered with the chat template plus the
        continuation (``echo``), and the continuation's tokens are summed by their text offsets."""
        self._ensure_model()
        text = self.render_template(prompt)
        if text is None:
            return None
        response = self._http(
            "POST",
            f"{self.base_url}/completions",
            json={
                "model": self.model,
                "prompt": text + continuation,
                "max_tokens": 1,
                "temperature": 0,
                "echo": True,
                "logprobs": 1,
            },
        )
        if response.status_code != 200:
            return None
        choice = (response.json().get("choices") or [{}])[0]
        lp = choice.get("logprobs") or {}
        offsets, values = lp.get("text_offset"), lp.get("token_logprobs")
        if not offsets or not values:
            return None
        start, end = len(text), len(text) + len(continuation)
        picked = [v for o, v in zip(offsets, values, strict=False) if start <= o < end and v is not None]
        return float(sum(picked)) if picked else None

    def _chat_logprob(self, prompt: str, continuation: str) -> float | None:
        """Approximate: log P of the continuation's first token among the first answer token's
        ``top_logprobs`` (the lowest listed value, an upper bound, when it is not among them)."""
        self._ensure_model()
        response = self._http(
            "POST",
            f"{self.base_url}/chat/completions",
            json={
                "model": self.model,
                "messages": json.loads(prompt),
                "max_tokens": 1,
                "temperature": 0,
                "logprobs": True,
                "top_logprobs": TOP_LOGPROBS,
            },
        )
        if response.status_code != 200:
            return None
        choice = (response.json().get("choices") or [{}])[0]
        content = (choice.get("logprobs") or {}).get("content") or []
        if not content or not content[0].get("top_logprobs"):
            return None
        top = content[0]["top_logprobs"]
        wanted = continuation.lstrip()
        best: tuple[int, float] | None = None
        for item in top:
            token = str(item.get("token", "")).replace("\u0120", " ").lstrip()
            if token and wanted.startswith(token) and (best is None or len(token) > best[0]):
                best = (len(token), float(item["logprob"]))
        return best[1] if best else min(float(i["logprob"]) for i in top)


def _is_connection(exc: BaseException) -> bool:
    import httpx

    return isinstance(exc, (httpx.TransportError, ConnectionError))


def _reason(exc: BaseException) -> str:
    cause = exc
    while cause.__cause__ is not None or cause.__context__ is not None:
        cause = cause.__cause__ or cause.__context__  # type: ignore[assignment]
    text = str(cause) or type(cause).__name__
    if "refused" in text.lower():
        return "connection refused"
    return text.splitlines()[0][:120]


def _server_message(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        detail = body.get("detail") or body.get("message") or (body.get("error") or {})
        if isinstance(detail, dict):
            detail = detail.get("message")
        if detail:
            return str(detail)[:200]
    text = str(getattr(exc, "message", None) or exc)
    return text.splitlines()[0][:200] if text else ""


def _redact(text: str, model: ServedChatModel) -> str:
    key = os.environ.get(model.api_key_env or "") if model.api_key_env else None
    if key:
        text = text.replace(key, "***")
    return without_credentials(text)


def _resume_hint() -> str:
    return ("answers received so far are kept in the replay cache; run the same command again to send only "
            "the rest")


def adopt(llm: Any) -> BatchedChatModel:
    """Any LangChain chat model as a promptkit chat model (promptkit's own models are returned as they are).

    A ``ChatOpenAI`` or ``ChatOllama`` becomes a :class:`ServedChatModel` of that backend that sends through
    the given object (its key, URL, timeout and retries); any other chat model is wrapped as it is, keyed by
    its own settings (URLs, keys and clients left out). Token counts then never go through tiktoken.
    """
    if isinstance(llm, BatchedChatModel):
        return llm
    from langchain_core.language_models import BaseChatModel

    if not isinstance(llm, BaseChatModel):
        raise ValidationError(
            f"expected a LangChain chat model, got {type(llm).__name__}",
            hint="pass e.g. ChatOpenAI(base_url=…, model=…) or a promptkit model name",
        )
    kind = type(llm).__name__
    fields: dict[str, Any] = {}
    if kind == "ChatOpenAI":
        fields = {
            "backend": "openai",
            "model": llm.model_name,
            "base_url": llm.openai_api_base,
            "timeout": _seconds(llm.request_timeout),
            "max_retries": llm.max_retries or 0,
        }
        for ours, theirs in (
            ("temperature", "temperature"),
            ("max_tokens", "max_tokens"),
            ("top_p", "top_p"),
            ("seed", "seed"),
            ("stop", "stop"),
        ):
            value = getattr(llm, theirs, None)
            if value is not None:
                fields[ours] = value
    elif kind == "ChatOllama":
        fields = {"backend": "ollama", "model": llm.model, "base_url": llm.base_url}
        for ours, theirs in (
            ("temperature", "temperature"),
            ("max_tokens", "num_predict"),
            ("top_p", "top_p"),
            ("seed", "seed"),
            ("stop", "stop"),
            ("context_window", "num_ctx"),
        ):
            value = getattr(llm, theirs, None)
            if value is not None:
                fields[ours] = value
    else:
        name = (
            getattr(llm, "model_name", None) or getattr(llm, "model", None) or getattr(llm, "model_id", None)
        )
        fields = {"backend": "langchain", "model": str(name or llm._llm_type), "timeout": None}
    wrapped = ServedChatModel(**{k: v for k, v in fields.items() if v is not None or k == "timeout"})
    wrapped._client = llm
    wrapped._checked = kind not in ("ChatOpenAI", "ChatOllama")
    if wrapped.backend == "langchain":
        wrapped._wrapped_settings = _public_settings(llm)
    return wrapped


def _seconds(value: Any) -> float | None:
    if isinstance(value, int | float) and value > 0:
        return float(value)
    return 120.0


def _public_settings(llm: Any) -> dict[str, Any]:
    """A wrapped model's identifying parameters that are plain data and name no URL, key or client."""
    try:
        params = dict(llm._identifying_params)
    except Exception:  # noqa: BLE001 - a model without them is keyed by its type and name
        return {"type": llm._llm_type}
    out: dict[str, Any] = {"type": llm._llm_type}
    for key, value in params.items():
        if any(word in key.lower() for word in _PRIVATE):
            continue
        if (
            isinstance(value, str | int | float | bool)
            or value is None
            or (isinstance(value, list | tuple) and all(isinstance(v, str | int | float) for v in value))
        ):
            out[key] = list(value) if isinstance(value, tuple) else value
    return out
