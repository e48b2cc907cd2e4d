"""``freqtrade-rebalance init`` writes a config the offline backtest
(docs/backtesting.md#without-exchange-access) runs as it is: no hand edit of the pair whitelist
or max_open_trades."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from rebalance_plugin.cli import main
from rebalance_plugin.core.config import TEMPLATES
from tests.helpers.ftrun import NO_SHARED_DATA, SHARED_DATA, run_backtest
from tests.helpers.paths import ROOT, STRATEGIES

pytestmark = pytest.mark.skipif(not SHARED_DATA.exists(), reason=NO_SHARED_DATA)


def test_diversified_written_by_init_backtests_without_a_hand_edit(tmp_path):
    config = tmp_path / "config.json"
    shutil.copy(ROOT / "config.json", config)
    assert main(["init", "--config", str(config), "--template", "diversified"]) == 0
    (tmp_path / "user_data").mkdir()

    # The command of docs/backtesting.md#without-exchange-access: backtesting -c <cfg>
    # --datadir ... --timerange 20240101-20240301 (user data and strategy folder given on the
    # command line, the config file as written).
    run = run_backtest(
        config,
        "20240101-20240301",
        extra={"user_data_dir": str(tmp_path / "user_data"), "strategy_path": str(STRATEGIES)},
    )
    coins = TEMPLATES["diversified"]
    assert sorted(run.trades["pair"]) == sorted(f"{c}/USDT" for c in coins)
    # Every coin's first buy is its weight of the 1000 USDT investment, fee included (one
    # quantity step and the fee's rounding apart).
    for _, trade in run.trades.iterrows():
        first = trade["orders"][0]
        spent = first["amount"] * first["safe_price"] * 1.001
        assert spent == pytest.approx(coins[trade["pair"].split("/")[0]] * 10, rel=0.01)
    opens = pd.to_datetime(run.trades["open_date"], utc=True)
    assert opens.min() == pd.Timestamp("2024-01-01 00:00", tz="UTC") + pd.Timedelta(hours=1)
