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

from tests.helpers.flows import all_bought, first_buys_missed_then_at_market

WEIGHTS = {"BTC": 40, "ETH": 30, "BNB": 15, "SOL": 15}
INVESTMENT = 1000.0


def test_first_buys_priced_stale_are_bought_at_market_on_the_next_loop(fresh_sim, make_bot):
    sim = fresh_sim(balances={"USDT": INVESTMENT})
    # Every limit order meets a book 10 bps above the ask it was priced at (more firings than
    # the bot could ever send): no limit buy can fill, only a market order can.
    sim.fault("chase", side="BUY", bps=10, count=1000)
    bot = make_bot("starved", sim=sim, dry_run=False)
    bot.wait_for(
        lambda: all_bought(bot, sim, WEIGHTS), 90, "four coins bought despite stale prices"
    )
    # One loop: the limit IOC, missed by the moved price. The next: at market, filled.
    first_buys_missed_then_at_market(sim, WEIGHTS, INVESTMENT, ("LIMIT", "IOC", "EXPIRED"))
    state = sim.state()
    fired = [f for f in state["faults_fired"] if f["kind"] == "chase"]
    assert len(fired) == len(WEIGHTS), fired  # one missed limit order per coin, no more
    assert "goes at market" in bot.log()
