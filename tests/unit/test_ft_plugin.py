"""The loop's stages with fakes: a backtest whose candles stop for a coin says so once per gap
and holds that coin at its last price while the others rebalance among themselves (nothing is
decided while every coin lacks a candle, or for a coin that never had one)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from freqtrade.enums import RunMode

from rebalance_plugin.ft.plugin import RebalancePlugin
from tests.unit.ft_fakes import T0, FakeTrade, make_glue, market

HOUR = 3600


def backtest_plugin(mocker: Any) -> tuple[RebalancePlugin, list[str]]:
    glue = make_glue(mocker, backtest=True)
    glue.strategy.config["runmode"] = RunMode.BACKTEST
    plugin = RebalancePlugin(glue.strategy, glue.ctx.cfg, glue.strategy.config)
    plugin.markets.add("BTC")
    plugin.markets.add("ETH")
    plugin.store.update(started=T0, triggered=True)
    trades = [
        FakeTrade("BTC/USDT", amount=0.012, stake_amount=600.0, id=1),
        FakeTrade("ETH/USDT", amount=0.2, stake_amount=400.0, id=2),
    ]
    mocker.patch.object(plugin.reader, "open_trades", return_value=trades)
    return plugin, glue.said


def three_coin_plugin(mocker: Any) -> RebalancePlugin:
    """BTC 50 / ETH 30 / BNB 20 for 1000 USDT, held at its targets at BTC 50000, ETH 2000 and
    BNB 400 (the stakes take the whole investment and its fees: no cash left)."""
    section = {"coins": {"BTC": 50, "ETH": 30, "BNB": 20}, "investment": 1000}
    glue = make_glue(mocker, section, backtest=True)
    glue.dp.markets["BNB/USDT"] = market(1e-03)
    glue.strategy.config["runmode"] = RunMode.BACKTEST
    plugin = RebalancePlugin(glue.strategy, glue.ctx.cfg, glue.strategy.config)
    for coin in ("BTC", "ETH", "BNB"):
        plugin.markets.add(coin)
    plugin.store.update(started=T0, triggered=True)
    trades = [
        FakeTrade("BTC/USDT", amount=0.01, stake_amount=500.0, id=1),
        FakeTrade("ETH/USDT", amount=0.15, stake_amount=300.0, id=2),
        FakeTrade("BNB/USDT", amount=0.5, stake_amount=200.0, id=3),
    ]
    mocker.patch.object(plugin.reader, "open_trades", return_value=trades)
    return plugin


def test_a_coin_whose_candles_stop_is_held_and_the_others_rebalance_among_themselves(
    mocker, caplog
):
    plugin = three_coin_plugin(mocker)
    t = [T0 + HOUR * i for i in range(1, 5)]
    # BNB's candles stop after the first hour (its last open 400); BTC rises to 70000 at t[3].
    btc = [50000.0, 50000.0, 50000.0, 70000.0]
    plugin.reader.opens = {
        "BTC/USDT": {int(x): p for x, p in zip(t, btc, strict=True)},
        "ETH/USDT": {int(x): 2000.0 for x in t},
        "BNB/USDT": {int(t[0]): 400.0},
    }
    with caplog.at_level("INFO", logger="rebalance_plugin.ft"):
        for x in t[:3]:
            plugin.loop(datetime.fromtimestamp(x, UTC))
        # Among BTC and ETH the targets are 50/80 and 30/80: 62.5% and 37.5%, where they are.
        assert plugin.desk.orders == {}
        plugin.loop(datetime.fromtimestamp(t[3], UTC))
    said = [r.getMessage() for r in caplog.records if r.name == "rebalance_plugin.ft"]
    assert said[0] == (
        "No candle for BNB at 2024-01-01 12:00 UTC: BNB is held at its last price (400), no "
        "order is placed for it, and the other coins are rebalanced among themselves until its "
        "candles return (if they do not, Freqtrade sells it at that price when the backtest ends)"
    )
    assert not any(m.startswith("No candle") for m in said[1:])  # once per gap
    # BTC 700 against ETH 300 is 70% of the trading coins (target 62.5): a sell of BTC down
    # to 625 USDT, 75 USDT (the whole portfolio's targets would sell 100: 700 - 50% x 1200).
    # BNB gets no order.
    assert set(plugin.desk.orders) == {"BTC/USDT"}
    leg = plugin.desk.orders["BTC/USDT"]
    assert leg.side == "sell"
    assert leg.qty * 70000.0 == pytest.approx(75.0, rel=0.01)


def test_a_coin_whose_candles_return_rejoins_the_rebalancing_at_its_target(mocker, caplog):
    plugin = three_coin_plugin(mocker)
    t = [T0 + HOUR * i for i in range(1, 4)]
    # BNB has no candle at t[1] and comes back at half its price at t[2].
    plugin.reader.opens = {
        "BTC/USDT": {int(x): 50000.0 for x in t},
        "ETH/USDT": {int(x): 2000.0 for x in t},
        "BNB/USDT": {int(t[0]): 400.0, int(t[2]): 200.0},
    }
    with caplog.at_level("INFO", logger="rebalance_plugin.ft"):
        for x in t[:2]:
            plugin.loop(datetime.fromtimestamp(x, UTC))
        assert plugin.desk.orders == {}
        plugin.loop(datetime.fromtimestamp(t[2], UTC))
    said = [r.getMessage() for r in caplog.records if r.name == "rebalance_plugin.ft"]
    assert len([m for m in said if m.startswith("No candle for BNB")]) == 1
    # The whole portfolio again: BTC 500, ETH 300, BNB 100 of 900 (BNB 11.1%, target 20):
    # BTC sells 50 and ETH 30 (to 450 and 270), their proceeds buy BNB after the sells.
    orders = plugin.desk.orders
    assert set(orders) == {"BTC/USDT", "ETH/USDT"}
    assert {leg.side for leg in orders.values()} == {"sell"}
    assert orders["BTC/USDT"].qty * 50000.0 == pytest.approx(50.0, rel=0.02)
    assert orders["ETH/USDT"].qty * 2000.0 == pytest.approx(30.0, rel=0.02)
    assert set(plugin.store.book.engine.pending_buys) == {"BNB"}


def test_when_every_coin_lacks_a_candle_nothing_is_decided(mocker, caplog):
    plugin = three_coin_plugin(mocker)
    t = [T0 + HOUR * i for i in range(1, 4)]
    # No coin has a candle at t[1] (an exchange-wide gap); BTC has doubled when they return.
    plugin.reader.opens = {
        "BTC/USDT": {int(t[0]): 50000.0, int(t[2]): 100000.0},
        "ETH/USDT": {int(t[0]): 2000.0, int(t[2]): 2000.0},
        "BNB/USDT": {int(t[0]): 400.0, int(t[2]): 400.0},
    }
    with caplog.at_level("INFO", logger="rebalance_plugin.ft"):
        # The run's first loop at t[1] (a quiet portfolio's fast-forward skips a candle no coin
        # has): every coin had a price at t[0], yet none is held at it.
        plugin.loop(datetime.fromtimestamp(t[1], UTC))
        assert plugin.desk.orders == {}
        plugin.loop(datetime.fromtimestamp(t[2], UTC))  # BTC 1000 of 1500: sold at once
    said = [r.getMessage() for r in caplog.records if r.name == "rebalance_plugin.ft"]
    assert said[0] == (
        "No candle for BTC, ETH, BNB at 2024-01-01 12:00 UTC: the rebalancer decides nothing "
        "until every coin has a price again"
    )
    assert set(plugin.desk.orders) == {"BTC/USDT"}


def test_a_coin_without_any_earlier_candle_is_not_held_and_nothing_is_decided(mocker, caplog):
    plugin = three_coin_plugin(mocker)
    now = T0 + HOUR
    plugin.reader.opens = {"BTC/USDT": {int(now): 90000.0}, "ETH/USDT": {int(now): 2000.0}}
    with caplog.at_level("INFO", logger="rebalance_plugin.ft"):
        plugin.loop(datetime.fromtimestamp(now, UTC))
    said = [r.getMessage() for r in caplog.records if r.name == "rebalance_plugin.ft"]
    assert said == [
        "No candle for BNB at 2024-01-01 11:00 UTC: the rebalancer decides nothing until every "
        "coin has a price again"
    ]
    assert plugin.desk.orders == {}  # BTC at 900 of 1500 would be sold otherwise


def test_a_backtest_candle_hands_out_its_sells_then_sizes_its_buys_at_the_next_turn(mocker):
    """The turn order of one candle (rebalance_plugin/ft/turns.py): the sells go first; the
    fast path's gate lets the other pairs' turns pass until the last sell is handed out; the
    next turn sizes the buys from the cash the sells freed and hands them out, once."""
    plugin, _ = backtest_plugin(mocker)
    btc, eth = plugin.reader.open_trades()
    now = T0 + HOUR
    # BTC up 40%: 0.012 x 70000 = 840 against ETH's 400, 67.7% of the portfolio (target 60)
    plugin.reader.opens = {"BTC/USDT": {int(now): 70000.0}, "ETH/USDT": {int(now): 2000.0}}
    plugin.loop(datetime.fromtimestamp(now, UTC))
    gate = plugin.ctx.strategy.ft_adjust_gate
    assert gate is plugin.turns
    assert set(gate.orders) == {"BTC/USDT"} and gate.orders["BTC/USDT"].side == "sell"
    assert gate.buys_due and not gate.wanted("ETH/USDT")  # ETH waits for the sell's cash

    stake, tag = plugin.order_for(btc, 70000.0)  # BTC's turn: its sell, filled at once
    assert stake < 0 and tag == "rebalance sell"
    sold = -stake * btc.amount / btc.stake_amount  # Freqtrade's cost-basis arithmetic
    btc.realized_profit = sold * 70000.0 * 0.999 - sold / btc.amount * btc.stake_amount
    btc.stake_amount -= sold / btc.amount * btc.stake_amount
    btc.amount -= sold
    assert gate.wanted("ETH/USDT")  # the sells are done: this turn sizes the buys

    stake, tag = plugin.order_for(eth, 2000.0)
    assert tag == "rebalance buy" and stake > 0
    assert not gate.buys_due and gate.orders == {}  # sized once, handed out
    assert plugin.order_for(eth, 2000.0) is None
