"""The code's shape, read from the source with `ast`: no Django, no database.

- Imports run one way, `voltai_server → chat → agent → library → topics → orgs → core`
  (DESIGN.md): an app never imports one above it.
- No two modules import each other, directly or round a circle. Imports inside functions
  count: they hide a circle from Python at import time, not from a reader.
- No function is longer than 60 lines (migrations aside: Django writes them).
"""

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Top to bottom: each app may import the ones after it, never one before it.
LAYERS = ("voltai_server", "chat", "agent", "library", "topics", "orgs", "core")
MAX_FUNCTION_LINES = 60
_SKIPPED_FOLDERS = {".venv", "var", "migrations", "node_modules", "test-artifacts", "__pycache__"}


def python_files(*tops: str) -> Iterator[Path]:
    """The project's Python files under `tops` (everything when none), migrations aside."""
    folders = [ROOT / top for top in tops] if tops else [ROOT]
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
            if not _SKIPPED_FOLDERS & set(path.relative_to(ROOT).parts):
                yield path


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def app_modules() -> dict[str, Path]:
    return {module_name(path): path for path in python_files(*LAYERS)}


def imported_modules(path: Path, known: set[str], root: Path = ROOT) -> set[str]:
    """The project modules a file imports, anywhere in it (functions, TYPE_CHECKING blocks)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # `from library import services` imports the module library.services.
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = app_modules()
    known = set(modules)
    return {name: imported_modules(path, known) - {name} for name, path in modules.items()}


def layer(module: str) -> int:
    return LAYERS.index(module.split(".")[0])


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_reads_imports_inside_functions_and_finds_their_circles(tmp_path: Path) -> None:
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text("")
    (tmp_path / "shop" / "orders.py").write_text("def total():\n    from shop.prices import price\n")
    (tmp_path / "shop" / "prices.py").write_text("from . import orders\nfrom shop import taxes\n")
    (tmp_path / "shop" / "taxes.py").write_text("import json\n")
    known = {"shop", "shop.orders", "shop.prices", "shop.taxes"}
    graph = {
        name: imported_modules(tmp_path / (name.replace(".", "/") + ".py"), known, tmp_path)
        for name in known - {"shop"}
    }
    assert graph == {"shop.orders": {"shop.prices"}, "shop.prices": {"shop.orders", "shop.taxes"}, "shop.taxes": set()}
    assert circles(graph) == [["shop.orders", "shop.prices"]]
    assert len(import_graph()) > 50  # the project's own modules are all read


def test_imports_run_down_the_layers_and_never_round_a_circle() -> None:
    graph = import_graph()
    upward = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        for target in targets
        if layer(target) < layer(module)
    )
    found = [", ".join(component) for component in circles(graph)]
    problems = []
    if upward:
        problems.append("imports running up the layering " + " → ".join(LAYERS) + ":\n" + "\n".join(upward))
    if found:
        problems.append("modules importing each other round a circle:\n" + "\n".join(found))
    assert not problems, "\n\n".join(problems)


def test_no_function_is_longer_than_60_lines() -> None:
    long = []
    for path in python_files():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(long)
