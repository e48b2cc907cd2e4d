"""``python -m rebalance_plugin.report``: see :func:`rebalance_plugin.report.main`."""

from __future__ import annotations

import sys

from rebalance_plugin.report import main

if __name__ == "__main__":
    sys.exit(main())
