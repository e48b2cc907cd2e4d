"""``freqtrade-rebalance tax --db-url``: the gains of a dry-run bot's database, against an
independent computation from the database's rows and against rp2.

The database is written by Freqtrade itself: a real dry-run ``FreqtradeBot`` (the project's
config and strategy, ``on_stop: sell_all``) on the local Binance stand-in, driven one worker
loop at a time, as in tests/e2e/test_telegram.py (Telegram off). The prices are held by the
stand-in so that the bot trades a known story:

1. the first buys (BTC 40, ETH 30, BNB 15, SOL 15 of 1000 USDT);
2. SOL x1.6 and BTC x1.1: SOL is sold down, BTC, ETH and BNB are bought (BTC's second lot
   costs 10% more than its first);
3. BTC x1.5 and SOL x0.5: BTC is sold down (FIFO takes its first, cheaper lot, HIFO the
   dearer second), SOL is bought;
4. ``/stopentry`` (Freqtrade's RPC ``_rpc_pause``): the portfolio stops and sells every coin.

The independent computation (tests/helpers/taxcheck.py) reads the orders straight from the
SQLite file (``sqlite3``, no Freqtrade, no plugin code) and matches lots with its own FIFO/HIFO;
rp2 computes FIFO and HIFO from its own input format (tests/helpers/rp2run.py), and its
``rp2_us`` command's report gives the gain per year and coin. The last test trades the same
story on PostgreSQL (marker ``postgres``).
"""

from __future__ import annotations

import csv
import hashlib
import math
import re
import sqlite3
from pathlib import Path

import psycopg
import pytest
import sqlalchemy

from rebalance_plugin import tax
from rebalance_plugin.cli import main
from tests.helpers.rp2run import rp2_sales, rp2_us_gains
from tests.helpers.taxcheck import (
    COINS,
    COINTRACKING,
    KOINLY,
    ORDERS_SQL,
    lots_by_hand,
    orders_from_sqlite,
    orders_of_rows,
    replay,
    trade_the_story,
)


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> Path:
    """The SQLite database of a dry-run bot that traded the story."""
    path = Path(trade_the_story(tmp_path_factory.mktemp("taxbot")).removeprefix("sqlite:///"))
    assert path.is_file()
    return path


def export(source: Path | str, out: Path, *args: str, capsys) -> tuple[str, list[dict[str, str]]]:
    db_url = source if isinstance(source, str) else f"sqlite:///{source}"
    code = main(["tax", "--db-url", db_url, "--out", str(out), *args])
    text = capsys.readouterr().out
    assert code == 0, text
    with out.open() as fh:
        return text, list(csv.DictReader(fh))


def total_of(text: str) -> list[str]:
    """The 'total' line of the printed totals, split."""
    return next(line.split() for line in text.splitlines() if line.strip().startswith("total"))


# ---- the tests ---------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["fifo", "hifo"])
def test_gains_of_a_dry_run_database_match_the_independent_computation(
    database, tmp_path, capsys, method
):
    digest = hashlib.sha256(database.read_bytes()).hexdigest()
    trades = orders_from_sqlite(database)
    sells = [t for t in trades if t.side == "sell"]
    # The story: a SOL sale, a BTC sale, then the four coins sold when the portfolio stops.
    assert [t.coin for t in sells[:2]] == ["SOL", "BTC"]
    assert sorted(t.coin for t in sells[2:]) == sorted(COINS)
    assert len(sells) == 6

    text, rows = export(database, tmp_path / "gains.csv", "--method", method, capsys=capsys)
    assert hashlib.sha256(database.read_bytes()).hexdigest() == digest  # read only
    by_hand = lots_by_hand(trades, highest_first=method == "hifo")
    assert len(rows) == len(by_hand) == len(sells)
    for row, sell, (proceeds, basis) in zip(rows, sells, by_hand, strict=True):
        assert (row["coin"], row["method"]) == (sell.coin, method)
        assert row["date"] == f"{sell.time:%Y-%m-%d %H:%M:%S}"
        assert float(row["quantity"]) == pytest.approx(sell.quantity, rel=1e-12)
        assert abs(float(row["proceeds"]) - proceeds) <= 0.005 + 1e-9
        assert abs(float(row["cost_basis"]) - basis) <= 0.005 + 1e-9
        assert abs(float(row["gain"]) - (proceeds - basis)) <= 0.005 + 1e-9
    # The total to the cent: the exact sums, rounded once.
    gain = math.fsum(p - b for p, b in by_hand)
    assert total_of(text)[4] == f"{gain:.2f}"

    # rp2, from its own input format: every sale, and rp2_us's report per year and coin.
    theirs = rp2_sales(trades, method, tmp_path / "rp2")
    for row, sale in zip(rows, theirs, strict=True):
        assert abs(float(row["gain"]) - sale.gain) <= 0.005 + 1e-9
        assert abs(float(row["cost_basis"]) - sale.cost_basis) <= 0.005 + 1e-9
    assert f"{math.fsum(s.gain for s in theirs):.2f}" == f"{gain:.2f}"
    report = rp2_us_gains(tmp_path / "rp2", method)
    assert sum(report.values()) == pytest.approx(gain, abs=0.005)
    for coin in COINS:
        mine = math.fsum(p - b for (p, b), t in zip(by_hand, sells, strict=True) if t.coin == coin)
        assert report[(sells[0].time.year, coin)] == pytest.approx(mine, abs=0.005), coin


def test_fifo_and_hifo_differ_on_the_btc_sale(database, tmp_path, capsys):
    # BTC's second lot cost 10% more: HIFO sells it first and realises less on the BTC sale.
    _, fifo = export(database, tmp_path / "f.csv", capsys=capsys)
    _, hifo = export(database, tmp_path / "h.csv", "--method", "hifo", capsys=capsys)
    assert fifo[1]["coin"] == hifo[1]["coin"] == "BTC"
    assert float(hifo[1]["gain"]) < float(fifo[1]["gain"])
    # Everything was sold in the end: over the whole history the methods agree to the cent
    # (up to the cent each row is rounded to).
    assert abs(sum(float(r["gain"]) for r in fifo) - sum(float(r["gain"]) for r in hifo)) < 0.05


def test_average_cost_is_freqtrades_own_profit(database, tmp_path, capsys):
    """Average cost per coin is Freqtrade's booking: each coin's gains add up to its trade's
    close_profit_abs (one trade per coin here)."""
    text, rows = export(database, tmp_path / "a.csv", "--method", "average", capsys=capsys)
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as con:
        profits = dict(con.execute("select pair, close_profit_abs from trades").fetchall())
    for coin in COINS:
        gain = sum(float(r["gain"]) for r in rows if r["coin"] == coin)
        assert gain == pytest.approx(profits[f"{coin}/USDT"], abs=0.02), coin
    assert "Realised gains by AVERAGE (USDT):" in text


def test_koinly_and_cointracking_replay_the_account(database, tmp_path, capsys):
    """Replaying the import files gives back what the bot holds: no coin, and 1000 USDT less
    the fees and plus the gains."""
    trades = orders_from_sqlite(database)
    cash = 1000.0 + math.fsum(
        (t.quantity * t.price - t.fee) if t.side == "sell" else -(t.quantity * t.price + t.fee)
        for t in trades
    )
    _, koinly = export(database, tmp_path / "k.csv", "--format", "koinly", capsys=capsys)
    _, ct = export(database, tmp_path / "c.csv", "--format", "cointracking", capsys=capsys)
    assert len(koinly) == len(ct) == len(trades)
    for rows, columns in ((koinly, KOINLY), (ct, COINTRACKING)):
        balance = replay(rows, columns, 1000.0)
        assert balance["USDT"] == pytest.approx(cash, abs=1e-6)
        assert all(abs(balance[c]) < 1e-9 for c in COINS), balance
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", r["Date"]) for r in koinly)
    assert all(r["TxHash"] for r in koinly)  # the exchange's order ids
    assert all(re.fullmatch(r"\d\d\.\d\d\.\d{4} \d\d:\d\d:\d\d", r["Date"]) for r in ct)


@pytest.mark.postgres
def test_the_same_story_on_postgresql(pg_database, tmp_path, capsys):
    """A bot on PostgreSQL (``db_url`` postgresql+psycopg://...): the export reads it in
    read-only transactions, and its FIFO gains match the independent computation from the
    rows psycopg reads, to the cent."""
    db_url = trade_the_story(tmp_path / "bot", pg_database())
    with psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        trades = orders_of_rows(conn.execute(ORDERS_SQL).fetchall())
    by_hand = lots_by_hand(trades, highest_first=False)
    assert len(by_hand) == 6
    text, rows = export(db_url, tmp_path / "gains.csv", capsys=capsys)
    for row, (proceeds, basis) in zip(rows, by_hand, strict=True):
        assert abs(float(row["gain"]) - (proceeds - basis)) <= 0.005 + 1e-9
    assert total_of(text)[4] == f"{math.fsum(p - b for p, b in by_hand):.2f}"
    # The export's connection cannot write.
    engine = tax._readonly_engine(db_url)
    with pytest.raises(sqlalchemy.exc.InternalError, match="read-only transaction"):
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("create table tax_probe (i int)"))
    engine.dispose()
