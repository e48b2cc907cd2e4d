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


def _stored() -> dict[str, str]:
    """Every value the record left in the database, by key."""
    from freqtrade.persistence.key_value_store import _KeyValueStoreModel

    rows = _KeyValueStoreModel.session.query(_KeyValueStoreModel).all()
    return {r.key: r.string_value for r in rows if r.key.startswith(STATE_KEY)}


def test_an_unchanged_record_is_not_rewritten(database):
    text = RECORD.read_text().strip()
    KeyValueStore.store_value(STATE_KEY, text)
    store = _store()
    store.load()
    store.save()
    assert _stored() == {STATE_KEY: text}


def test_every_stored_value_fits_a_varchar_255_column(database):
    # The 0.1.0 record is 727 characters: PostgreSQL refuses it in KeyValueStore's
    # VARCHAR(255). Once it changes it is written in chunks of at most 250 characters.
    text = RECORD.read_text().strip()
    assert len(text) == 727
    KeyValueStore.store_value(STATE_KEY, text)
    store = _store()
    store.load()
    store.update(investment=1100.0)
    store.save()

    stored = _stored()
    assert all(len(v) <= 255 for v in stored.values()), {k: len(v) for k, v in stored.items()}
    # 727 + 1 characters ("1000.0" became "1100.0", keys sorted the same) in chunks of 250:
    # 3 chunks.
    assert sorted(stored) == [STATE_KEY, f"{STATE_KEY}.0.0", f"{STATE_KEY}.0.1", f"{STATE_KEY}.0.2"]
    again = _store()
    assert again.load() and again.book == store.book and again.book.investment == 1100.0


def test_funds_moved_in_or_out_are_kept_with_their_time(database, mocker):
    # FreqUI's chart counts the portfolio's cash before a deposit without it (ft/chart.py).
    mocker.patch("rebalance_plugin.ft.store.time.time", side_effect=[1733050000.0, 1733060000.0])
    text = RECORD.read_text().strip()
    KeyValueStore.store_value(STATE_KEY, text)
    store = _store()
    store.load()
    store.update(funded=1549.5)  # 500 added
    store.update(funded=1549.5, refused=None)  # no change of the money: no move
    store.update(funded=1449.5)  # 100 taken out
    store.save()

    again = _store()
    assert again.load()
    assert again.book.moves == ((1733050000.0, 500.0), (1733060000.0, -100.0))


def test_a_shorter_record_leaves_no_stale_chunk_and_a_crash_keeps_the_last_record(database, mocker):
    store = _store()
    store.update(entries={f"COIN{i}": float(i) for i in range(60)})  # a long record
    store.save()  # buffer 0
    store.update(entries={})
    store.save()  # buffer 1
    store.update(funded=999.0)
    store.save()  # buffer 0 again: shorter than its first use
    keys = sorted(_stored())
    long_chunks = [k for k in keys if k.startswith(f"{STATE_KEY}.0.")]
    short = len(json.dumps(store.book.to_dict(), sort_keys=True))
    assert len(long_chunks) == -(-short // 250)  # ceil: no chunk left from the long record

    # A crash after the chunks were written but before the header switched: the previous
    # record is what a restart finds.
    store.update(funded=123.0)
    real = KeyValueStore.store_value

    def crash_on_header(key, value):
        if key == STATE_KEY:
            raise RuntimeError("killed")
        real(key, value)

    mocker.patch.object(KeyValueStore, "store_value", side_effect=crash_on_header)
    with pytest.raises(RuntimeError):
        store.save()
    mocker.stopall()
    restarted = _store()
    assert restarted.load() and restarted.book.funded == 999.0


def test_a_fresh_database_has_no_record_and_a_new_portfolio_starts(database):
    store = _store()
    assert store.load() is False
    assert store.book.funded == 1000.0 and store.book.started is None
