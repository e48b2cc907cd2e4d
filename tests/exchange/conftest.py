"""Fixtures of the exchange-event tests (issue 20: halts and delistings, maintenance and the
clock, order-count limits and bans, rule changes, hands on the account): the Binance stand-in
and real `freqtrade trade` bots, as in tests/e2e (tests/helpers/e2e.py). Their own folder and
marker (`exchange`, `make test-exchange`): minutes of live bots, a CI step of their own."""

from tests.helpers.e2e import fresh_sim, make_bot, sim

__all__ = ["fresh_sim", "make_bot", "sim"]
