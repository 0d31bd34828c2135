"""The import rules of docs/architecture.md ("Wings"), checked on the source (AST only, no imports, fast).

Every module under src/skyt1 is read; every import it makes counts, function-level ones too (a lazy
import is still a dependency). `from pkg import name` counts as an import of pkg.name when that is a
module, else of pkg. Importing a.b.c also runs a/__init__.py; that implicit parent import is not counted
(a package's __init__ may import its own submodules without that being a circle).
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# The layers, lowest first: a module may import its own layer and the layers below it, never one above.
# A module belongs to the entry with the longest matching prefix ("skyt1" alone is the package's
# __init__). docs/architecture.md has the same table.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("core", ("skyt1", "skyt1.core")),
    ("published, provenance, sandbox, identity",
     ("skyt1.published", "skyt1.provenance", "skyt1.sandbox", "skyt1.identity")),
    ("scoring", ("skyt1.scoring",)),
    ("data", ("skyt1.data",)),
    # provenance.lineage reads the records back and compares them with the current config, so it sits
    # with config, above the provenance package's __init__ (what every job records)
    ("config", ("skyt1.config", "skyt1.benchmarks", "skyt1.settings", "skyt1.provenance.lineage")),
    ("weights", ("skyt1.weights",)),
    ("engine and generation", ("skyt1.engine", "skyt1.generation")),
    ("stages", ("skyt1.stages",)),
    ("workflow", ("skyt1.workflow",)),
    ("cli", ("skyt1.cli",)),
]

# Known exceptions (none left: the benchmarks-as-files change broke the last two circles). An entry here
# must name who removes it; test_known_exceptions_are_still_there fails once it is gone.
ALLOWED_CYCLES: list[frozenset[str]] = []
ALLOWED_UPWARD: set[tuple[str, str]] = set()


def modules(src: Path) -> dict[str, tuple[Path, bool]]:
    out = {}
    for p in sorted((src / "skyt1").rglob("*.py")):
        parts = list(p.relative_to(src).with_suffix("").parts)
        package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if package else parts)] = (p, package)
    return out


def imports(src: Path) -> dict[str, set[str]]:
    """module -> the skyt1 modules it imports (outside_imports finds imports of other packages)."""
    mods = modules(src)

    def owner(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, (path, package) in mods.items():
        pkg = name if package else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(owner(a.name) for a in node.names if a.name.split(".")[0] == "skyt1")
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = pkg.split(".")
                    base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
                if base.split(".")[0] != "skyt1":
                    continue
                for a in node.names:
                    found.add(owner(f"{base}.{a.name}") if f"{base}.{a.name}" in mods else owner(base))
        found.discard(None)
        found.discard(name)
        graph[name] = found
    return graph


def outside_imports(src: Path, top: str) -> list[str]:
    """'module: statement' for every import of the top-level package `top` inside src/skyt1."""
    hits = []
    for name, (path, _) in modules(src).items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            hits += [f"{name}: imports {n}" for n in names if n.split(".")[0] == top]
    return hits


def cycles(graph: dict[str, set[str]]) -> list[tuple[frozenset[str], list[str]]]:
    """The import circles: one per strongly connected component of more than one module, as (its modules,
    a closed path a -> b -> ... -> a through them)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    comps: list[set[str]] = []

    def visit(v: str) -> None:  # Tarjan; the graph has ~70 nodes, recursion is fine
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    out = []
    for comp in comps:  # a shortest way back to the start, inside the component
        start = min(comp)
        prev, todo = {start: None}, [start]
        while todo:
            v = todo.pop(0)
            for w in sorted(graph[v] & comp):
                if w == start:
                    path = [v]
                    while prev[path[-1]] is not None:
                        path.append(prev[path[-1]])
                    out.append((frozenset(comp), [*reversed(path), start]))
                    todo = []
                    break
                if w not in prev:
                    prev[w] = v
                    todo.append(w)
    return sorted(out, key=lambda c: c[1])


def layer_of(module: str, layers=LAYERS) -> int | None:
    best, rank = -1, None
    for i, (_, prefixes) in enumerate(layers):
        for p in prefixes:
            hit = module == p if p == "skyt1" else (module == p or module.startswith(p + "."))
            if hit and len(p) > best:
                best, rank = len(p), i
    return rank


def upward(graph: dict[str, set[str]], layers=LAYERS) -> list[tuple[str, str]]:
    return sorted((a, b) for a, targets in graph.items() for b in targets
                  if layer_of(a, layers) is not None and layer_of(b, layers) is not None
                  and layer_of(b, layers) > layer_of(a, layers))


@functools.cache
def graph_of_src() -> dict[str, set[str]]:
    return imports(SRC)


def test_every_module_has_a_layer():
    missing = [m for m in modules(SRC) if layer_of(m) is None]
    assert not missing, (f"modules in no layer: {missing}; add each to LAYERS in tests/test_architecture.py "
                         "and to the table in docs/architecture.md")


def test_no_import_cycle():
    found = [f"{' -> '.join(path)} (modules: {sorted(comp)})" for comp, path in cycles(graph_of_src())
             if comp not in ALLOWED_CYCLES]
    assert not found, "import circles: " + "; ".join(found)


def test_no_upward_import():
    names = [n for n, _ in LAYERS]
    found = [f"{a} ({names[layer_of(a)]}) imports {b} ({names[layer_of(b)]})"
             for a, b in upward(graph_of_src()) if (a, b) not in ALLOWED_UPWARD]
    assert not found, "imports pointing up the layers of docs/architecture.md: " + "; ".join(found)


def test_package_never_imports_tools():
    assert not outside_imports(SRC, "tools"), outside_imports(SRC, "tools")
    assert not (SRC / "tools").exists()


def test_known_exceptions_are_still_there():
    """An allowed circle or upward import that is gone must leave the lists (so none hides a new one)."""
    graph = graph_of_src()
    found = {comp for comp, _ in cycles(graph)}
    assert all(c in found for c in ALLOWED_CYCLES), "a circle of ALLOWED_CYCLES is gone: remove it from the list"
    assert ALLOWED_UPWARD <= set(upward(graph)), "an import of ALLOWED_UPWARD is gone: remove it from the list"


@pytest.fixture
def fake(tmp_path):
    """A small package with one circle (a.x -> b -> a.x), one upward import (low -> high) and a lazy
    import of tools: the checks above must see each."""
    root = tmp_path / "skyt1"
    (root / "a").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "a" / "__init__.py").write_text("from . import x  # a package importing its own module: no circle\n")
    (root / "a" / "x.py").write_text("def f():\n    from ..b import g\n")
    (root / "b.py").write_text("import skyt1.a.x\n\ndef g():\n    pass\n")
    (root / "low.py").write_text("from .high import h\n")
    (root / "high.py").write_text("def h():\n    import tools.envs\n")
    return tmp_path


def test_the_checks_see_a_circle_an_upward_import_and_tools(fake):
    graph = imports(fake)
    assert cycles(graph) == [(frozenset({"skyt1.a.x", "skyt1.b"}), ["skyt1.a.x", "skyt1.b", "skyt1.a.x"])]
    layers = [("low", ("skyt1", "skyt1.low", "skyt1.a", "skyt1.b")), ("high", ("skyt1.high",))]
    assert upward(graph, layers) == [("skyt1.low", "skyt1.high")]
    assert outside_imports(fake, "tools") == ["skyt1.high: imports tools.envs"]


def stage_functions(src: Path = SRC):
    """(module, qualified name, parameter count) of every public function and method of the stage modules
    (skyt1/stages/*), `self`/`cls` not counted, keyword-only and *args/**kwargs counted."""
    for path in sorted((src / "skyt1" / "stages").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))

        def walk(nodes, prefix=""):
            for node in nodes:
                if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                    yield from walk(node.body, f"{prefix}{node.name}.")
                elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
                    a = node.args
                    names = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs]
                    names += [x.arg for x in (a.vararg, a.kwarg) if x is not None]
                    n = len([x for x in names if x not in ("self", "cls")])
                    yield path.stem, prefix + node.name, n

        yield from walk(tree.body)


def test_no_stage_function_takes_more_than_six_parameters():
    found = list(stage_functions())
    assert len({m for m, _, _ in found}) >= 10  # the scan sees the stage modules
    assert [f"skyt1.stages.{m}.{f}: {n}" for m, f, n in found if n > 6] == []
