"""Import layering, read from the source with ast: promptkit.text is a leaf, and no import cycle (module- or
function-level import) runs through the text, scoring or few-shot modules."""

from __future__ import annotations

import ast
from pathlib import Path

import promptkit

PACKAGE = Path(promptkit.__file__).parent
LAYERED = (
    "promptkit.text",
    "promptkit.metrics",
    "promptkit.cli.squad",
    "promptkit.chains.postprocess",
    "promptkit.moderation.folding",
    "promptkit.prompts.fewshot",
    "promptkit.prompts.selectors",
)


def _modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return out


def _import_graph() -> dict[str, set[str]]:
    """Module -> the promptkit modules it imports anywhere in its source (``from a import b`` counts as
    importing ``a.b`` when that is a module, else ``a``)."""
    modules = _modules()

    def land(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, (path, is_package) in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    here = name if is_package else name.rpartition(".")[0]
                    for _ in range(node.level - 1):
                        here = here.rpartition(".")[0]
                    base = f"{here}.{node.module}" if node.module else here
                names = [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            targets |= {t for n in names if n.startswith("promptkit") and (t := land(n)) and t != name}
        graph[name] = targets
    return graph


def _reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            todo += graph.get(node, ())
    return False


def test_the_text_module_is_a_leaf():
    assert _import_graph()["promptkit.text"] == set()


def test_no_import_cycle_through_the_layered_modules():
    graph = _import_graph()
    assert set(LAYERED) <= set(graph)
    cycles = [(m, t) for m in LAYERED for t in graph[m] if _reaches(graph, t, m)]
    assert cycles == []


def test_the_selectors_sit_below_the_fewshot_builder():
    graph = _import_graph()
    assert "promptkit.prompts.selectors" in graph["promptkit.prompts.fewshot"]
    assert "promptkit.prompts.fewshot" not in graph["promptkit.prompts.selectors"]
