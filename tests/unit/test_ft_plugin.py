"""The loop's stages with fakes: a backtest whose candles stop for a coin says so once per gap
and decides nothing meanwhile."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from freqtrade.enums import RunMode

from rebalance_plugin.ft.plugin import RebalancePlugin
from tests.unit.ft_fakes import SECTION, T0, FakeTrade, make_glue

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


def test_candles_stopping_for_a_coin_are_said_once_and_nothing_is_decided(mocker, caplog):
    plugin, _ = backtest_plugin(mocker)
    t = [T0 + HOUR * i for i in range(1, 5)]
    # BTC has candles throughout; ETH's stop after the first hour.
    plugin.reader.opens = {
        "BTC/USDT": {int(x): 50000.0 for x in t},
        "ETH/USDT": {int(t[0]): 2000.0},
    }
    assert SECTION["coins"] == {"BTC": 60, "ETH": 40}
    with caplog.at_level("INFO", logger="rebalance_plugin.ft"):
        for x in t:
            plugin.loop(datetime.fromtimestamp(x, UTC))
    said = [r.getMessage() for r in caplog.records if r.name == "rebalance_plugin.ft"]
    assert said == [
        "No candle for ETH at 2024-01-01 12:00 UTC: the rebalancer decides nothing until every "
        "coin has a price again"
    ]
    assert plugin.desk.orders == {}


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
