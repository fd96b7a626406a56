"""`promptkit models parity` and `models served`: two backends on the same prompts (stub servers and the
fake)."""

from __future__ import annotations

import json

from served_support import write_models

from promptkit.cli import main
from promptkit.evaluation.parity import parity
from promptkit.llm.stub_server import StubServer
from promptkit.testing import FakeChatModel


def test_the_same_model_behind_two_servers_agrees_fully(tmp_path, monkeypatch, capsys):
    with StubServer(model="m") as one, StubServer(model="m") as two:
        write_models(
            tmp_path / "models.yaml",
            [
                {
                    "name": "one",
                    "kind": "openai",
                    "base_url": one.base_url,
                    "model": "m",
                    "context_window": 4096,
                },
                {
                    "name": "two",
                    "kind": "openai",
                    "base_url": two.base_url,
                    "model": "m",
                    "context_window": 4096,
                },
            ],
        )
        monkeypatch.setenv("PROMPTKIT_MODELS", str(tmp_path / "models.yaml"))
        code = main(
            [
                "models",
                "parity",
                "one",
                "two",
                "--dataset",
                "course_qa",
                "--split",
                "dev",
                "--limit",
                "12",
                "--cache",
                "off",
                "--json",
                "--quiet",
            ]
        )
        report = json.loads(capsys.readouterr().out)
        assert code == 0 and report["agreement"] == 100.0 and report["questions"] == 12
        assert report["deltas"]["f1"]["delta"] == 0 and report["disagreements"] == []
        assert main(["models", "served", "--check"]) == 0
        listing = capsys.readouterr().out
        assert "one" in listing and "two" in listing and listing.count(" ok") == 2


def test_parity_reports_disagreements_the_paired_interval_and_prompt_differences(tmp_path):
    local = FakeChatModel(respond=lambda p: "57" if "57" in p else "sem resposta")
    with StubServer(model="m") as server:
        from promptkit.llm.served import ServedChatModel

        served = ServedChatModel(base_url=server.base_url, model="m", context_window=4096, top_p=0.5)
        report = parity(
            local, served, dataset="course_qa", split="dev", limit=15, cache="off", show_progress=False
        )
    assert 0 <= report.agreement < 100 and len(report.disagreements) == 15 - round(
        report.agreement * 15 / 100
    )
    d = report.deltas["f1"]
    assert d["low"] <= d["delta"] <= d["high"]
    assert abs(d["delta"] - (report.b.metrics["f1"] - report.a.metrics["f1"])) < 1e-6
    notes = "\n".join(report.notes)
    assert "setting top_p: A 1.0 · B 0.5" in notes
    assert "B's server counts other prompt tokens than the in-process template" in notes
    text = report.summary()
    assert "answer agreement" in text and "95% CI (paired)" in text
