"""The portfolio's columns on FreqUI's charts (rebalance_plugin/report/columns.py): worked out by
hand on a small portfolio, and free of look-ahead (a candle's figures never change when later
orders or candles are added).

The portfolio: 1000 USDT, targets A 60% / B 40%, fee 0.1%, hourly candles from 10:00.

- 10:00 (the open of the 10:00 candle): buy 6 A at 100 (600.60 with the fee) and 4 B at 100
  (400.40): cash 1000 - 1001.00 = -1.00. (A negative cash keeps the sums round.)
- 12:00: sell 1 A at 130 (+129.87) and, 10 minutes later, buy 1 B at 125 (-125.125):
  cash -1.00 + 129.87 - 125.125 = 3.745.

Closes: A 110 / 120 / 140 / 150 at the 10:00 / 11:00 / 12:00 / 13:00 candles, B 100 / 110 /
120 / 125. A candle counts the orders filled before it closes:

- 09:00 candle (closes 10:00): nothing filled before 10:00: empty.
- 10:00 candle: A 6 x 110 = 660, B 4 x 100 = 400, value 660 + 400 - 1 = 1059;
  A 660 / 1059 = 62.323%, B 37.771%. Buy-and-hold the same: 1059.
- 11:00 candle: A 720, B 440: 1159.
- 12:00 candle (both 12:00 orders in): A 5 x 140 = 700, B 5 x 120 = 600, cash 3.745:
  1303.745; A 53.691%. Buy-and-hold 6 x 140 + 4 x 120 - 1 = 1319.
- 13:00 candle: A 750, B 625: 1378.745. Buy-and-hold 900 + 500 - 1 = 1399.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rebalance_plugin.report import columns
from rebalance_plugin.report.columns import Ledger, Start

H = pd.Timedelta(hours=1)
T = pd.Timestamp("2024-01-01 10:00", tz="UTC")


def orders_frame(rows: list[tuple[pd.Timestamp, str, float, float, float]]) -> pd.DataFrame:
    """(time, coin, signed quantity, price, fee) as the columns' orders frame."""
    out = []
    for when, coin, qty, price, fee in rows:
        value = abs(qty) * price
        cash = -value * (1 + fee) if qty > 0 else value * (1 - fee)
        out.append((when, coin, qty, cash))
    return pd.DataFrame(out, columns=columns.ORDER_COLUMNS)


ORDERS = orders_frame(
    [
        (T, "A", 6.0, 100.0, 0.001),
        (T, "B", 4.0, 100.0, 0.001),
        (T + 2 * H, "A", -1.0, 130.0, 0.001),
        (T + 2 * H + pd.Timedelta(minutes=10), "B", 1.0, 125.0, 0.001),
    ]
)
CLOSES = pd.DataFrame(
    {"A": [100.0, 110.0, 120.0, 140.0, 150.0], "B": [100.0, 100.0, 110.0, 120.0, 125.0]},
    index=pd.date_range(T - H, periods=5, freq="1h"),
)
START = Start(T, {"A": 6.0, "B": 4.0}, -1.0)


def test_worked_example():
    frame = columns.portfolio_frame(CLOSES, H, Ledger.forward(ORDERS, 1000.0, START))

    assert frame.iloc[0].isna().all()  # the 09:00 candle closed before the first order
    assert frame["value"].iloc[1:].tolist() == pytest.approx([1059.0, 1159.0, 1303.745, 1378.745])
    assert frame["buy_hold"].iloc[1:].tolist() == pytest.approx([1059.0, 1159.0, 1319.0, 1399.0])
    a = columns.pair_columns(frame, "A", 0.60, 0.05)
    assert a[columns.WEIGHT].iloc[1] == pytest.approx(660 / 1059 * 100)
    assert a[columns.WEIGHT].iloc[3] == pytest.approx(700 / 1303.745 * 100)
    assert a[columns.TARGET].iloc[3] == pytest.approx(60.0)
    assert (a[columns.BAND_LOW].iloc[3], a[columns.BAND_HIGH].iloc[3]) == pytest.approx((55, 65))
    b = columns.pair_columns(frame, "B", 0.40, 0.40 * 0.2)  # relative 20: 32% to 48%
    assert b[columns.WEIGHT].iloc[4] == pytest.approx(625 / 1378.745 * 100)
    assert (b[columns.BAND_LOW].iloc[4], b[columns.BAND_HIGH].iloc[4]) == pytest.approx((32, 48))


def test_anchored_at_the_end_it_is_the_same_as_counted_from_the_start():
    # Live, the bot knows its holdings and cash now: counting the orders back from them gives
    # what counting forward from the investment gives.
    forward = columns.portfolio_frame(CLOSES, H, Ledger.forward(ORDERS, 1000.0, START))
    backward = columns.portfolio_frame(
        CLOSES, H, Ledger(ORDERS, {"A": 5.0, "B": 5.0}, 3.745, (), START)
    )
    pd.testing.assert_frame_equal(forward, backward)


def test_money_added_shows_from_its_time_on():
    # 500 USDT deposited at 11:30, kept as cash: the 10:00 candle does not have it, the 11:00
    # candle (closes 12:00) does, and so does buy-and-hold (money counted at its amount).
    moves = ((T + H + pd.Timedelta(minutes=30), 500.0),)
    frame = columns.portfolio_frame(
        CLOSES, H, Ledger(ORDERS, {"A": 5.0, "B": 5.0}, 503.745, moves, START)
    )
    assert frame["value"].iloc[1:].tolist() == pytest.approx([1059.0, 1659.0, 1803.745, 1878.745])
    assert frame["buy_hold"].iloc[1:].tolist() == pytest.approx([1059.0, 1659.0, 1819.0, 1899.0])


def test_first_buys_are_the_entry_marks():
    # A trade opened at 10:00 (a backtest's fill at the candle's open) was signalled by the
    # 09:00 candle; one opened at 12:25 (live) by the 11:00 candle, the last closed at 12:25.
    dates = pd.Series(pd.date_range(T - H, periods=5, freq="1h"))
    marks = columns.entry_marks(dates, [T, T + 2 * H + pd.Timedelta(minutes=25)], H)
    assert marks.tolist() == [1, 0, 1, 0, 0]
    assert columns.entry_marks(dates, [], H).tolist() == [0] * 5


def random_run(seed: int, n: int = 300) -> tuple[pd.DataFrame, pd.DataFrame, Start]:
    """Three coins, ``n`` hourly candles, an order about every other candle, some inside the
    candle (live) and some at its open (a backtest)."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC")
    closes = pd.DataFrame(
        {c: 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n))) for c in ("A", "B", "C")},
        index=dates,
    )
    rows = [(dates[1], c, 3.0, 100.0, 0.001) for c in ("A", "B", "C")]
    for i in range(2, n, 2):
        coin = str(rng.choice(["A", "B", "C"]))
        inside = pd.Timedelta(minutes=int(rng.integers(0, 60)))
        qty = float(rng.choice([-0.2, 0.2]))
        rows.append((dates[i] + inside, coin, qty, float(closes[coin].iloc[i - 1]), 0.001))
    return orders_frame(rows), closes, Start(dates[1], {"A": 3.0, "B": 3.0, "C": 3.0}, 99.1)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_look_ahead(seed):
    """Each candle's figures equal the figures computed with only what was known when it
    closed: the orders filled before its close and the candles up to it."""
    orders, closes, start = random_run(seed)
    full = columns.portfolio_frame(closes, H, Ledger.forward(orders, 1000.0, start))
    for cut in (5, 60, 151, 298):
        closed_at = closes.index[cut] + H
        known = orders[orders["time"] < closed_at].reset_index(drop=True)
        seen = columns.portfolio_frame(
            closes.iloc[: cut + 1], H, Ledger.forward(known, 1000.0, start)
        )
        pd.testing.assert_frame_equal(full.iloc[: cut + 1], seen, check_freq=False)
    # Later candles moved wildly: nothing before them changes.
    moved = closes.copy()
    moved.iloc[200:] *= 3.0
    other = columns.portfolio_frame(moved, H, Ledger.forward(orders, 1000.0, start))
    pd.testing.assert_frame_equal(full.iloc[:200], other.iloc[:200])
    assert not np.allclose(full["value"].iloc[200:], other["value"].iloc[200:])
