"""``freqtrade-rebalance``: the plugin's companion command (or ``python -m rebalance_plugin.cli``).

Each subcommand is a module of this package named in :data:`SUBCOMMANDS`, exposing
``add_parser(subparsers)`` (registers the command, its arguments and ``--help``, and returns
its parser) and ``run(args) -> int`` (the exit code). The command's name is the module's with
``_`` written ``-`` (module ``try_live``: ``freqtrade-rebalance try-live``). To add a command,
add its module and its name here. The modules are imported when the command line is built, so they
import nothing heavy at module level (Freqtrade, pandas): ``run`` does.

Freqtrade's rule for its ``commands/``: a command's module owns its arguments and its exit code
and calls a feature package (:mod:`rebalance_plugin.presets`, :mod:`~rebalance_plugin.report`,
:mod:`~rebalance_plugin.sweep`, :mod:`~rebalance_plugin.tax`, :mod:`~rebalance_plugin.trylive`,
:mod:`~rebalance_plugin.marketdata`); no feature package imports ``cli`` (``python -m
tools.imports`` checks it, and that the package's imports form no circle). :mod:`.configfile`
is the command line's own: it edits the config file ``init`` writes.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: The subcommand modules, in the order ``--help`` lists them.
SUBCOMMANDS: tuple[str, ...] = ("init", "presets", "report", "sweep", "tax", "try_live")

PROG = "freqtrade-rebalance"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Choose a portfolio for the freqtrade-rebalance plugin, see the presets "
        "and their returns, the portfolio view of a backtest, the triggers compared, and the "
        "realised gains for taxes.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"{__name__}.{name}")
        sub = module.add_parser(subparsers)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    return int(args._run(args))
