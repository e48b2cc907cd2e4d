"""End to end, what real exchanges do to a running portfolio (issue 20): a coin that stops
trading, maintenance and the clock, rules that change, hands on the account. Real ``freqtrade
trade`` bots (live, the stand-in's keys) against the Binance stand-in, prices frozen and moved
explicitly (same set-up as tests/e2e/test_e2e_faults.py). The bot's words are read in its log,
where Freqtrade also writes what it sends to Telegram."""

from __future__ import annotations

import pytest

from tests.helpers.flows import (
    book,
    freeze,
    live_bot,
    near_targets,
    now_ms,
    said,
    settled,
    sim_orders_since,
    values,
)

pytestmark = pytest.mark.e2e


def test_a_coin_sold_by_hand_is_said_once_counted_as_held_and_adopted_on_reload(
    fresh_sim, make_bot
):
    coins = {"BTC": 50, "SOL": 50}
    sim = fresh_sim(balances={"USDT": 1000})
    freeze(sim, coins)
    bot = live_bot(make_bot, sim, coins=coins, threshold=2)
    sol_before = sim.balances()["SOL"]
    booked = next(t["amount"] for t in bot.open_trades() if t["pair"] == "SOL/USDT")
    # The user takes 40% of the SOL out of the account (a withdrawal, or a sale by hand whose
    # USDT the user then withdrew): the account holds 0.6 of what the bot bought.
    taken = round(0.4 * sol_before, 2)
    sim.deposit("SOL", -taken)
    t0 = now_ms(sim)
    bot.wait_for(lambda: said(bot, "left the account outside the bot") >= 1, 90, "the hands said")
    # Counted as the account holds it, SOL is ~37.5% of the portfolio (0.6 x 50 against 50):
    # 12.5 points off, beyond the 2-point threshold: BTC is sold and SOL bought back to 50/50
    # of what is really there. Every weight below is the account's, from the stand-in.
    bot.wait_for(
        lambda: settled(bot, sim, 2) and near_targets(sim, coins, 1.0),
        120,
        "rebalanced on the account's holdings",
    )
    assert sim_orders_since(sim, t0, "SELL", "SOLUSDT") == []  # SOL was short: only bought
    assert sim_orders_since(sim, t0, "SELL", "BTCUSDT")
    bot.wait_loops(2)
    assert said(bot, "left the account outside the bot") == 1
    words = next(
        line for line in bot.log().splitlines() if "left the account outside the bot" in line
    )
    left = sol_before - taken
    assert (
        f"The account holds {left:g} SOL, the portfolio's book {booked:g} SOL: "
        f"{booked - left:g} SOL left the account outside the bot" in words
    )
    # /reload_config adopts the account's amount: the record keeps the difference to
    # Freqtrade's trade, and the portfolio stays at its targets without another order.
    n_orders = len(sim.orders())
    bot.client.reload_config()
    bot.wait_for(lambda: said(bot, "Holdings adopted from the account: SOL") == 1, 90, "adopted")
    bot.wait_loops(2)
    adopted = book(bot).get("adopted", {})
    trade_sol = next(t["amount"] for t in bot.open_trades() if t["pair"] == "SOL/USDT")
    assert trade_sol + adopted["SOL"] == pytest.approx(sim.balances()["SOL"], rel=5e-3)
    assert adopted["SOL"] == pytest.approx(-taken, rel=0.02)
    assert len(sim.orders()) == n_orders
    assert near_targets(sim, coins, 1.0)
    assert values(sim, coins)[1] < 10  # the cash was spent, not more
