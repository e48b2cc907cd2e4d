"""The backtest fast path (rebalance_plugin/ft/fastpath.py) changes speed, never results."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pandas as pd
import pytest
from freqtrade.persistence import Order
from freqtrade.persistence.trade_model import LocalTrade

from rebalance_plugin.ft import fastpath as ft_fastpath
from rebalance_plugin.ft.sourceguard import RELEASES
from tests.helpers.ftrun import NO_SHARED_DATA, SHARED_DATA, make_config, run_backtest


def test_the_fast_path_is_verified_on_every_release_of_the_window():
    # Per release, the hashes are compared in tests/unit/test_ft_sourceguard.py (and under each
    # release by `make test-compat`): the copies here were read against each release's code.
    assert ft_fastpath.GUARD.releases() == RELEASES
    assert ft_fastpath.GUARD.verified()


def _trade() -> LocalTrade:
    return LocalTrade(
        id=1,
        pair="BTC/USDT",
        base_currency="BTC",
        stake_currency="USDT",
        stake_amount=100.0,
        amount=0.0,
        open_rate=100.0,
        fee_open=0.001,
        fee_close=0.001,
        is_open=True,
        open_date=datetime(2024, 1, 1, tzinfo=UTC),
        exchange="binance",
        leverage=1.0,
        trading_mode="spot",
        amount_precision=1e-05,
        price_precision=0.01,
        precision_mode=4,
        precision_mode_price=4,
    )


def _order(i: int, side: str, amount: float, price: float, *, is_open=False) -> Order:
    when = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=i)
    return Order(
        id=i,
        ft_trade_id=1,
        ft_order_side=side,
        ft_pair="BTC/USDT",
        ft_is_open=is_open,
        order_id=str(i),
        status="open" if is_open else "closed",
        symbol="BTC/USDT",
        order_type="limit",
        side=side,
        price=price,
        average=price,
        amount=amount,
        filled=0.0 if is_open else amount,
        remaining=amount if is_open else 0.0,
        cost=amount * price,
        order_date=when,
        order_filled_date=None if is_open else when,
    )


FIELDS = (
    "amount",
    "stake_amount",
    "open_rate",
    "realized_profit",
    "close_profit",
    "close_profit_abs",
    "max_stake_amount",
    "fee_open_cost",
    "open_trade_value",
)


@pytest.mark.backtest  # runs Freqtrade itself: seconds, not milliseconds
def test_incremental_recalc_equals_freqtrades_recalc_order_by_order():
    """600 random fills (buys and partial sells, some left open for a while) on two trades:
    after every change, the fast recalc and Freqtrade's recalc agree on every field."""
    ft_fastpath.install()
    original = ft_fastpath._ORIGINALS["LocalTrade.recalc_trade_from_orders"]
    rng = random.Random(7)
    fast, slow = _trade(), _trade()
    held, price = 0.0, 40000.0
    for i in range(600):
        price *= 1 + rng.uniform(-0.02, 0.02)
        price = round(price, 2)
        if held < 0.001 or rng.random() < 0.55:
            side, amount = "buy", round(rng.uniform(0.0005, 0.01), 5)
        else:
            side, amount = "sell", round(rng.uniform(0.00001, held / 2), 5)
        leave_open = rng.random() < 0.1
        for trade in (fast, slow):
            trade.orders.append(_order(i, side, amount, price, is_open=leave_open))
        if leave_open:  # fill it later, as Freqtrade does, then recalc
            for trade in (fast, slow):
                o = trade.orders[-1]
                o.ft_is_open, o.status, o.filled, o.remaining = False, "closed", amount, 0.0
        held += amount if side == "buy" else -amount
        fast.recalc_trade_from_orders()
        original(slow)
        for field in FIELDS:
            assert getattr(fast, field) == getattr(slow, field), (i, field)
    assert fast.amount == pytest.approx(held, abs=1e-9)
    assert len(fast.orders) == 600


def test_open_order_lookups_find_open_orders_after_the_watermark():
    ft_fastpath.install()
    trade = _trade()
    for i in range(50):
        trade.orders.append(_order(i, "buy", 0.001, 100.0))
    assert trade.open_orders == [] and not trade.has_open_orders
    assert trade.select_order("buy", is_open=True) is None
    trade.orders.append(_order(50, "sell", 0.001, 100.0, is_open=True))
    assert trade.has_open_orders and trade.open_orders == [trade.orders[-1]]
    assert trade.select_order("sell", is_open=True) is trade.orders[-1]
    assert trade.select_order("buy", is_open=True) is None
    assert ft_fastpath.closed_prefix(trade) == 50


def test_entry_count_equals_freqtrades_after_every_order():
    """300 orders: buys and sells, some left open and closed later, some cancelled unfilled:
    the fast count of filled entries equals Freqtrade's list-and-count after each one."""
    ft_fastpath.install()
    original = ft_fastpath._ORIGINALS["LocalTrade.nr_of_successful_entries"]
    rng = random.Random(11)
    trade = _trade()
    pending: list[Order] = []
    for i in range(300):
        side = "buy" if rng.random() < 0.6 else "sell"
        order = _order(i, side, 0.001, 100.0, is_open=rng.random() < 0.2)
        trade.orders.append(order)
        if order.ft_is_open:
            pending.append(order)
        if pending and rng.random() < 0.3:  # an open order closes: filled, or cancelled empty
            o = pending.pop(0)
            o.ft_is_open = False
            if rng.random() < 0.5:
                o.status, o.filled, o.remaining = "closed", o.amount, 0.0
            else:
                o.status = "canceled"
        assert trade.nr_of_successful_entries == original(trade), i
    assert 0 < trade.nr_of_successful_entries < 300


def test_price_precision_is_pandas_asof_of_the_tick_size_series():
    """Freqtrade's per-pair tick size over time: the same answer as ``Series.asof`` before the
    first date (none: the exchange's), on a date, between dates, after the last, and where the
    series has a gap (NaN: the last value before it)."""
    ft_fastpath.install()
    original = ft_fastpath._ORIGINALS["Backtesting.get_pair_precision"]
    dates = pd.date_range("2024-01-01", periods=6, freq="1D", tz="UTC")
    series = pd.Series([0.1, 0.1, float("nan"), 0.01, 0.01, 0.001], index=dates)
    exchange = SimpleNamespace(get_precision_price=lambda pair: 0.5)
    bt = SimpleNamespace(price_pair_prec={"BTC/USDT": series}, exchange=exchange)
    bt.precision_mode_price = 2
    probes = [dates[0] - timedelta(hours=1), *dates, *(d + timedelta(hours=7) for d in dates)]
    for when in probes:
        for pair in ("BTC/USDT", "ETH/USDT"):
            got = ft_fastpath._get_pair_precision(bt, pair, when.to_pydatetime())
            assert got == original(bt, pair, when.to_pydatetime()), (pair, when)
    assert ft_fastpath._get_pair_precision(bt, "BTC/USDT", dates[2].to_pydatetime())[0] == 0.1


@pytest.mark.backtest  # runs Freqtrade itself: seconds, not milliseconds
@pytest.mark.skipif(not SHARED_DATA.exists(), reason=NO_SHARED_DATA)
def test_backtest_results_are_identical_with_and_without_the_fast_path(tmp_path, monkeypatch):
    coins = {"BTC": 25, "ETH": 25, "BNB": 25, "SOL": 25}
    cfg = make_config(tmp_path, coins=coins, investment=1000, threshold=1)
    fast = run_backtest(cfg, "20240101-20240301")
    ft_fastpath.uninstall()
    monkeypatch.setattr(ft_fastpath, "ENABLED", False)
    try:
        slow = run_backtest(cfg, "20240101-20240301")
    finally:
        monkeypatch.setattr(ft_fastpath, "ENABLED", True)
        ft_fastpath.install()
    assert fast.final_balance == slow.final_balance
    cols = ["pair", "amount", "open_rate", "close_rate", "profit_abs", "stake_amount"]
    assert fast.trades[cols].equals(slow.trades[cols])
    assert [len(o) for o in fast.trades["orders"]] == [len(o) for o in slow.trades["orders"]]
    assert list(fast.trades["orders"]) == list(slow.trades["orders"])
    assert sum(len(o) for o in fast.trades["orders"]) > 40
