"""Static checks: the ruff rule set of pyproject.toml (pyflakes, pycodestyle, isort, bugbear,
pyupgrade) over the package, the tests and the benchmarks; and the shape docs/architecture.md
describes: no import circle, short modules, a package root of base-layer leaves, families and
TFLM trees decided in one place each."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "edgekit"
ROOT_MODULES = {"__init__", "errors", "console", "resources", "tools", "data"}
MAX_MODULE_LINES = 450


def test_ruff_rule_set_is_clean() -> None:
    r = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "concise",
                        "edgekit", "tests", "benchmarks"], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(REPO).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = path
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the edgekit modules it imports anywhere (in functions and under TYPE_CHECKING too)."""
    modules = _modules()

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in modules}
    for mod, path in modules.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for t in targets:
                found = resolve(t)
                if found and found != mod:
                    graph[mod].add(found)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
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
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_circle() -> None:
    assert circles(import_graph()) == []


def test_codegen_and_model_name_runtimes_but_import_none() -> None:
    graph = import_graph()
    for mod, deps in graph.items():
        if mod.startswith(("edgekit.codegen", "edgekit.model")):
            runtimes = {d for d in deps if d.startswith("edgekit.runtimes")}
            assert runtimes <= {"edgekit.runtimes"}, (mod, runtimes)


def test_modules_are_short_and_the_root_holds_base_leaves() -> None:
    long = {str(p.relative_to(REPO)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}
    assert {p.stem for p in PACKAGE.glob("*.py")} == ROOT_MODULES


def test_family_and_tflm_tree_facts_live_in_one_place() -> None:
    families = PACKAGE / "project" / "families"
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        if families not in path.parents:
            assert not re.search(r"\b(Stm32Family|Esp32Family|RiscvFamily)\b", text), path
            assert not re.search(r"isinstance\([^)]*[Ff]amil", text), path
    readers = {str(p.relative_to(REPO)) for p in PACKAGE.rglob("*.py") if "TFLM_DIR_ENV)" in p.read_text()}
    assert readers == {"edgekit/runtimes/tflm/tree.py"}
    assert not any('environ.get("TFLM_DIR")' in p.read_text() or "environ['TFLM_DIR']" in p.read_text()
                   for p in PACKAGE.rglob("*.py"))


def test_the_tflm_model_code_is_a_template_filled_by_a_short_function() -> None:
    from edgekit.runtimes.tflm import code

    tree = ast.parse(Path(code.__file__).read_text())
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "tflm_sources")
    assert fn.end_lineno is not None and fn.end_lineno - fn.lineno + 1 < 40
