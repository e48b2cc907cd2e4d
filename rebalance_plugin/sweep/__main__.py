"""``python -m rebalance_plugin.sweep ARGS``: ``freqtrade-rebalance sweep ARGS``. A command
entry, as ``cli/`` is: the sweep package itself never imports the command line."""

from __future__ import annotations

import sys

from rebalance_plugin.cli import main

if __name__ == "__main__":
    sys.exit(main(["sweep", *sys.argv[1:]]))
