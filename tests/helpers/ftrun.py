"""Run real Freqtrade backtests in-process for the tests (offline markets, real or tmp data)."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from rebalance_plugin.core import journal
from tests.helpers.paths import NO_SHARED_DATA, ROOT, SHARED_DATA  # noqa: F401 - re-exported


def base_config() -> dict[str, Any]:
    return json.loads((ROOT / "config.json").read_text())


def make_config(tmp_path: Path, *, coins: dict[str, float] | None = None, **rebalance: Any) -> Path:
    """config.json with a different portfolio, written to tmp_path (whitelist kept in step)."""
    cfg = copy.deepcopy(base_config())
    if coins is not None:
        cfg["rebalance"]["coins"] = coins
        cfg["exchange"]["pair_whitelist"] = [f"{c}/USDT" for c in coins]
    cfg["rebalance"].update(rebalance)
    cfg["dry_run_wallet"] = max(cfg["dry_run_wallet"], cfg["rebalance"]["investment"])
    cfg["user_data_dir"] = str(tmp_path / "user_data")
    cfg["strategy_path"] = str(ROOT / "strategies")
    cfg["hyperopt_path"] = str(ROOT / "hyperopts")
    (tmp_path / "user_data").mkdir(exist_ok=True)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    return path


@dataclass
class BacktestRun:
    config: dict[str, Any]
    trades: pd.DataFrame  # freqtrade's trade list, with an ``orders`` column
    strategy: Any
    final_balance: float
    journal: list[dict]
    stats: dict[str, Any] | None = None  # Freqtrade's statistics of the strategy


def run_backtest(
    config_path: Path,
    timerange: str,
    datadir: Path = SHARED_DATA,
    strategy: str = "RebalanceStrategy",
    extra: dict | None = None,
) -> BacktestRun:
    """``freqtrade backtesting`` in-process, as the CLI sets it up, with the offline markets."""
    from freqtrade.commands.optimize_commands import setup_optimize_configuration
    from freqtrade.enums import RunMode
    from freqtrade.optimize.backtesting import Backtesting

    from rebalance_plugin.marketdata.offline import install_offline_markets

    install_offline_markets()
    args = {
        "config": [str(config_path)],
        "strategy": strategy,
        "datadir": str(datadir),
        "timerange": timerange,
        "export": "none",
        "cache": "none",
        **(extra or {}),
    }
    config = setup_optimize_configuration(args, RunMode.BACKTEST)
    bt = Backtesting(config)
    bt.start()
    content = bt.all_bt_content[strategy]
    strat = bt.strategylist[0]
    records = journal.read(journal.journal_path(config["user_data_dir"]))
    stats = bt.results["strategy"][strategy]
    return BacktestRun(config, content["results"], strat, content["final_balance"], records, stats)


def freqtrade(config: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """The unchanged Freqtrade CLI with the offline markets: ``freqtrade <command> -c config
    --datadir <real candles> <args>``, as a user runs it."""
    cmd = [sys.executable, "-m", "rebalance_plugin.marketdata.offline", args[0], "-c", str(config)]
    cmd += ["--datadir", str(SHARED_DATA), *args[1:]]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def cli_output(result: subprocess.CompletedProcess[str]) -> str:
    """What a command printed, with lines joined (Freqtrade wraps long lines without a TTY)."""
    return " ".join((result.stdout + result.stderr).split())


def with_strategy_copy(config_path: Path) -> Path:
    """Point the config at a copy of the strategy folder beside it (a parameter file written by
    hyperopt lands there, never in the repository's strategies/). Returns that folder."""
    folder = config_path.parent / "strategies"
    folder.mkdir(exist_ok=True)
    shutil.copy(ROOT / "strategies" / "RebalanceStrategy.py", folder)
    cfg = json.loads(config_path.read_text())
    cfg["strategy_path"] = str(folder)
    config_path.write_text(json.dumps(cfg))
    return folder


def load_opens(
    coins: list[str], timeframe: str = "1h", datadir: Path = SHARED_DATA
) -> pd.DataFrame:
    """Open prices by candle time (UTC), one column per coin, read straight from the files."""
    cols = {}
    for coin in coins:
        df = pd.read_feather(datadir / f"{coin}_USDT-{timeframe}.feather")
        cols[coin] = df.set_index("date")["open"]
    return pd.DataFrame(cols)
