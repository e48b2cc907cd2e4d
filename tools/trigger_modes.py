"""Compare ``threshold_mode`` x ``rebalance_to`` on one portfolio with real backtests.

    python -m tools.trigger_modes [--timerange 20240101-20250101] [--threshold 5]
                                  [--investment 1000] [--timeframe 1h] [--datadir DIR]
                                  [--interval 1d]

Four in-process Freqtrade backtests (offline markets, as
``python -m rebalance_plugin.marketdata.offline``), one after another, of Balanced growth
(BTC 40, ETH 30, BNB 15, SOL 15) with the threshold trigger (``--interval``: the interval
trigger, its ``interval_min_drift`` the threshold):
absolute/target (today's default), relative/target, absolute/band, relative/band. For
each: final value, rebalances, skipped rebalances, skipped legs, rebalance orders, turnover and
fees, with the report's definitions (``rebalance_plugin.report``). Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import logging
import tempfile
from pathlib import Path
from typing import Any

from rebalance_plugin.core import journal
from rebalance_plugin.report.loading import orders_from_trades
from rebalance_plugin.report.metrics import journal_counts, order_totals

ROOT = Path(__file__).resolve().parents[1]
DATADIR = ROOT.parent / "shared" / "data" / "binance"
BALANCED = {"BTC": 40, "ETH": 30, "BNB": 15, "SOL": 15}
MODES = (
    ("absolute", "target"),
    ("relative", "target"),
    ("absolute", "band"),
    ("relative", "band"),
)


def mode_config(
    base: dict[str, Any],
    mode: str,
    to: str,
    threshold: float,
    investment: float,
    timeframe: str,
    user_data_dir: Path,
    interval: str | None = None,
) -> dict[str, Any]:
    """config.json with Balanced growth and the given trigger options (``base`` untouched)."""
    cfg = copy.deepcopy(base)
    cfg["rebalance"].update(
        coins=dict(BALANCED),
        investment=investment,
        trigger="threshold",
        threshold=threshold,
        threshold_mode=mode,
        rebalance_to=to,
    )
    if interval is not None:
        cfg["rebalance"].update(trigger="interval", interval=interval, interval_min_drift=threshold)
    cfg["exchange"]["pair_whitelist"] = [f"{c}/USDT" for c in BALANCED]
    cfg["dry_run_wallet"] = max(float(cfg.get("dry_run_wallet", 0)), investment)
    cfg["timeframe"] = timeframe
    cfg["user_data_dir"] = str(user_data_dir)
    cfg["strategy_path"] = str(ROOT / "strategies")
    return cfg


def backtest(config_path: Path, timerange: str, datadir: Path) -> dict[str, Any]:
    """One in-process backtest: the figures of the comparison."""
    from freqtrade.commands.optimize_commands import setup_optimize_configuration
    from freqtrade.enums import RunMode
    from freqtrade.optimize.backtesting import Backtesting

    from rebalance_plugin.marketdata.offline import install_offline_markets

    install_offline_markets()
    args = {
        "config": [str(config_path)],
        "strategy": "RebalanceStrategy",
        "datadir": str(datadir),
        "timerange": timerange,
        "export": "none",
        "cache": "none",
    }
    quiet = io.StringIO()  # Freqtrade's tables and progress bars
    with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
        config = setup_optimize_configuration(args, RunMode.BACKTEST)
        bt = Backtesting(config)
        bt.start()
    content = bt.all_bt_content["RebalanceStrategy"]
    events = journal.read(journal.journal_path(config["user_data_dir"]))
    turnover, fees, orders = order_totals(orders_from_trades(content["results"]))
    rebalances, skipped, skipped_legs = journal_counts(events)
    return {
        "final": float(content["final_balance"]),
        "rebalances": rebalances,
        "skipped": skipped,
        "skipped_legs": skipped_legs,
        "orders": orders,
        "turnover": turnover,
        "fees": fees,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timerange", default="20240101-20250101")
    parser.add_argument("--threshold", type=float, default=5)
    parser.add_argument("--investment", type=float, default=1000)
    parser.add_argument("--timeframe", default="1h")
    parser.add_argument("--datadir", type=Path, default=DATADIR)
    parser.add_argument("--interval", default=None, help="interval trigger instead, e.g. 1d")
    opts = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    base = json.loads((ROOT / "config.json").read_text())
    trigger = (
        f"threshold {opts.threshold:g}"
        if opts.interval is None
        else f"interval {opts.interval}, interval_min_drift {opts.threshold:g}"
    )
    print(
        f"Balanced growth, {opts.investment:g} USDT, {trigger}, {opts.timeframe} candles, "
        f"{opts.timerange}"
    )
    header = (
        f"{'threshold_mode':<15}{'rebalance_to':<13}{'final value':>12}{'rebalances':>11}"
        f"{'skipped':>8}{'skipped legs':>13}{'orders':>7}{'turnover':>11}{'fees':>8}"
    )
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmp:
        for mode, to in MODES:
            user_data = Path(tmp) / f"{mode}-{to}" / "user_data"
            user_data.mkdir(parents=True)
            path = user_data.parent / "config.json"
            cfg = mode_config(
                base,
                mode,
                to,
                opts.threshold,
                opts.investment,
                opts.timeframe,
                user_data,
                opts.interval,
            )
            path.write_text(json.dumps(cfg))
            r = backtest(path, opts.timerange, opts.datadir)
            print(
                f"{mode:<15}{to:<13}{r['final']:>12,.2f}{r['rebalances']:>11}{r['skipped']:>8}"
                f"{r['skipped_legs']:>13}{r['orders']:>7}{r['turnover']:>11,.2f}"
                f"{r['fees']:>8.2f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
