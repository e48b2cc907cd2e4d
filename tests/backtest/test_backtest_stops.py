"""trigger_price, stop_loss and take_profit in real Freqtrade backtests on real Binance candles.

The expected candles are found from the price files alone: the first buys at the open of the
second candle (Freqtrade shifts entry signals by one candle), ``weight x investment / (1 + fee)``
each, rounded down to the step; with a
50-point threshold nothing is rebalanced, so the portfolio's value at a candle is
``sum(qty x open) + cash``.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from tests.helpers.ftrun import NO_SHARED_DATA, SHARED_DATA, load_opens, make_config, run_backtest

pytestmark = pytest.mark.skipif(not SHARED_DATA.exists(), reason=NO_SHARED_DATA)

COINS = {"BTC": 60, "ETH": 40}
STEP = {"BTC": 1e-05, "ETH": 1e-04}
FEE = 0.001
START, END = "2024-01-01", "2024-03-01"
TIMERANGE = "20240101-20240301"


def values_by_candle(opens: pd.DataFrame, investment: float) -> pd.Series:
    first = opens.iloc[1]
    qty = {
        c: math.floor(w / 100 * investment / (1 + FEE) / first[c] / STEP[c] + 1e-9) * STEP[c]
        for c, w in COINS.items()
    }
    cash = investment - sum(qty[c] * first[c] * (1 + FEE) for c in COINS)
    return (sum(opens[c] * qty[c] for c in COINS) + cash).iloc[1:]


def window() -> pd.DataFrame:
    opens = load_opens(list(COINS))
    return opens[
        (opens.index >= pd.Timestamp(START, tz="UTC")) & (opens.index < pd.Timestamp(END, tz="UTC"))
    ].dropna()


@pytest.mark.parametrize("on_stop", ["sell_all", "keep"])
def test_stop_loss_on_the_portfolio_value_applies_on_stop(tmp_path, on_stop):
    opens = window()
    value = values_by_candle(opens, 1000)
    level = round(float(value.iloc[: 24 * 30].min()) + 1.0, 2)  # reached within January
    expected = value[value <= level].index[0]
    run = run_backtest(
        make_config(tmp_path, coins=COINS, threshold=50, stop_loss=level, on_stop=on_stop),
        TIMERANGE,
    )
    closes = pd.to_datetime(run.trades["close_date"], utc=True)
    last = pd.Timestamp(opens.index[-1])
    assert len(run.trades) == 2  # each coin bought once, never re-bought after the stop
    if on_stop == "sell_all":
        assert (closes == expected).all(), (list(closes), expected)
    else:  # kept: the coins stay until the backtest's own end-of-data exit
        assert (closes >= last).all() and (closes != expected).all()
    assert run.strategy.rb.book.stopped.startswith("stop_loss reached")


def test_take_profit_on_a_coin_price_sells_everything(tmp_path):
    opens = window()
    level = 50000.0  # BTC crossed 50 000 USDT in February 2024
    expected = opens.index[opens["BTC"] >= level][0]
    run = run_backtest(
        make_config(
            tmp_path, coins=COINS, threshold=50, take_profit={"BTC": level}, on_stop="sell_all"
        ),
        TIMERANGE,
    )
    closes = pd.to_datetime(run.trades["close_date"], utc=True)
    assert (closes == expected).all() and len(run.trades) == 2


def test_trigger_price_delays_the_first_buys(tmp_path):
    opens = window()
    level = 40000.0  # BTC opened 2024 above 42 000 and dipped under 40 000 in late January
    assert opens["BTC"].iloc[0] > level
    expected = opens.index[opens["BTC"] <= level][0]
    run = run_backtest(
        make_config(tmp_path, coins=COINS, threshold=50, trigger_price=level), TIMERANGE
    )
    opened = pd.to_datetime(run.trades["open_date"], utc=True)
    assert (opened == expected).all() and len(run.trades) == 2
    btc = run.trades[run.trades["pair"] == "BTC/USDT"].iloc[0]
    assert btc["open_rate"] == pytest.approx(opens.loc[expected, "BTC"])
