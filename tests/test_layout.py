"""The package layout the architecture depends on: no import cycles between modules or between
packages (function-level imports included), and scoring that knows nothing of engines or runs."""

from __future__ import annotations

import ast
from collections import defaultdict

from conftest import REPO

ROOT = REPO / "runner"


def module_name(path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}


def imports_of(path) -> set[str]:
    """runner modules a file imports, anywhere in it (a `from a import b` of a module b counts as a.b)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("runner.")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("runner"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in MODULES else node.module)
    return found - {"runner"}


GRAPH = {m: imports_of(p) & set(MODULES) for m, p in MODULES.items()}


def package_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2])


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node, or a node importing itself (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_between_modules():
    assert cycles(GRAPH) == []


def test_no_import_cycle_between_packages():
    packages: dict[str, set[str]] = defaultdict(set)
    for module, targets in GRAPH.items():
        packages[package_of(module)] |= {package_of(t) for t in targets} - {package_of(module)}
    assert cycles(dict(packages)) == []


def test_the_cycle_check_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_scoring_knows_nothing_of_engines_pipeline_or_runs():
    for module, targets in GRAPH.items():
        if package_of(module) in ("runner.tasks", "runner.grading"):
            bad = {t for t in targets if package_of(t) in ("runner.pipeline", "runner.runs", "runner.reports",
                                                           "runner.cli", "runner.models")
                   or (package_of(t) == "runner.engines" and t != "runner.engines.base")}
            assert not bad, (module, bad)


def test_run_folder_readers_never_import_the_pipeline():
    for module, targets in GRAPH.items():
        if package_of(module) in ("runner.runs", "runner.reports"):
            assert not {t for t in targets if package_of(t) in ("runner.pipeline", "runner.cli")}, module
