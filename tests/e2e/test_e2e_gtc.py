"""Orders on an exchange without Immediate-Or-Cancel (OKX, HTX, Coinbase in Freqtrade 2026.9):
a limit GTC order at the best price, cancelled by Freqtrade after ``unfilledtimeout``, the rest
at market (rebalance_plugin/ft/ordertypes.py, docs/how-it-works.md#orders).

The Binance stand-in accepts GTC too; the config's own ``order_time_in_force`` GTC makes the bot
send exactly what it sends on OKX. The stand-in's ``chase`` fault moves the price 10 bps against
every limit buy before it meets the book, so no limit buy can fill: each rests until Freqtrade
cancels it after the 3 s timeout, and the first buy goes at market on the next loop.
"""

from __future__ import annotations

import pytest

from tests.helpers.e2e import Sim

WEIGHTS = {"BTC": 40, "ETH": 30, "BNB": 15, "SOL": 15}
INVESTMENT = 1000.0
GTC = {
    "order_time_in_force": {"entry": "GTC", "exit": "GTC"},
    "unfilledtimeout": {"entry": 3, "exit": 3, "exit_timeout_count": 0, "unit": "seconds"},
}


def _bought(bot, sim: Sim):
    trades = bot.open_trades()
    if len(trades) != len(WEIGHTS) or any(t.get("has_open_orders") for t in trades):
        return None
    held = sim.balances()
    return trades if all(held.get(coin, 0.0) > 0 for coin in WEIGHTS) else None


def test_gtc_limit_orders_that_rest_are_cancelled_and_bought_at_market(fresh_sim, make_bot):
    sim = fresh_sim(balances={"USDT": INVESTMENT})
    sim.fault("chase", side="BUY", bps=10, count=1000)
    bot = make_bot("gtc", sim=sim, dry_run=False, extra=GTC)
    bot.wait_for(lambda: _bought(bot, sim), 120, "four coins bought through GTC orders")

    state = sim.state()
    prices = sim.prices()
    balances = sim.balances()
    for coin, weight in WEIGHTS.items():
        orders = [o for o in state["orders"] if o["symbol"] == f"{coin}USDT"]
        kinds = [(o["type"], o.get("timeInForce"), o["status"]) for o in orders]
        # The limit GTC rested, unfilled, until Freqtrade cancelled it; then at market.
        assert kinds == [("LIMIT", "GTC", "CANCELED"), ("MARKET", "GTC", "FILLED")], (coin, kinds)
        assert float(orders[0]["executedQty"]) == 0.0, orders[0]
        value = balances[coin] * prices[f"{coin}USDT"]
        assert value == pytest.approx(weight / 100 * INVESTMENT, rel=0.01), (coin, value)
    assert balances["USDT"] >= 0.0
    log = bot.log_path.read_text()
    said = (
        "Orders on binance: limit GTC at the best price (config.json's order_time_in_force), "
        "cancelled after 3 seconds (unfilledtimeout) if it rests"
    )
    assert log.count(said) == 1, log  # said once, at start-up
    assert log.count("filled nothing, the price moved away from it; it goes at market") == len(
        WEIGHTS
    )
