"""The largest classes and functions of the shipped code (lines, from an ``ast`` walk), for the
house's health: ``python -m tools.sizes [--top 10] [ROOT ...]`` (default: rebalance_plugin,
binance_standin, coingecko_standin, strategies, hyperopts). Nested functions count on their own."""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

DEFAULT_ROOTS = (
    "rebalance_plugin",
    "binance_standin",
    "coingecko_standin",
    "strategies",
    "hyperopts",
)


def sizes(roots: list[str]) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(classes, functions) as (lines, "path:name"), largest first."""
    classes: list[tuple[int, str]] = []
    functions: list[tuple[int, str]] = []
    for root in roots:
        for path in sorted(Path(root).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                    lines = (node.end_lineno or node.lineno) - node.lineno + 1
                    kind = classes if isinstance(node, ast.ClassDef) else functions
                    kind.append((lines, f"{path}:{node.name}"))
    return sorted(classes, reverse=True), sorted(functions, reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("roots", nargs="*", default=list(DEFAULT_ROOTS))
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    classes, functions = sizes(args.roots)
    for title, rows in (("classes", classes), ("functions", functions)):
        print(f"largest {title}:")
        for lines, name in rows[: args.top]:
            print(f"  {lines:5d}  {name}")


if __name__ == "__main__":
    main()
