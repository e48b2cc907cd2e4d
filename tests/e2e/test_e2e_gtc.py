"""Orders on an exchange without Immediate-Or-Cancel (OKX, HTX, Coinbase in Freqtrade 2026.9):
a limit GTC order at the best price, cancelled by Freqtrade after ``unfilledtimeout``, the rest
at market (rebalance_plugin/ft/ordertypes.py, docs/how-it-works.md#orders).

The Binance stand-in accepts GTC too; the config's own ``order_time_in_force`` GTC makes the bot
send exactly what it sends on OKX. The stand-in's ``chase`` fault moves the price 10 bps against
every limit buy before it meets the book, so no limit buy can fill: each rests until Freqtrade
cancels it after the 3 s timeout, and the first buy goes at market on the next loop.
"""

from __future__ import annotations

from tests.helpers.flows import all_bought, first_buys_missed_then_at_market

WEIGHTS = {"BTC": 40, "ETH": 30, "BNB": 15, "SOL": 15}
INVESTMENT = 1000.0
GTC = {
    "order_time_in_force": {"entry": "GTC", "exit": "GTC"},
    "unfilledtimeout": {"entry": 3, "exit": 3, "exit_timeout_count": 0, "unit": "seconds"},
}


def test_gtc_limit_orders_that_rest_are_cancelled_and_bought_at_market(fresh_sim, make_bot):
    sim = fresh_sim(balances={"USDT": INVESTMENT})
    sim.fault("chase", side="BUY", bps=10, count=1000)
    bot = make_bot("gtc", sim=sim, dry_run=False, extra=GTC)
    bot.wait_for(lambda: all_bought(bot, sim, WEIGHTS), 120, "four coins bought through GTC")
    # Each limit GTC rested, unfilled, until Freqtrade cancelled it; then at market.
    first_buys_missed_then_at_market(sim, WEIGHTS, INVESTMENT, ("LIMIT", "GTC", "CANCELED"))
    log = bot.log_path.read_text()
    said = (
        "Orders on binance: limit GTC at the best price (config.json's order_time_in_force), "
        "cancelled after 3 seconds (unfilledtimeout) if it rests"
    )
    assert log.count(said) == 1, log  # said once, at start-up
    assert log.count("filled nothing, the price moved away from it; it goes at market") == len(
        WEIGHTS
    )
