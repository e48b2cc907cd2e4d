"""The report's auto-invest figures (deposits as cash flows), worked out by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from rebalance_plugin.report.metrics import deposits, held_at_targets, twr, xirr

T0 = pd.Timestamp("2023-01-01", tz="UTC")
DAY = pd.Timedelta(days=1)


def test_xirr_of_one_year_at_ten_percent():
    assert xirr([(T0, -1000.0), (T0 + 365 * DAY, 1100.0)]) == pytest.approx(0.10, abs=1e-9)


def test_xirr_with_a_deposit_in_between():
    # 1000 grows two years at 10% (1210), 1000 more one year (1100): 2310 at the end
    flows = [(T0, -1000.0), (T0 + 365 * DAY, -1000.0), (T0 + 730 * DAY, 2310.0)]
    assert xirr(flows) == pytest.approx(0.10, abs=1e-9)


def test_xirr_of_a_loss_and_of_nothing_to_solve():
    assert xirr([(T0, -1000.0), (T0 + 365 * DAY, 500.0)]) == pytest.approx(-0.5, abs=1e-9)
    assert pd.isna(xirr([(T0, -1000.0), (T0 + 365 * DAY, -5.0)]))


def test_twr_leaves_the_deposits_out():
    # 100 -> 110 (+10%), then 100 deposited at the start of the second step: 210 -> 231 (+10%)
    times = [T0, T0 + DAY, T0 + 2 * DAY]
    value = pd.Series([100.0, 110.0, 231.0], index=times)
    flows = pd.Series([100.0], index=[T0 + 2 * DAY])
    assert twr(value, flows) == pytest.approx(0.21)
    # the same growth without deposits: 100 -> 110 -> 121
    assert twr(pd.Series([100.0, 110.0, 121.0], index=times), flows.iloc[:0]) == pytest.approx(0.21)


def test_the_schedule_held_at_the_targets():
    # 50/50 BTC/ETH; 100 at BTC 100 / ETH 10 -> 0.5 BTC + 5 ETH; 100 at BTC 200 / ETH 10 ->
    # 0.25 BTC + 5 ETH; sold at BTC 200 / ETH 20: 0.75 x 200 + 10 x 20 = 350
    prices = pd.DataFrame({"BTC": [100.0, 200.0], "ETH": [10.0, 10.0]}, index=[T0, T0 + DAY])
    buys = [(T0, 100.0), (T0 + DAY, 100.0)]
    exits = {"BTC": 200.0, "ETH": 20.0}
    targets = {"BTC": 0.5, "ETH": 0.5}
    assert held_at_targets(buys, targets, prices, exits, 0.0) == pytest.approx(350.0)
    # a fee of 1% on each buy and on the sale: 350 / 1.01 x 0.99
    assert held_at_targets(buys, targets, prices, exits, 0.01) == pytest.approx(350 / 1.01 * 0.99)


def test_deposits_from_the_journal():
    journal = [
        {"kind": "rebalance", "ts": T0.timestamp()},
        {"kind": "deposit", "ts": (T0 + DAY).timestamp(), "amount": 100},
        {"kind": "deposit", "ts": (T0 + 2 * DAY).timestamp(), "amount": 50.5},
    ]
    made = deposits(journal)
    assert list(made.index) == [T0 + DAY, T0 + 2 * DAY] and list(made) == [100.0, 50.5]
