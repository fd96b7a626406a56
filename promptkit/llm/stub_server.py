"""A tiny OpenAI-compatible server that answers at once: for tests and the client-overhead benchmark.

It speaks enough of the OpenAI API for ``ChatOpenAI`` and :class:`~promptkit.llm.served.ServedChatModel`:
``GET /health``, ``GET /v1/models`` (with vLLM's ``max_model_len``), ``POST /v1/chat/completions`` (plain and
streamed, optional ``logprobs``/``top_logprobs``), ``POST /v1/completions`` (``echo`` + ``logprobs``) and
``POST /tokenize`` (vLLM's shape), Ollama's ``GET /api/tags`` and ``POST /api/chat``, and it can misbehave on
purpose: a key it insists on, a delay per request, the first N requests failing with a status (500, 429), or
the whole process dying after N answers. Answers are a deterministic function of the request (the same prompt always gets the same answer), and it records when
each request started and ended, so tests can measure how many were in flight at once (``GET /stats``).

    python -m promptkit.llm.stub_server --port 8765 --model stub --delay 0.05 --die-after 20

Standard library only; runs in its own process (a test can kill it) or in a thread (:class:`StubServer`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_WORDS = re.compile(r"\w+", re.UNICODE)


def stub_answer(prompt: str) -> str:
    """The stub's answer: "sem resposta" for about a third of prompts, else a number or a word of the prompt's
    last user turn, picked by a hash of the prompt (deterministic, so scores are reproducible)."""
    digest = int.from_bytes(hashlib.sha256(prompt.encode("utf-8")).digest()[:4], "little")
    if digest % 3 == 0:
        return "sem resposta"
    numbers = re.findall(r"\d[\d.,]*\d|\d", prompt)
    if numbers and digest % 3 == 1:
        return numbers[digest % len(numbers)]
    words = [w for w in _WORDS.findall(prompt) if len(w) > 3] or ["ok"]
    return words[digest % len(words)]


def _fake_logprob(context: str, token: str) -> float:
    """A deterministic log-probability in (-6, 0) for ``token`` after ``context``."""
    digest = hashlib.sha256(f"{context}\x00{token}".encode()).digest()
    return -6.0 * (int.from_bytes(digest[:4], "little") / 2**32) - 0.01


class _State:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.lock = threading.Lock()
        self.served = 0  # model requests accepted (counted before the answer is sent)
        self.answered = 0  # answers sent
        self.failed = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.intervals: list[tuple[float, float]] = []


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once (no 40 ms delayed-ACK stall per answer)
    server: Any

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stub is quiet
        return

    # -- plumbing --------------------------------------------------------------------------------------------
    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, kind: str) -> None:
        headers = {"Retry-After": "0"} if status == 429 else None
        self._send(status, {"error": {"message": message, "type": kind, "code": status}}, headers)

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return {}

    def _authorised(self) -> bool:
        key = self.server.state.args.api_key
        if key and self.headers.get("Authorization") != f"Bearer {key}":
            self._error(401, "Incorrect API key provided.", "AuthenticationError")
            return False
        return True

    # -- routes ----------------------------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        state: _State = self.server.state
        if self.path == "/health":
            self._send(200, {"status": "ok"})
        elif self.path == "/v1/models":
            if self._authorised():
                self._send(
                    200,
                    {
                        "object": "list",
                        "data": [
                            {
                                "id": state.args.model,
                                "object": "model",
                                "owned_by": "stub",
                                "max_model_len": state.args.window,
                            }
                        ],
                    },
                )
        elif self.path == "/api/tags":  # Ollama's model listing
            self._send(200, {"models": [{"name": state.args.model, "model": state.args.model}]})
        elif self.path == "/stats":
            with state.lock:
                self._send(
                    200,
                    {
                        "served": state.served,
                        "failed": state.failed,
                        "max_in_flight": state.max_in_flight,
                        "intervals": state.intervals,
                    },
                )
        else:
            self._error(404, f"no route {self.path}", "NotFound")

    def do_POST(self) -> None:  # noqa: N802
        state: _State = self.server.state
        body = self._body()
        if self.path == "/tokenize":
            if not state.args.tokenize:
                self._error(404, "no route /tokenize", "NotFound")
            else:
                tokens = _WORDS.findall(str(body.get("prompt", "")))
                self._send(
                    200,
                    {
                        "count": len(tokens),
                        "tokens": list(range(len(tokens))),
                        "max_model_len": state.args.window,
                    },
                )
            return
        if self.path not in ("/v1/chat/completions", "/v1/completions", "/api/chat"):
            self._error(404, f"no route {self.path}", "NotFound")
            return
        if not self._authorised():
            return
        if body.get("model") != state.args.model:
            if self.path == "/api/chat":
                self._send(404, {"error": f"model '{body.get('model')}' not found"})
            else:
                self._error(404, f"The model `{body.get('model')}` does not exist.", "NotFoundError")
            return
        with state.lock:
            if state.failed < state.args.fail_first:
                state.failed += 1
                fail = True
            else:
                fail = False
                state.served += 1  # counted before the answer leaves, so a client that has it sees the count
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
        started = time.monotonic()
        try:
            if fail:
                self._error(state.args.fail_status, "injected failure", "InternalServerError")
                return
            if state.args.delay:
                time.sleep(state.args.delay)
            if self.path == "/api/chat":
                self._ollama_chat(body)
            elif self.path == "/v1/completions":
                self._completion(body)
            elif body.get("stream"):
                self._stream(body)
            else:
                self._chat(body)
        finally:
            with state.lock:
                state.in_flight -= 1
                state.intervals.append((started, time.monotonic()))
                if not fail:
                    state.answered += 1
                die = not fail and state.args.die_after and state.answered >= state.args.die_after
            if die:
                self.wfile.flush()
                os._exit(3)

    def _chat(self, body: dict[str, Any]) -> None:
        state: _State = self.server.state
        messages = body.get("messages") or []
        prompt = json.dumps(messages, ensure_ascii=False, sort_keys=True)
        answer = stub_answer(prompt)
        limit = int(body.get("max_tokens") or body.get("max_completion_tokens") or 64)
        words = answer.split(" ")
        text = " ".join(words[:limit])
        choice: dict[str, Any] = {
            "index": 0,
            "finish_reason": "length" if len(words) > limit else "stop",
            "message": {"role": "assistant", "content": text},
        }
        if body.get("logprobs") and state.args.logprobs:
            top = [
                {"token": t, "logprob": _fake_logprob(prompt, t), "bytes": None}
                for t in ("sim", "não", "Não", "sem", "Sim", *(w for w in words[:1]))
            ]
            top.sort(key=lambda x: -x["logprob"])
            first = words[0] if words else ""
            choice["logprobs"] = {
                "content": [
                    {
                        "token": first,
                        "logprob": _fake_logprob(prompt, first),
                        "bytes": None,
                        "top_logprobs": top,
                    }
                ]
            }
        usage = {"prompt_tokens": len(_WORDS.findall(prompt)), "completion_tokens": min(len(words), limit)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        self._send(
            200,
            {
                "id": "stub",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": state.args.model,
                "choices": [choice],
                "usage": usage,
            },
        )

    def _ollama_chat(self, body: dict[str, Any]) -> None:
        """Ollama's ``/api/chat``: NDJSON chunks when streaming (its default), one object otherwise."""
        state: _State = self.server.state
        messages = body.get("messages") or []
        prompt = json.dumps([{"content": m.get("content", ""), "role": m.get("role", "user")} for m in messages],
                            ensure_ascii=False, sort_keys=True)
        answer = stub_answer(prompt)
        limit = int((body.get("options") or {}).get("num_predict") or 64)
        text = " ".join(answer.split(" ")[:limit])
        final = {"model": state.args.model, "created_at": "2026-01-01T00:00:00Z",
                 "message": {"role": "assistant", "content": "" if body.get("stream", True) else text},
                 "done": True, "done_reason": "stop", "prompt_eval_count": len(_WORDS.findall(prompt)),
                 "eval_count": len(text.split())}
        if not body.get("stream", True):
            self._send(200, final)
            return
        lines = [{"model": state.args.model, "created_at": "2026-01-01T00:00:00Z",
                  "message": {"role": "assistant", "content": text}, "done": False}, final]
        data = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, body: dict[str, Any]) -> None:
        state: _State = self.server.state
        prompt = json.dumps(body.get("messages") or [], ensure_ascii=False, sort_keys=True)
        answer = stub_answer(prompt)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def event(data: str) -> None:
            payload = f"data: {data}\n\n".encode()
            self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")

        pieces = [answer[i : i + 3] for i in range(0, len(answer), 3)]
        for piece in pieces:
            event(
                json.dumps(
                    {
                        "id": "stub",
                        "object": "chat.completion.chunk",
                        "model": state.args.model,
                        "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
                    }
                )
            )
        event(
            json.dumps(
                {
                    "id": "stub",
                    "object": "chat.completion.chunk",
                    "model": state.args.model,
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                }
            )
        )
        event("[DONE]")
        self.wfile.write(b"0\r\n\r\n")

    def _completion(self, body: dict[str, Any]) -> None:
        state: _State = self.server.state
        prompt = str(body.get("prompt", ""))
        choice: dict[str, Any] = {"index": 0, "text": "x", "finish_reason": "length"}
        if body.get("echo") and body.get("logprobs") is not None and state.args.logprobs:
            tokens, offsets, values = [], [], []
            for match in re.finditer(r"\s*\S+", prompt):
                tokens.append(match.group())
                offsets.append(match.start())
                values.append(_fake_logprob(prompt[: match.start()], match.group()))
            values[:1] = [None]
            tokens.append("x")
            offsets.append(len(prompt))
            values.append(-0.5)
            choice["text"] = prompt + "x"
            choice["logprobs"] = {
                "tokens": tokens,
                "token_logprobs": values,
                "text_offset": offsets,
                "top_logprobs": None,
            }
        self._send(
            200,
            {
                "id": "stub",
                "object": "text_completion",
                "model": state.args.model,
                "choices": [choice],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            },
        )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m promptkit.llm.stub_server", description=__doc__.splitlines()[0]
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0: a free port (printed on the first line)")
    p.add_argument("--model", default="stub-model", help="the one model id it serves")
    p.add_argument(
        "--api-key",
        default=os.environ.get("STUB_API_KEY") or None,
        help="require this bearer key (default: $STUB_API_KEY; none: any)",
    )
    p.add_argument("--delay", type=float, default=0.0, help="seconds each answer takes")
    p.add_argument("--fail-first", type=int, default=0, help="fail the first N model requests")
    p.add_argument("--fail-status", type=int, default=500, help="the status of those failures (500, 429 …)")
    p.add_argument("--die-after", type=int, default=0, help="exit the process after N answers")
    p.add_argument("--logprobs", action="store_true", help="return log-probabilities when asked")
    p.add_argument("--tokenize", action="store_true", help="serve vLLM's /tokenize")
    p.add_argument("--window", type=int, default=8192, help="max_model_len it reports")
    return p


class StubServer:
    """The stub in a background thread of this process: ``with StubServer(model="m") as s: s.base_url``."""

    def __init__(self, **options: Any):
        argv: list[str] = []
        for key, value in options.items():
            flag = "--" + key.replace("_", "-")
            if value is True:
                argv.append(flag)
            elif value not in (None, False):
                argv += [flag, str(value)]
        self.args = parser().parse_args(argv)
        self.httpd = ThreadingHTTPServer((self.args.host, self.args.port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.state = _State(self.args)  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.args.host}:{self.port}/v1"

    @property
    def state(self) -> _State:
        return self.httpd.state  # type: ignore[attr-defined]

    def __enter__(self) -> StubServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    httpd = ThreadingHTTPServer((args.host, args.port), _Handler)
    httpd.daemon_threads = True
    httpd.state = _State(args)  # type: ignore[attr-defined]
    print(f"listening on http://{args.host}:{httpd.server_address[1]}/v1", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:  # pragma: no cover
        pass


if __name__ == "__main__":  # pragma: no cover
    main()
