"""The plugin's import graph: its cycles, and any module outside ``cli/`` importing ``cli``.

Freqtrade's rule for commands: ``rebalance_plugin/cli/<command>.py`` owns its arguments and exit
code and calls a feature package; a feature package never imports ``cli`` (the command line sits
on top, nothing below calls up into it). This reads every module of ``rebalance_plugin`` with
``ast`` (nothing is imported or run) and follows every import statement, at module level or
inside a function, ``if TYPE_CHECKING:`` included: a function-level import is still a
dependency, and an import circle is a design circle whenever its imports run. An import of
``a.b`` counts as one of ``a.b`` (not of the package ``a`` that Python runs first: every
submodule would otherwise close a circle with its own package).

A package's ``__main__`` (what ``python -m rebalance_plugin.report`` runs) is a command entry,
as ``cli/`` is: it may call the command line.

    python -m tools.imports      # prints the cycles and the imports of cli; exit 1 if any
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "rebalance_plugin"
CLI = f"{PACKAGE}.cli"


def module_name(path: Path, root: Path = ROOT) -> str:
    """``rebalance_plugin/report/__init__.py`` -> ``rebalance_plugin.report``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the package, by dotted name."""
    return {module_name(p, root): p for p in sorted((root / PACKAGE).rglob("*.py"))}


def _base(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module a ``from ... import`` names (relative levels resolved)."""
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    keep = len(parts) - node.level + (1 if is_package else 0)
    prefix = parts[:keep]
    return ".".join(prefix + ([node.module] if node.module else []))


def _known(name: str, known: Mapping[str, Path]) -> str | None:
    """``name`` or its nearest enclosing module of the package (``a.b.Name`` -> ``a.b``)."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str, path: Path, known: Mapping[str, Path]) -> set[str]:
    """The package's modules that ``module`` imports, anywhere in its file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _base(module, is_package, node)
            names = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            target = _known(name, known)
            if target is not None and target != module:
                found.add(target)
    return found


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the package's modules it imports."""
    known = modules(root)
    return {name: imports_of(name, path, known) for name, path in known.items()}


def strongly_connected(edges: Mapping[str, set[str]]) -> list[list[str]]:
    """Tarjan's components of more than one module (each one holds a cycle), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found)


def cycle_in(component: list[str], edges: Mapping[str, set[str]]) -> list[str]:
    """One shortest cycle through the component's first module, as a path back to it."""
    start, members = component[0], set(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(edges.get(node, set()) & members):
            if nxt == start:
                return paths[node] + [start]
            if nxt not in paths:
                paths[nxt] = paths[node] + [nxt]
                queue.append(nxt)
    return component


def imports_of_cli(edges: Mapping[str, set[str]]) -> Iterator[tuple[str, str]]:
    """(module, the cli module it imports) for every module outside cli/ and no __main__."""
    for module in sorted(edges):
        inside = module == CLI or module.startswith(CLI + ".")
        if inside or module.endswith(".__main__"):
            continue
        for target in sorted(edges[module]):
            if target == CLI or target.startswith(CLI + "."):
                yield module, target


def main() -> int:
    """Print the cycles (each as one circle through it, with the other modules of its knot)
    and the imports of cli; exit status 1 if there is any."""
    edges = graph()
    components = strongly_connected(edges)
    up = list(imports_of_cli(edges))
    print(f"{len(edges)} modules of {PACKAGE}, {sum(map(len, edges.values()))} imports")
    print(f"import cycles: {len(components)}")
    for component in components:
        cycle = cycle_in(component, edges)
        also = sorted(set(component) - set(cycle))
        print("  " + " -> ".join(cycle) + (f"  (with {', '.join(also)})" if also else ""))
    print(f"modules outside cli/ importing cli: {len(up)}")
    for module, target in up:
        print(f"  {module} imports {target}")
    return 1 if components or up else 0


if __name__ == "__main__":
    sys.exit(main())
