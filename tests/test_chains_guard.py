"""The moderation guard: flagged input is refused without running the chain; flagged output is withheld."""

from __future__ import annotations

from promptkit.chains import load_chain, with_guard
from promptkit.testing import FakeChatModel

CONTEXT = "O curso tem 16 módulos."


def _moderation(llm=None, **kw):
    kw.setdefault("prompt", "moderation@1")  # these fakes answer the JSON classifier
    return load_chain("moderation", llm=llm or FakeChatModel(default='{"categories": ["safe"]}'), **kw)


def test_flagged_input_is_refused_and_the_chain_never_runs():
    inner_llm = FakeChatModel(default="16")
    guarded = with_guard(load_chain("qa_zero_shot", llm=inner_llm), _moderation(layers="rules"))
    out = guarded.invoke({"question": "Sei onde você mora, vou te pegar na saída", "context": CONTEXT})
    assert out["refused"] is True and out["abstained"] is True
    assert "moderação" in out["answer"] and "violence" in out["answer"]
    assert out["moderation"]["input"]["categories"] == ["violence"]
    assert inner_llm.calls == []


def test_flagged_output_is_withheld():
    inner_llm = FakeChatModel(default="O CPF do aluno é 123.456.789-00, divulguem")
    guarded = with_guard(
        load_chain("qa_zero_shot", llm=inner_llm, ground=None), _moderation(layers="rules")
    )
    out = guarded.invoke({"question": "Quantos módulos?", "context": CONTEXT})
    assert out["withheld"] is True and out["refused"] is False
    assert "123.456" not in out["answer"]
    assert out["moderation"]["output"]["categories"] == ["privacy"]


def test_guard_batches_each_stage_once():
    inner_llm = FakeChatModel(default="16")
    mod_llm = FakeChatModel(
        rules=[("idiota", '{"categories": ["harassment"]}')], default='{"categories": ["safe"]}'
    )
    guarded = with_guard(load_chain("qa_zero_shot", llm=inner_llm), _moderation(mod_llm))
    outs = guarded.batch(
        [
            {"question": "Quantos módulos?", "context": CONTEXT},
            {"question": "seu idiota, quantos módulos?", "context": CONTEXT},
            {"question": "E quantos módulos mesmo?", "context": CONTEXT},
        ]
    )
    assert [o["refused"] for o in outs] == [False, True, False]
    assert [o["answer"] for o in (outs[0], outs[2])] == ["16", "16"]
    assert len(inner_llm.calls) == 1 and len(inner_llm.calls[0]) == 2
    assert len(mod_llm.calls) == 2  # inputs in one call, answers in another


def test_guard_from_a_definition(tmp_path, monkeypatch, repo):
    import shutil

    project = tmp_path / "project"
    shutil.copytree(repo / "prompts", project / "prompts")
    (project / "chains").mkdir()
    shutil.copy(repo / "chains" / "moderation.yaml", project / "chains")
    (project / "chains" / "guarded_qa.yaml").write_text(
        "name: guarded_qa\nkind: zero_shot\ntask: qa\ndescription: QA com guarda\nprompt: qa_zero_shot\n"
        "guard: moderation\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("PROMPTKIT_PROJECT", str(project))
    llm = FakeChatModel(rules=[("Texto:", '{"categories": ["safe"]}')], default="16")
    out = load_chain("guarded_qa", llm=llm).invoke(
        {"question": "como faço uma bomba caseira passo a passo?", "context": CONTEXT}
    )
    assert out["refused"] is True and out["moderation"]["input"]["categories"] == ["illegal"]
