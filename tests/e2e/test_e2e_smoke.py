"""End-to-end smoke tests: a real ``freqtrade trade`` process against the local Binance stand-in
(``binance_standin``), driven through Freqtrade's REST API (see tests/helpers/e2e.py).

1. dry-run: the default portfolio is bought (4 trades, first stakes = weight x 1000 / (1 + fee)),
   the API answers ``/show_config`` and ``/balance``.
2. live (``dry_run: false``) against the stand-in's account of 1000 USDT: the coins really held
   at the stand-in match the target weights and Freqtrade's amounts, no order is left open and
   every order the stand-in saw is one Freqtrade knows about.

One stand-in serves the module (the dry-run bot places no order on it; the live bot spends the
account's USDT, so a further live test here would start from its coins).
"""

from __future__ import annotations

import pytest

from tests.helpers.e2e import Sim

WEIGHTS = {"BTC": 40, "ETH": 30, "BNB": 15, "SOL": 15}
INVESTMENT = 1000.0
FEE = 0.001
SIM_BALANCES = {"USDT": 1000}


def _pair_of(coin: str) -> str:
    return f"{coin}/USDT"


def _four_open_trades(bot):
    trades = bot.open_trades()
    return trades if len(trades) == len(WEIGHTS) else None


def _settled(bot, sim: Sim, steps: dict[str, float]):
    """The 4 trades, once their orders are closed and Freqtrade's amounts agree with what the
    account holds. (A trade's order shows closed a moment before Freqtrade books the fee paid in
    the coin; the amount then drops to what is left after the fee, rounded down to the step.)"""
    trades = _four_open_trades(bot)
    if not trades or any(t.get("has_open_orders") for t in trades):
        return None
    held = sim.balances()
    for t in trades:
        coin = t["pair"].split("/")[0]
        if not -1e-9 <= held.get(coin, 0.0) - t["amount"] < steps[coin]:
            return None
    return trades


def test_dry_run_buys_the_default_portfolio(sim: Sim, make_bot):
    orders_before = len(sim.state()["orders"])
    bot = make_bot("dry", dry_run=True, extra={"dry_run_wallet": 1000})
    trades = bot.wait_for(lambda: _four_open_trades(bot), 60, "4 open trades (dry-run)")

    by_pair = {t["pair"]: t for t in trades}
    assert sorted(by_pair) == sorted(_pair_of(c) for c in WEIGHTS)
    for coin, weight in WEIGHTS.items():
        expected = weight / 100 * INVESTMENT / (1 + FEE)
        stake = by_pair[_pair_of(coin)]["stake_amount"]
        assert stake == pytest.approx(expected, rel=0.01), (coin, stake, expected)

    config = bot.client.show_config()
    assert config["dry_run"] is True, config
    balance = bot.client.balance()
    assert isinstance(balance, dict) and "currencies" in balance, balance
    # A dry-run bot places nothing at the exchange.
    assert len(sim.state()["orders"]) == orders_before


def test_live_buys_the_default_portfolio_at_the_exchange(sim: Sim, make_bot):
    steps = {coin: sim.lot_step(f"{coin}USDT") for coin in WEIGHTS}
    bot = make_bot("live", dry_run=False)
    trades = bot.wait_for(
        lambda: _settled(bot, sim, steps),
        60,
        "4 open trades, orders closed, amounts = the account's holdings (live)",
    )
    assert sorted(t["pair"] for t in trades) == sorted(_pair_of(c) for c in WEIGHTS)
    assert bot.client.show_config()["dry_run"] is False

    state = sim.state()
    balances = sim.balances()
    prices = sim.prices()
    for coin, weight in WEIGHTS.items():
        held = balances.get(coin, 0.0)
        value = held * prices[f"{coin}USDT"]
        target = weight / 100 * INVESTMENT
        assert value == pytest.approx(target, rel=0.02), (coin, held, value, target)
    assert balances.get("USDT", 0.0) >= 0.0, balances

    stuck = [o for o in state["orders"] if o.get("status") not in ("FILLED", "EXPIRED")]
    assert not stuck, f"orders not FILLED/EXPIRED at the exchange: {stuck}"
    assert not state.get("open_orders"), state.get("open_orders")

    # Nothing bought that the bot does not know about: per coin, the exchange's filled orders
    # are exactly the orders of Freqtrade's trade for that pair. (A first buy's limit IOC order
    # that expired unfilled, because the ask moved, leaves no trade: Freqtrade retries it.)
    bot_orders = {t["pair"]: t["orders"] for t in bot.all_trades()}
    for coin in WEIGHTS:
        at_exchange = [
            o
            for o in state["orders"]
            if o.get("symbol") == f"{coin}USDT" and float(o.get("executedQty") or 0) > 0
        ]
        known = bot_orders.get(_pair_of(coin), [])
        assert len(at_exchange) == len(known), (coin, at_exchange, known)
        ids = {str(o.get("orderId", o.get("id"))) for o in at_exchange}
        assert ids == {str(o["order_id"]) for o in known}, (coin, ids, known)
