"""Fixtures of the end-to-end tests: the Binance stand-in (one per module, or fresh per test)
and real `freqtrade trade` bots driven through the REST API (tests/helpers/e2e.py)."""

from tests.helpers.e2e import fresh_sim, make_bot, sim

__all__ = ["fresh_sim", "make_bot", "sim"]
