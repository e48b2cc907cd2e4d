"""``python -m rebalance_plugin.cli``: see :func:`rebalance_plugin.cli.main`."""

from __future__ import annotations

import sys

from rebalance_plugin.cli import main

if __name__ == "__main__":
    sys.exit(main())
