"""The package's imports run one way: no module of ``apr`` reaches, even inside a function, a module that imports it
back.

Type-only imports (under ``if TYPE_CHECKING:``) are not dependencies at run time and are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

APR = Path(__file__).resolve().parents[1] / "apr"

# The layers, lowest first: a module may import modules of its own layer or of a lower one only. Each folder of the
# package is one layer; the method (settings, network, loss) sits between the data and the evaluation.
LAYERS: list[tuple[str, ...]] = [
    ("apr.data",),                                   # readers, the synthetic set, tensors
    ("apr.config", "apr.model", "apr.losses"),       # the method
    ("apr.evaluation",),                             # metrics, retrieval, statistics
    ("apr.engine",),                                 # one run: data, training, features, evaluation, its folder
    ("apr.experiments",),                            # what the book trains, the job pool, cached runs
    ("apr.book",),                                   # build, pages, scorecard, tables, plots
    ("apr", "apr.cli", "apr.__main__", "apr.metrics", "apr.retrieval"),   # the faces: CLI and public aliases
]
FOLDERS = ["data", "evaluation", "engine", "experiments", "book"]   # bottom to top


def module_name(path: Path) -> str:
    parts = list(path.relative_to(APR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """The ``apr`` modules ``path`` imports at run time, at any depth (function bodies included)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _type_checking_block(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(base + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in modules else base)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return {m for m in found if m in modules and m != name}


def import_graph() -> dict[str, set[str]]:
    files = sorted(APR.rglob("*.py"))
    modules = {module_name(p) for p in files}
    return {module_name(p): imported_modules(p, modules) for p in files}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as a list of modules (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := dfs(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := dfs(node)):
            return cycle
    return None


def layer_of(module: str) -> int:
    for i, layer in enumerate(LAYERS):
        if any(module == m or (m != "apr" and module.startswith(m + ".")) for m in layer):
            return i
    raise AssertionError(f"{module} is in no layer of tests/test_imports.py; add it to LAYERS")


def test_no_import_cycle():
    graph = import_graph()
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_imports_only_go_down_the_layers():
    upward = [f"{m} (layer {layer_of(m)}) imports {d} (layer {layer_of(d)})"
              for m, deps in sorted(import_graph().items()) for d in sorted(deps) if layer_of(d) > layer_of(m)]
    assert not upward, "imports against the layers:\n" + "\n".join(upward)


def test_every_folder_is_a_layer_in_order():
    folders = sorted(p.name for p in APR.iterdir() if p.is_dir() and (p / "__init__.py").is_file())
    assert folders == sorted(FOLDERS), f"folders of apr/ {folders}; tests/test_imports.py knows {FOLDERS}"
    assert [layer_of(f"apr.{f}") for f in FOLDERS] == sorted(layer_of(f"apr.{f}") for f in FOLDERS)
    top_level = sorted(module_name(p) for p in APR.glob("*.py"))
    assert all(layer_of(m) in (1, len(LAYERS) - 1) for m in top_level), \
        "a module directly in apr/ is the method or a face; everything else lives in a folder"


def test_each_folder_says_what_it_holds():
    for folder in FOLDERS:
        doc = ast.get_docstring(ast.parse((APR / folder / "__init__.py").read_text()))
        assert doc and len(doc.splitlines()) <= 3, f"apr/{folder}/__init__.py: a docstring of one to three lines"


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


if __name__ == "__main__":   # print the graph: python tests/test_imports.py
    for module, deps in sorted(import_graph().items()):
        print(f"{module} -> {', '.join(sorted(deps)) or '-'}")
