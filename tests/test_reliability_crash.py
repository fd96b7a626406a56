"""Crash and concurrency tests: ``kill -9`` in the middle of an index build or an evaluation leaves the
previous state usable and the next run resumes from what was saved; several processes sharing one replay
cache do not corrupt it.

The work runs in child interpreters (``python -c``) that import the library and use slowed-down fakes, so the
kill lands while embeddings are computed, while files are committed, or while model batches are generated.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from corpus_support import write_corpus

from promptkit.testing import FakeChatModel, FakeEmbeddings

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow

DOCS = {
    "01-atencao.md": "---\ntitle: Atenção\n---\n\nA atenção compara consultas com chaves e pondera.\n",
    "02-temperatura.md": "A temperatura alta deixa a saída mais variada; a baixa, mais previsível.\n",
    "03-rag.txt": "A geração aumentada por recuperação busca trechos relevantes antes de responder.\n",
}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _spawn(script: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=REPO,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 90.0, count: int = 1) -> None:
    """Wait until ``path`` holds at least ``count`` lines (the child's progress marks)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= count:
            return
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"child exited early ({proc.returncode}): {err[-2000:]}")
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"child never reached {path}")


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def _hashes(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()
    }


# -- index build ---------------------------------------------------------------------------------------------

BUILD_SCRIPT = """
import sys, time
from pathlib import Path
from promptkit.testing import FakeEmbeddings
import promptkit.index.store as store
from promptkit.index import build_index

corpus, out, marks, stage = sys.argv[1:5] if len(sys.argv) > 4 else ({args})

class SlowEmbeddings(FakeEmbeddings):
    def embed_documents(self, texts):
        with open(marks, "a") as f:
            f.write("embedding\\n")
        if stage == "embedding":
            time.sleep(60)
        return super().embed_documents(texts)

real_json = store.atomic_write_json
def slow_commit(path, obj):
    if Path(path).name == "manifest.json" and stage == "commit":
        with open(marks, "a") as f:
            f.write("data files written\\n")
        time.sleep(60)
    return real_json(path, obj)
store.atomic_write_json = slow_commit

build_index(corpus, out, embeddings=SlowEmbeddings(), show_progress=False)
"""


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus", DOCS)


@pytest.mark.parametrize("stage", ["embedding", "commit"])
def test_kill_during_index_build_keeps_the_previous_index(stage, corpus, tmp_path):
    from promptkit.index import build_index, load_index

    out = tmp_path / "ix"
    build_index(corpus, out, embeddings=FakeEmbeddings(), show_progress=False)
    before = _hashes(out)
    old_hits = [
        d.page_content for d in load_index(out, embeddings=FakeEmbeddings()).search("temperatura", k=2)
    ]

    # a change to index: one file edited, one added
    (corpus / "02-temperatura.md").write_text("A temperatura baixa concentra a probabilidade.\n")
    (corpus / "04-novo.md").write_text("O few-shot mostra exemplos resolvidos no prompt.\n")
    marks = tmp_path / "marks.txt"
    args = ", ".join(repr(str(p)) for p in (corpus, out, marks)) + f", {stage!r}"
    proc = _spawn(BUILD_SCRIPT.replace("{args}", args))
    _wait_for(marks, proc, count=2 if stage == "commit" else 1)
    _kill(proc)

    # the previous index is intact and usable
    after = {k: v for k, v in _hashes(out).items() if not k.startswith(".")}
    assert {k: before[k] for k in after if k in before} == {k: after[k] for k in after if k in before}
    assert all(name in after for name in before if not name.startswith("."))
    index = load_index(out, embeddings=FakeEmbeddings())
    assert [d.page_content for d in index.search("temperatura", k=2)] == old_hits

    # the next build resumes: unchanged files are reused, leftovers are cleaned
    report = build_index(corpus, out, embeddings=FakeEmbeddings(), show_progress=False)
    assert report.chunks_reused > 0 and report.files_unchanged == 2
    assert report.files_changed == 1 and report.files_added == 1
    leftovers = [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    assert not leftovers
    data_files = [p.name for p in out.iterdir() if p.name.startswith(("index-", "chunks-"))]
    assert len(data_files) == 2, "files of the killed build are removed by the next commit"
    hits = load_index(out, embeddings=FakeEmbeddings()).search("few-shot exemplos", k=1)
    assert "few-shot" in hits[0].page_content


# -- evaluation ----------------------------------------------------------------------------------------------

EVAL_SCRIPT = """
import sys, time
from promptkit.testing import FakeChatModel
from promptkit.cache import ReplayCache
from promptkit.evaluation import evaluate

cache_path, marks, out, model_id, delay, limit = ({args})

class SlowFake(FakeChatModel):
    def _complete(self, prompts, params):
        time.sleep(delay)
        texts = super()._complete(prompts, params)
        with open(marks, "a") as f:
            f.write(f"batch {{len(prompts)}}\\n")
        return texts

llm = SlowFake(model=model_id, default="sem resposta", rules=[("temperatura", "mais previsível")],
               batch_size=2)
with ReplayCache(cache_path) as cache:
    result = evaluate(chain="qa_zero_shot", dataset="course_qa", limit=limit, llm=llm, cache=cache,
                      out=out, show_progress=False, chunk_size=4)
print(result.cache.hits, result.cache.misses)
"""


def _eval_script(cache: Path, marks: Path, out: Path | None, model_id: str, delay: float, limit: int) -> str:
    args = (
        f"{str(cache)!r}, {str(marks)!r}, {str(out) if out else None!r}, {model_id!r}, {delay!r}, {limit!r}"
    )
    return EVAL_SCRIPT.replace("{args}", args).replace("{{", "{").replace("}}", "}")


def _integrity(cache: Path) -> tuple[str, int]:
    con = sqlite3.connect(cache)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0], con.execute(
            "SELECT COUNT(*) FROM calls"
        ).fetchone()[0]
    finally:
        con.close()


def test_kill_during_eval_run_keeps_results_and_resumes_from_the_cache(tmp_path):
    from promptkit.cache import ReplayCache
    from promptkit.evaluation import evaluate

    cache = tmp_path / "replay.sqlite"
    out = tmp_path / "results.json"
    limit = 16
    # a previous results file that must survive the crash byte for byte
    previous = evaluate(
        chain="qa_zero_shot",
        dataset="course_qa",
        limit=4,
        cache="off",
        llm=FakeChatModel(model="slow-fake"),
        show_progress=False,
        out=out,
    )
    assert previous.dataset.total == 4
    saved = out.read_bytes()

    marks = tmp_path / "marks.txt"
    proc = _spawn(_eval_script(cache, marks, out, "slow-fake", 0.4, limit))
    _wait_for(marks, proc, count=3)  # three batches of two answered and cached
    _kill(proc)

    assert out.read_bytes() == saved, "the results file is replaced atomically or not at all"
    status, rows = _integrity(cache)
    assert status == "ok" and rows >= 6

    llm = FakeChatModel(
        model="slow-fake", default="sem resposta", rules=[("temperatura", "mais previsível")], batch_size=2
    )
    with ReplayCache(cache) as store:
        result = evaluate(
            chain="qa_zero_shot",
            dataset="course_qa",
            limit=limit,
            llm=llm,
            cache=store,
            out=out,
            show_progress=False,
            chunk_size=4,
        )
    assert result.cache.hits >= 6 and result.cache.hits + result.cache.misses == limit
    assert sum(len(b) for b in llm.calls) == result.cache.misses
    fresh = evaluate(
        chain="qa_zero_shot",
        dataset="course_qa",
        limit=limit,
        cache="off",
        show_progress=False,
        llm=FakeChatModel(
            model="slow-fake", default="sem resposta", rules=[("temperatura", "mais previsível")]
        ),
    )
    assert [r.prediction for r in result.rows] == [r.prediction for r in fresh.rows]
    assert json.loads(out.read_text())["dataset"]["total"] == limit


# -- concurrency ---------------------------------------------------------------------------------------------


def test_concurrent_evals_share_one_replay_cache(tmp_path):
    """Three processes (two with the same model, one with another) write one cache at the same time."""
    cache = tmp_path / "replay.sqlite"
    limit = 24
    procs = []
    for i, model_id in enumerate(["fake-a", "fake-a", "fake-b"]):
        marks = tmp_path / f"marks-{i}.txt"
        procs.append(_spawn(_eval_script(cache, marks, None, model_id, 0.02, limit)))
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
        outputs.append(out.split())
    status, rows = _integrity(cache)
    assert status == "ok"
    assert rows == 2 * limit, "one row per distinct request (same model: same keys)"
    for hits, misses in outputs:
        assert int(hits) + int(misses) == limit
    from promptkit.cache import ReplayCache
    from promptkit.evaluation import evaluate

    with ReplayCache(cache, mode="strict") as store:
        replayed = evaluate(
            chain="qa_zero_shot",
            dataset="course_qa",
            limit=limit,
            cache=store,
            llm=FakeChatModel(model="fake-b", batch_size=2),
            show_progress=False,
        )
    assert replayed.cache.hits == limit and replayed.cache.misses == 0
