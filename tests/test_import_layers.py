"""Import layering, read from the source with ast (imports inside functions count): no import cycle anywhere in
the package, promptkit.text is a leaf, and the cheap entry points import nothing heavy."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "promptkit"


def module_graph(package: Path) -> dict[str, set[str]]:
    """``module -> modules of the package it imports`` (every ``import`` statement, at any depth)."""
    root = package.parent
    names = {}
    for file in package.rglob("*.py"):
        parts = file.relative_to(root).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = file
    graph: dict[str, set[str]] = {}
    for name, file in names.items():
        deps: set[str] = set()
        here = name.split(".") if file.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(file.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                deps.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(here[: len(here) - node.level + 1] + [node.module or ""]).strip(".") \
                    if node.level else node.module or ""
                submodules = {f"{base}.{alias.name}" for alias in node.names} & set(names)
                deps.update(submodules)
                if len(submodules) < len(node.names):
                    deps.add(base)
        graph[name] = {d for d in deps if d in names and d != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for dep in graph.get(node, ()):
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_imports_inside_functions():
    graph = module_graph(PACKAGE)
    assert "promptkit.index.retriever" in graph["promptkit.index.course_index"]  # as_retriever's lazy import
    assert "promptkit.index.course_index" in graph["promptkit.index.langchain"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_in_the_package():
    assert cycles(module_graph(PACKAGE)) == []


def test_the_text_module_is_a_leaf():
    assert module_graph(PACKAGE)["promptkit.text"] == set()


def test_the_selectors_sit_below_the_fewshot_builder():
    graph = module_graph(PACKAGE)
    assert "promptkit.prompts.selectors" in graph["promptkit.prompts.fewshot"]
    assert "promptkit.prompts.fewshot" not in graph["promptkit.prompts.selectors"]


def test_the_mode_list_imports_nothing_heavy():
    code = ("import sys, promptkit.index, promptkit.index.modes, promptkit.cli.index, promptkit.cli.chains;"
            "print(sorted(m for m in ('numpy', 'faiss', 'langchain_core', 'torch', 'promptkit.index.build')"
            " if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
