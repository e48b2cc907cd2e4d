"""The portfolio's record survives the upgrade: a record written by release 0.1.0 (the code
before the glue was split into small objects) loads from a real Freqtrade database, with every
figure intact, and is written back in the same format."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from freqtrade.persistence import KeyValueStore, init_db

from rebalance_plugin.core.config import parse_rebalance_config
from rebalance_plugin.core.inflight import InFlight
from rebalance_plugin.ft.context import Context
from rebalance_plugin.ft.store import STATE_KEY, StateStore
from tests.helpers.paths import ROOT

RECORD = ROOT / "tests" / "unit" / "data" / "record_v0.1.0.json"
CFG = parse_rebalance_config(
    {"coins": {"BTC": 40, "ETH": 30, "BNB": 15, "SOL": 15}, "investment": 1000}, "USDT"
)


@pytest.fixture
def database():
    """A real Freqtrade trade database (SQLite in memory), as `freqtrade trade` opens it."""
    init_db("sqlite://")
    yield
    KeyValueStore.delete_value(STATE_KEY)


def _store() -> StateStore:
    strategy = SimpleNamespace(config={"stake_currency": "USDT", "dry_run": True})
    return StateStore(Context(strategy, CFG, backtest=False))


def test_a_record_written_by_release_0_1_0_loads_with_every_figure(database):
    text = RECORD.read_text().strip()
    KeyValueStore.store_value(STATE_KEY, text)

    store = _store()
    assert store.load() is True
    book = store.book
    # The figures written by 0.1.0 (see the file): funded 1049.5 after a 49.5 USDT add.
    assert book.coins == (("BTC", 40.0), ("ETH", 30.0), ("BNB", 15.0), ("SOL", 15.0))
    assert book.investment == 1000.0 and book.funded == 1049.5 and book.closed_base == -1.25
    assert book.started == 1733040000.0 and book.triggered and book.stopped is None
    assert book.entries == {"XRP": 50.0}
    assert book.inflight == {
        "BTC": InFlight("sell", 0.00123, 0.00456, False, 1733043600.5),
        "XRP": InFlight("buy", 92.0, 0.0, False, None),
    }
    assert book.engine.phase == "selling" and book.engine.rebalances == 7
    assert book.engine.skipped_rebalances == 2
    assert dict(book.engine.pending_buys) == {"ETH": 40.25, "SOL": 10.5}
    assert book.refused is not None and "1200.0" in book.refused


def test_the_record_is_written_back_in_the_same_format(database):
    text = RECORD.read_text().strip()
    KeyValueStore.store_value(STATE_KEY, text)
    store = _store()
    store.load()
    store._saved = None  # force the write
    store.save()
    written = KeyValueStore.get_value(STATE_KEY)
    assert json.loads(written) == json.loads(text)
    assert written == text  # same keys, same order, same numbers


def test_a_fresh_database_has_no_record_and_a_new_portfolio_starts(database):
    store = _store()
    assert store.load() is False
    assert store.book.funded == 1000.0 and store.book.started is None
