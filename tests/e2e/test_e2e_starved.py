"""A starved machine: the price moves between Freqtrade's quote and the exchange.

On a slow or busy machine (a Raspberry Pi, a shared VPS, two cores running the suite) a first
buy's limit IOC order, priced at the ask Freqtrade read at the start of its loop, reaches the
exchange after the ask has moved up: it fills nothing and expires. Before the fix the next loop
priced it the same way and it expired again, loop after loop (twelve times in a row for BTC on
a starved machine). The stand-in's ``chase`` fault reproduces that lag on every limit order:
the price moves 10 basis points against the order before it meets the book. The first buy then
goes at market on the next loop, so the portfolio is bought within two orders per coin.
"""

from __future__ import annotations

import pytest

from tests.helpers.e2e import Sim

WEIGHTS = {"BTC": 40, "ETH": 30, "BNB": 15, "SOL": 15}
INVESTMENT = 1000.0


def _bought(bot, sim: Sim):
    """The four trades once their orders are closed and the account holds every coin."""
    trades = bot.open_trades()
    if len(trades) != len(WEIGHTS) or any(t.get("has_open_orders") for t in trades):
        return None
    held = sim.balances()
    return trades if all(held.get(coin, 0.0) > 0 for coin in WEIGHTS) else None


def test_first_buys_priced_stale_are_bought_at_market_on_the_next_loop(fresh_sim, make_bot):
    sim = fresh_sim(balances={"USDT": INVESTMENT})
    # Every limit order meets a book 10 bps above the ask it was priced at (more firings than
    # the bot could ever send): no limit buy can fill, only a market order can.
    sim.fault("chase", side="BUY", bps=10, count=1000)
    bot = make_bot("starved", sim=sim, dry_run=False)
    bot.wait_for(lambda: _bought(bot, sim), 90, "four coins bought despite the stale prices")

    state = sim.state()
    prices = sim.prices()
    balances = sim.balances()
    for coin, weight in WEIGHTS.items():
        orders = [o for o in state["orders"] if o["symbol"] == f"{coin}USDT"]
        kinds = [(o["type"], o.get("timeInForce"), o["status"]) for o in orders]
        # One loop: the limit IOC, missed by the moved price. The next: at market, filled.
        assert kinds == [("LIMIT", "IOC", "EXPIRED"), ("MARKET", "GTC", "FILLED")], (coin, kinds)
        assert float(orders[0]["executedQty"]) == 0.0, orders[0]
        # The market order bought the coin's share of the investment (its stake is weight x
        # investment / (1 + fee), sized at the ask before the 10 bps move: within 1%).
        value = balances[coin] * prices[f"{coin}USDT"]
        assert value == pytest.approx(weight / 100 * INVESTMENT, rel=0.01), (coin, value)
    assert balances["USDT"] >= 0.0
    fired = [f for f in state["faults_fired"] if f["kind"] == "chase"]
    assert len(fired) == len(WEIGHTS), fired  # one missed limit order per coin, no more
    assert "goes at market" in bot.log()
