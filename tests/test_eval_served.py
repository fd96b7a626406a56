"""Evaluation against served models (the stub server on 127.0.0.1, in its own process where it must die):
concurrency, a server killed mid-run and restarted, errors as one CLI line, shards and merge, the gate."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from served_support import REPO, free_port, stub_process, write_models

from promptkit.cache import ReplayCache
from promptkit.cli import main
from promptkit.evaluation import evaluate
from promptkit.evaluation.concurrent import IncompleteRun
from promptkit.evaluation.merge import merge_results
from promptkit.evaluation.shards import select_shard, shard_of
from promptkit.llm.stub_server import StubServer
from promptkit.testing import FakeChatModel

TIMING = {"timestamp", "duration_s", "cache"}


def comparable(result) -> dict:
    """A result without what measures the run itself (time, cache counts, per-row latency)."""
    data = json.loads(result.to_json())
    for key in TIMING:
        data.pop(key)
    for row in data["rows"]:
        row.pop("latency_s")
    return data


@pytest.fixture
def models_file(tmp_path, monkeypatch):
    def make(base_url: str, **fields) -> Path:
        path = write_models(
            tmp_path / "models.yaml",
            [
                {
                    "name": "stub",
                    "kind": "openai",
                    "base_url": base_url,
                    "model": "stub-model",
                    "context_window": 4096,
                    "max_retries": 1,
                    **fields,
                }
            ],
        )
        monkeypatch.setenv("PROMPTKIT_MODELS", str(path))
        return path

    return make


def test_eval_keeps_n_requests_in_flight(tmp_path, models_file):
    with StubServer(model="stub-model", delay=0.15) as server:
        models_file(server.base_url, concurrency=2)
        result = evaluate(
            chain="qa_zero_shot",
            dataset="course_qa",
            split="dev",
            limit=12,
            llm="stub",
            concurrency=5,
            cache=ReplayCache(tmp_path / "c.sqlite"),
            show_progress=False,
        )
        assert server.state.max_in_flight == 5 and server.state.served == 12
        spans = server.state.intervals
    # measured server-side: the requests' busy time adds up to several times the span they took together
    busy = sum(end - start for start, end in spans)
    assert busy / (max(e for _, e in spans) - min(s for s, _ in spans)) > 3
    assert result.dataset.total == 12 and result.model.id == "stub-model"
    assert result.model.settings["backend"] == "openai" and "base_url" not in result.model.settings


def test_the_model_own_concurrency_is_the_default(tmp_path, models_file):
    with StubServer(model="stub-model", delay=0.1) as server:
        models_file(server.base_url, concurrency=3)
        evaluate(
            chain="qa_zero_shot",
            dataset="course_qa",
            split="dev",
            limit=9,
            llm="stub",
            cache=ReplayCache(tmp_path / "c.sqlite"),
            show_progress=False,
        )
        assert server.state.max_in_flight == 3


def test_a_server_killed_mid_run_loses_nothing_and_the_resume_sends_only_the_rest(
    tmp_path, models_file, capsys
):
    port = free_port()
    cache_path = tmp_path / "c.sqlite"
    models_file(f"http://127.0.0.1:{port}/v1", concurrency=4, max_retries=0)
    server = stub_process("--delay", "0.02", "--die-after", "25", port=port).start()
    try:
        with pytest.raises(IncompleteRun) as info:
            evaluate(
                chain="qa_zero_shot",
                dataset="course_qa",
                split="dev",
                llm="stub",
                concurrency=4,
                cache=ReplayCache(cache_path),
                show_progress=False,
            )
        assert server.wait_exit() == 3
    finally:
        server.kill()
    message = str(info.value)
    assert message.startswith(f"run stopped after {info.value.answered} of 103 questions: ")
    assert "cannot reach the model server" in message and str(cache_path) in message
    assert f"send only the {103 - info.value.answered} missing" in message and "\n" not in message
    assert 20 <= info.value.answered <= 25
    kept = len(ReplayCache(cache_path))
    assert kept >= info.value.answered  # every answer that arrived was stored, scored or not

    server = stub_process("--delay", "0.02", port=port).start()  # the server is back
    try:
        resumed = evaluate(
            chain="qa_zero_shot",
            dataset="course_qa",
            split="dev",
            llm="stub",
            concurrency=4,
            cache=ReplayCache(cache_path),
            show_progress=False,
        )
        assert server.stats()["served"] == 103 - kept
        assert (resumed.cache.hits, resumed.cache.misses) == (kept, 103 - kept)
        fresh = evaluate(
            chain="qa_zero_shot",
            dataset="course_qa",
            split="dev",
            llm="stub",
            concurrency=4,
            cache=ReplayCache(tmp_path / "fresh.sqlite"),
            show_progress=False,
        )
    finally:
        server.kill()
    assert comparable(resumed) == comparable(fresh)
    assert resumed.metrics["f1"] > 0


def test_the_cli_ends_a_failing_run_with_one_line_and_exit_2(tmp_path, models_file, capsys):
    with StubServer(model="stub-model", fail_first=10_000) as server:
        models_file(server.base_url, max_retries=1)
        code = main(
            [
                "eval",
                "run",
                "--chain",
                "qa_zero_shot",
                "--dataset",
                "course_qa",
                "--split",
                "dev",
                "--limit",
                "6",
                "--model",
                "stub",
                "--concurrency",
                "2",
                "--quiet",
            ]
        )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("error: run stopped after 0 of 6 questions: the model server at ")
    assert "answered HTTP 500 after 2 tries" in err[0] and "Traceback" not in err[0]


def test_the_cli_names_a_model_id_the_server_does_not_know(tmp_path, models_file, capsys):
    with StubServer(model="another-model") as server:
        models_file(server.base_url)
        code = main(
            [
                "eval",
                "run",
                "--chain",
                "qa_zero_shot",
                "--dataset",
                "course_qa",
                "--limit",
                "2",
                "--model",
                "stub",
                "--quiet",
            ]
        )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "does not serve model 'stub-model'; it serves: another-model" in err[0]


def test_run_and_eval_run_take_a_served_model_by_name(tmp_path, models_file, capsys):
    with StubServer(model="stub-model") as server:
        models_file(server.base_url)
        assert (
            main(
                [
                    "run",
                    "qa_zero_shot",
                    "--model",
                    "stub",
                    "-i",
                    "question=Quantas tarefas?",
                    "-i",
                    "context=O MMLU reúne 57 tarefas.",
                    "--json",
                ]
            )
            == 0
        )
        out = json.loads(capsys.readouterr().out)
        assert out["model"] == "stub-model"
        assert (
            main(
                [
                    "eval",
                    "run",
                    "--chain",
                    "qa_zero_shot",
                    "--dataset",
                    "course_qa",
                    "--limit",
                    "4",
                    "--model",
                    "stub",
                    "--concurrency",
                    "2",
                    "--quiet",
                    "--out",
                    str(tmp_path / "r.json"),
                ]
            )
            == 0
        )
        assert server.state.served == 5
    assert json.loads((tmp_path / "r.json").read_text())["model"]["id"] == "stub-model"


def test_concurrency_is_refused_for_the_in_process_model():
    from promptkit.errors import ValidationError
    from promptkit.llm.local import LocalChatModel

    with pytest.raises(ValidationError, match="--concurrency applies to served models"):
        evaluate(
            chain="qa_zero_shot",
            dataset="course_qa",
            limit=1,
            llm=LocalChatModel(),
            concurrency=4,
            cache="off",
            show_progress=False,
        )


# -- shards --------------------------------------------------------------------------------------------------


def fake() -> FakeChatModel:
    return FakeChatModel(respond=lambda p: "57" if "57" in p else ("2017" if "2017" in p else "sem resposta"))


def test_shards_split_by_id_and_merge_into_the_unsharded_run(tmp_path):
    whole = evaluate(
        chain="qa_zero_shot",
        dataset="course_qa",
        split="dev",
        limit=40,
        llm=fake(),
        cache=ReplayCache(tmp_path / "w.sqlite"),
        show_progress=False,
    )
    files = []
    for i in (1, 2, 3):
        part = evaluate(
            chain="qa_zero_shot",
            dataset="course_qa",
            split="dev",
            limit=40,
            llm=fake(),
            shard=f"{i}/3",
            cache=ReplayCache(tmp_path / f"s{i}.sqlite"),
            show_progress=False,
            out=tmp_path / f"s{i}.json",
        )
        assert all(shard_of(r.id, 3) == i for r in part.rows)
        files.append(tmp_path / f"s{i}.json")
    assert sorted(len(json.loads(f.read_text())["rows"]) for f in files) != [0, 0, 40]
    merged = merge_results(files)
    assert comparable(merged) == comparable(whole)
    assert merged.metrics == whole.metrics and [r.id for r in merged.rows] == [r.id for r in whole.rows]


def test_merge_refuses_a_missing_shard_a_duplicate_and_another_run(tmp_path, capsys):
    from promptkit.errors import ValidationError

    for i in (1, 2):
        evaluate(
            chain="qa_zero_shot",
            dataset="course_qa",
            split="dev",
            limit=20,
            llm=fake(),
            shard=f"{i}/2",
            cache="off",
            show_progress=False,
            out=tmp_path / f"s{i}.json",
        )
    evaluate(
        chain="qa_zero_shot",
        dataset="course_qa",
        split="test",
        limit=20,
        llm=fake(),
        shard="2/2",
        cache="off",
        show_progress=False,
        out=tmp_path / "other.json",
    )
    with pytest.raises(ValidationError, match="the shards hold .* of the run's 20 questions"):
        merge_results([tmp_path / "s1.json"])
    with pytest.raises(ValidationError, match="is in both"):
        merge_results([tmp_path / "s1.json", tmp_path / "s1.json"])
    with pytest.raises(ValidationError, match="not a shard of the same run"):
        merge_results([tmp_path / "s1.json", tmp_path / "other.json"])
    assert (
        main(
            [
                "eval",
                "merge",
                str(tmp_path / "s1.json"),
                str(tmp_path / "s2.json"),
                "--out",
                str(tmp_path / "m.json"),
            ]
        )
        == 0
    )
    assert len(json.loads((tmp_path / "m.json").read_text())["rows"]) == 20
    assert main(["eval", "merge", str(tmp_path / "s1.json"), "--out", str(tmp_path / "m2.json")]) == 2
    assert "error: the shards hold" in capsys.readouterr().err


def test_shard_selection_is_stable_and_checked():
    from promptkit.errors import ValidationError

    class E:
        def __init__(self, i):
            self.id = f"q{i}"

    items = [E(i) for i in range(50)]
    parts = [select_shard(items, f"{i}/4") for i in (1, 2, 3, 4)]
    assert sorted(e.id for p in parts for e in p) == sorted(e.id for e in items)
    assert [e.id for e in select_shard(items, "2/4")] == [e.id for e in parts[1]]
    for bad in ("0/4", "5/4", "1-4", "a/b"):
        with pytest.raises(ValidationError):
            select_shard(items, bad)


# -- the regression gate -------------------------------------------------------------------------------------


def test_a_served_baseline_is_checked_by_strict_replay_with_the_server_stopped(tmp_path, monkeypatch, capsys):
    root = tmp_path / "project"
    shutil.copytree(REPO / "prompts", root / "prompts")
    shutil.copytree(REPO / "chains", root / "chains")
    chain = (root / "chains" / "qa_zero_shot.yaml").read_text("utf-8")
    (root / "chains" / "qa_served.yaml").write_text(
        chain.replace("name: qa_zero_shot", "name: qa_served").replace("model:\n", "model:\n  name: stub\n"),
        "utf-8",
    )
    (root / "eval" / "suites").mkdir(parents=True)
    (root / "eval" / "suites" / "served.yaml").write_text(
        "entries:\n  - id: zero\n    chain: qa_served\n    dataset: course_qa\n"
        "    split: dev\n    limit: 10\n",
        "utf-8",
    )
    (root / "eval" / "datasets").mkdir(parents=True)
    shutil.copy(REPO / "eval" / "datasets" / "course_qa.json", root / "eval" / "datasets" / "course_qa.json")
    monkeypatch.setenv("PROMPTKIT_PROJECT", str(root))
    monkeypatch.chdir(root)
    monkeypatch.setenv("STUB_KEY", "sk-gate-secret-123")
    with StubServer(model="stub-model", api_key="sk-gate-secret-123") as server:
        write_models(
            root / "models.yaml",
            [
                {
                    "name": "stub",
                    "kind": "openai",
                    "base_url": server.base_url,
                    "model": "stub-model",
                    "api_key_env": "STUB_KEY",
                    "context_window": 4096,
                }
            ],
        )
        assert main(["eval", "baseline", "served", "--quiet"]) == 0
        assert server.state.served == 10
    capsys.readouterr()
    monkeypatch.delenv("STUB_KEY")  # CI has neither the server nor the key
    assert main(["eval", "check", "served", "--cache", "strict", "--quiet"]) == 0
    assert "PASS" in capsys.readouterr().out.upper()
    folder = root / "eval" / "baselines" / "served"
    for path in folder.iterdir():
        data = path.read_bytes()
        assert b"sk-gate-secret-123" not in data and str(server.port).encode() not in data
