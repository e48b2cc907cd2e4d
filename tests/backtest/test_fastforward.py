"""The backtest fast-forward (rebalance_plugin/ft/fastforward.py) skips the candles on which
nothing can happen: the same backtest with it on and off gives identical orders, journal and
final balance, for each trigger and threshold mode."""

from __future__ import annotations

import pytest

from rebalance_plugin.ft import fastforward
from tests.helpers.ftrun import NO_SHARED_DATA, SHARED_DATA, make_config, run_backtest

pytestmark = pytest.mark.skipif(not SHARED_DATA.exists(), reason=NO_SHARED_DATA)

COINS = {"BTC": 40, "ETH": 30, "BNB": 15, "SOL": 15}


def orders(run):
    out = []
    for _, trade in run.trades.iterrows():
        for o in trade["orders"]:
            out.append(
                (trade["pair"], o["order_filled_timestamp"], o["ft_order_side"], o["amount"])
            )
    return sorted(out)


@pytest.mark.parametrize(
    "trigger",
    [
        {"threshold": 2},
        {"threshold": 10, "threshold_mode": "relative", "rebalance_to": "band"},
        {"trigger": "interval", "interval": "3d", "interval_min_drift": 1},
    ],
    ids=["threshold", "relative-band", "interval"],
)
def test_the_same_backtest_with_and_without_skipping_quiet_candles(tmp_path, trigger):
    cfg = make_config(tmp_path, coins=COINS, investment=1000, **trigger)
    runs = []
    for enabled in (True, False):
        fastforward.ENABLED = enabled
        try:
            runs.append(run_backtest(cfg, "20240101-20240215"))
        finally:
            fastforward.ENABLED = True
    on, off = runs
    assert len(orders(on)) > 8  # six weeks rebalance a few times
    assert orders(on) == orders(off)
    assert on.journal == off.journal
    assert on.final_balance == off.final_balance
