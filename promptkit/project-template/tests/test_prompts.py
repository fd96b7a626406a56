"""Testes do projeto: os prompts estão íntegros e a versão em edição não piorou em relação à linha de base.

Na primeira execução não há linha de base: o teste a grava com o modelo padrão (leva alguns segundos por
pergunta) em eval/baselines/projeto/. Faça commit dessa pasta; as execuções seguintes só repetem as chamadas
gravadas e geram apenas o que mudou. No CI, use `pytest --promptkit-cache strict`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from promptkit.regression import assert_no_regression

PROJECT = Path(__file__).resolve().parents[1]
SUITE = "projeto"
ENTRY = "resposta_curta"


@pytest.fixture(autouse=True)
def _this_project(monkeypatch: pytest.MonkeyPatch) -> None:
    """Os testes leem os prompts, chains e dados deste projeto, de onde quer que o pytest seja chamado."""
    monkeypatch.setenv("PROMPTKIT_PROJECT", str(PROJECT))


@pytest.fixture
def baseline(promptkit_baseline):
    """A linha de base da suíte `projeto`, gravada com o modelo real na primeira execução."""
    if not (PROJECT / "eval" / "baselines" / SUITE / f"{ENTRY}.json").is_file():
        from promptkit.regression import record_baseline

        record_baseline(SUITE, ENTRY, show_progress=False)
    return promptkit_baseline(SUITE, ENTRY)


def test_prompts_sem_erros():
    """O mesmo que `promptkit prompts check`: versões liberadas intactas, modelos de prompt válidos."""
    from promptkit.prompts.checks import check_all

    errors = [str(p) for p in check_all(dataset=PROJECT / "eval" / "datasets" / "perguntas_curso.json")
              if p.level == "error"]
    assert not errors, "\n".join(errors)


def test_resposta_curta_nao_piorou(baseline, promptkit_eval):
    """O mesmo que `promptkit eval check projeto`: as notas não caem além das tolerâncias da suíte."""
    result = promptkit_eval(baseline=baseline)
    assert_no_regression(result, baseline)
