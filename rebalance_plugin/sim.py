"""Moved: the local Binance stand-in is the top-level package ``binance_standin`` now.

Run it with ``python -m binance_standin`` (same arguments). This module only says so: it is
not part of the plugin any more and does not import the stand-in.
"""

from __future__ import annotations

import sys

MOVED = (
    "rebalance_plugin.sim has moved: the Binance stand-in is now the top-level package "
    "binance_standin - run `python -m binance_standin` (same arguments); import from "
    "`binance_standin` in Python."
)


def main(argv: list[str] | None = None) -> int:
    """Tell where the stand-in went; exit status 2."""
    print(MOVED, file=sys.stderr, flush=True)
    return 2


if __name__ == "__main__":
    sys.exit(main())
