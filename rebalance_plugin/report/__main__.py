"""``python -m rebalance_plugin.report``: ``freqtrade-rebalance report`` under its former name,
the same arguments and output (:func:`rebalance_plugin.cli.report.main`). A command entry, as
``cli/`` is: the report package itself never imports the command line."""

from __future__ import annotations

import sys

from rebalance_plugin.cli.report import main

if __name__ == "__main__":
    sys.exit(main())
