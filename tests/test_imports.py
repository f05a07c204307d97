"""The package's imports run one way: no module of ``apr`` reaches, even inside a function, a module that imports it back.

Type-only imports (under ``if TYPE_CHECKING:``) are not dependencies at run time and are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

APR = Path(__file__).resolve().parents[1] / "apr"

# The layers, lowest first. A module may import modules of its own layer or of a lower one only.
LAYERS: list[tuple[str, ...]] = [
    ("apr.data",),                                        # the data package (readers, synthetic set, tensors)
    ("apr.config", "apr.paper", "apr.runs", "apr.device"),  # settings, the paper's numbers, run folders
    ("apr.model",),
    ("apr.losses", "apr.metrics", "apr.stats", "apr.features", "apr.attribute_stats", "apr.retrieval",
     "apr.gallery_growth"),
    ("apr.train",),
    ("apr.evaluate",),
    ("apr.pretrain", "apr.experiments"),
    ("apr.results",),
    ("apr.distractor_runs", "apr.attribute_runs"),
    ("apr.report", "apr.plots", "apr.claims"),
    ("apr.book", "apr.cli", "apr.__main__"),
]


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
        if any(module == m or module.startswith(m + ".") for m in layer):
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


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


if __name__ == "__main__":   # print the graph: python tests/test_imports.py
    for module, deps in sorted(import_graph().items()):
        print(f"{module} -> {', '.join(sorted(deps)) or '-'}")
