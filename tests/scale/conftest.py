"""Fixtures of the scale test: a throwaway PostgreSQL server that accepts connections from twenty
bots, with a database per bot (tests/helpers/postgres.py)."""

from tests.helpers.postgres import pg_scale_database, postgresql_scale_server

__all__ = ["pg_scale_database", "postgresql_scale_server"]
