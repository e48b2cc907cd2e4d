"""Fixtures of the end-to-end tests: the Binance stand-in (one per module, or fresh per test),
real `freqtrade trade` bots driven through the REST API (tests/helpers/e2e.py), and a throwaway
PostgreSQL server with a database per bot (tests/helpers/postgres.py)."""

from tests.helpers.e2e import fresh_sim, make_bot, sim
from tests.helpers.postgres import pg_database, postgresql_server

__all__ = ["fresh_sim", "make_bot", "pg_database", "postgresql_server", "sim"]
