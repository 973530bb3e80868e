"""The package's import structure: no import cycle between its modules (imports inside functions count: a
cycle hidden in a function is still one), and the layers only import downward."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cyclip_bench"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def import_graph() -> dict[str, set[str]]:
    """Module → the package modules it imports (at any depth of the file, TYPE_CHECKING blocks excepted)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _type_checking_lines(tree)
        deps: set[str] = set()
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in skip:
                continue
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cyclip_bench"):
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    deps.add(sub if sub in modules else node.module)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("cyclip_bench"))
        graph[name] = {d for d in deps if d in modules and d != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    assert _cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_the_models_package_front_file_only_re_exports():
    tree = ast.parse((PACKAGE / "models" / "__init__.py").read_text(encoding="utf-8"))
    kinds = {type(node).__name__ for node in tree.body}
    assert kinds <= {"Expr", "ImportFrom", "Assign"}, kinds  # docstring, imports, __all__


def test_the_layers_of_the_results_format():
    """The results model sits below eval and report: eval writes results without importing the report,
    metrics/data/models import neither eval nor report, and cyclip_bench.results imports neither."""
    graph = import_graph()
    allowed_below = {
        "cyclip_bench.eval": ("cyclip_bench.report",),
        "cyclip_bench.metrics": ("cyclip_bench.eval", "cyclip_bench.report"),
        "cyclip_bench.data": ("cyclip_bench.eval", "cyclip_bench.report"),
        "cyclip_bench.models": ("cyclip_bench.eval", "cyclip_bench.report"),
        "cyclip_bench.results": ("cyclip_bench.eval", "cyclip_bench.report"),
    }
    upward = sorted(
        f"{module} imports {dep}"
        for module, deps in graph.items()
        for package, forbidden in allowed_below.items()
        if module == package or module.startswith(package + ".")
        for dep in deps
        if any(dep == f or dep.startswith(f + ".") for f in forbidden)
    )
    assert upward == []


def test_the_layer_check_sees_an_upward_import(tmp_path, monkeypatch):
    pkg = tmp_path / "cyclip_bench"
    for sub in ("eval", "report"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "eval" / "runner.py").write_text("from cyclip_bench.report import build\n")
    (pkg / "report" / "build.py").write_text("")
    monkeypatch.setitem(globals(), "PACKAGE", pkg)
    assert import_graph()["cyclip_bench.eval.runner"] == {"cyclip_bench.report.build"}
