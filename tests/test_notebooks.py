"""The notebooks in notebooks/: stored without outputs, and each runs top to bottom with the real default
model (model calls go through the replay cache, so a second run is fast)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))

nbformat = pytest.importorskip(
    "nbformat", reason="the notebook tests need nbformat (pip install -e '.[test]')"
)


def test_there_is_one_notebook_per_idea():
    assert [p.name for p in NOTEBOOKS] == [
        "01-inicio-rapido.ipynb",
        "02-comparar-versoes.ipynb",
        "03-few-shot.ipynb",
        "04-guarda-de-regressao.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_are_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
    assert "widgets" not in nb.metadata
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")


def _outputs(nb) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", "") or str(out.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


@pytest.mark.model
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # importing streamlit (the UI tests) sets it to Agg
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    text = _outputs(nb)
    if path.stem.startswith("01"):
        assert "57" in text and "qa_zero_shot@1" in text
    elif path.stem.startswith("02"):
        assert any("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
        assert "rag_qa@1: EM" in text and "95% CI" in text
    elif path.stem.startswith("03"):
        assert "qa_few_shot@1" in text and "correct → wrong" in text
    else:
        assert "REGRESSION" in text and "código de saída de `promptkit eval check`: 1" in text
