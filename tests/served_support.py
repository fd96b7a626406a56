"""Starting real servers on 127.0.0.1 for the served-model tests: the stub OpenAI-compatible server (its own
process, so a test can kill it) and ``transformers serve`` over the converted default model."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen, seconds: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            detail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}\n{detail}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not become healthy in {seconds:.0f} s")


class ServerProcess:
    """A server in its own process group on a fixed port: start, kill (SIGKILL, like a crash), restart."""

    def __init__(
        self,
        argv: list[str],
        port: int,
        *,
        env: dict[str, str] | None = None,
        boot_s: float = 30,
        log: Path | None = None,
    ):
        self.argv, self.port, self.env, self.boot_s, self.log = argv, port, env, boot_s, log
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> ServerProcess:
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            self.argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(self.env or {})},
        )
        wait_healthy(f"http://127.0.0.1:{self.port}/health", self.proc, self.boot_s, self.log)
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def wait_exit(self, seconds: float = 10) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=seconds)

    def stats(self) -> dict:
        return httpx.get(f"http://127.0.0.1:{self.port}/stats", timeout=5).json()


def stub_process(
    *flags: str, port: int | None = None, model: str = "stub-model", **env: str
) -> ServerProcess:
    port = port or free_port()
    argv = [sys.executable, "-m", "promptkit.llm.stub_server", "--port", str(port), "--model", model, *flags]
    return ServerProcess(argv, port, env={"PYTHONPATH": str(REPO), **env}, boot_s=20)


def transformers_serve(
    folder: str, port: int | None = None, *, log: Path | None = None, dtype: str = "bfloat16"
) -> ServerProcess:
    """``transformers serve`` pinned to a local model folder, offline."""
    exe = shutil.which("transformers") or str(Path(sys.executable).parent / "transformers")
    port = port or free_port()
    argv = [
        exe,
        "serve",
        folder,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--dtype",
        dtype,
        "--log-level",
        "warning",
    ]
    return ServerProcess(
        argv, port, env={"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}, boot_s=240, log=log
    )


def write_models(path: Path, entries: list[dict]) -> Path:
    import yaml

    path.write_text(yaml.safe_dump({"models": entries}, sort_keys=False), encoding="utf-8")
    return path
