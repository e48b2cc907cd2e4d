"""A bot on PostgreSQL, Freqtrade's documented production database: the portfolio's record fits
its columns and survives a restart.

Before: the record was one ``KeyValueStore`` value (a fresh one is 428 characters) in a
``VARCHAR(255)`` column; PostgreSQL 15 refused the write with ``value too long for type
character varying(255)``. The server is a throwaway PostgreSQL started by the tests
(tests/helpers/postgres.py); the bot is a real ``freqtrade trade`` process against the Binance
stand-in.
"""

from __future__ import annotations

import json

import psycopg
import pytest

from rebalance_plugin.core.book import Book
from rebalance_plugin.ft.store import read_record
from tests.helpers.flows import (
    COINS,
    exchange_matches_freqtrade,
    freeze,
    near_targets,
    now_ms,
    settled,
    sim_orders_since,
)

pytestmark = pytest.mark.postgres


def stored(db_url: str) -> dict[str, str]:
    """The record's values in the bot's database, by key."""
    dsn = db_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            'SELECT key, string_value FROM "KeyValueStore" WHERE key LIKE %s', ("rebalance_state%",)
        ).fetchall()
    return dict(rows)


def record(values: dict[str, str]) -> Book:
    """The record, put together from its chunks."""
    text = read_record(values.get)
    assert text is not None
    return Book.from_dict(json.loads(text))


def test_a_bot_on_postgresql_rebalances_and_restarts(fresh_sim, pg_database, make_bot):
    # (pg_database before make_bot: the bots are stopped before their databases are dropped)
    db_url = pg_database()
    sim = fresh_sim(balances={"USDT": 1000})
    freeze(sim, COINS)
    bot = make_bot(
        "pg",
        sim=sim,
        dry_run=False,
        rebalance={"coins": COINS, "investment": 1000},
        extra={"db_url": db_url},
    )
    bot.wait_for(lambda: settled(bot, sim, 4), 90, "4 coins bought")
    bot.wait_for(lambda: "rebalance_state" in stored(db_url), 30, "the record stored")
    values = stored(db_url)
    assert all(len(v) <= 255 for v in values.values()), {k: len(v) for k, v in values.items()}
    assert record(values).coins == tuple((c, float(w)) for c, w in COINS.items())
    assert "StringDataRightTruncation" not in bot.log() and "value too long" not in bot.log()

    # A price move rebalances; the bot is restarted mid-way and carries on from its record.
    t0 = now_ms(sim)
    sim.multiply("SOLUSDT", 1.6)
    bot.wait_for(lambda: sim_orders_since(sim, t0, "SELL"), 60, "the rebalance's sells")
    bot.restart()
    bot.wait_for(
        lambda: settled(bot, sim, 4) and near_targets(sim, COINS, 0.6),
        90,
        "weights back at the targets after the restart",
    )
    log = bot.log_path.read_text()
    assert "Rebalance state restored: running, 1 rebalances" in log
    assert len(sim_orders_since(sim, t0, "SELL")) == 1  # nothing sold twice
    book = record(stored(db_url))
    assert book.engine.rebalances == 1 and book.engine.phase == "idle"
    exchange_matches_freqtrade(bot, sim, COINS)
