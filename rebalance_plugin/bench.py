"""Moved: the benchmark is a development tool, ``make bench`` (``python -m tools.bench``)."""

from __future__ import annotations

import sys

MESSAGE = (
    "rebalance_plugin.bench has moved: run `make bench`, or `python -m tools.bench` from "
    "the repository's root"
)


def main() -> int:
    print(MESSAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
