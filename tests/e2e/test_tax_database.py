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

The independent computation reads the orders straight from the SQLite file (``sqlite3``, no
Freqtrade, no plugin code) and matches lots with its own FIFO/HIFO; rp2 computes FIFO and HIFO
from its own input format (tests/helpers/rp2run.py), and its ``rp2_us`` command's report gives
the gain per year and coin.
"""

from __future__ import annotations

import csv
import hashlib
import math
import re
import sqlite3
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rebalance_plugin.cli import main
from tests.helpers.ftbot import SIM_START, as_a_fresh_process, bot_config, candles_dir
from tests.helpers.rp2run import Trade, rp2_sales, rp2_us_gains

COINS = ("BTC", "ETH", "BNB", "SOL")


# ---- the bot -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def database(tmp_path_factory) -> Path:
    """The SQLite database of a dry-run bot that traded the story above (then shut down)."""
    from freqtrade.freqtradebot import FreqtradeBot
    from freqtrade.persistence import Trade as FtTrade
    from freqtrade.util.coin_gecko import FtCoinGeckoApi

    from binance_standin import start_server

    tmp = tmp_path_factory.mktemp("taxbot")
    datadir, _real = candles_dir(lambda: tmp / "candles")
    server, url = start_server(0, datadir=datadir, start=SIM_START, balances={"USDT": 1000})
    sim = server.sim
    mp = pytest.MonkeyPatch()
    mp.setattr(FtCoinGeckoApi, "get_coins_list", lambda self, **kw: [])
    mp.setattr(FtCoinGeckoApi, "get_price", lambda self, ids, vs_currencies, **kw: {})
    try:
        with as_a_fresh_process():
            config = bot_config(
                tmp / "bot", url, rebalance={"on_stop": "sell_all"}, telegram={"enabled": False}
            )
            hold = {c: sim.prices()[f"{c}USDT"]["price"] for c in COINS}

            def move(**factors: float) -> None:
                for coin, factor in factors.items():
                    hold[coin] *= factor
                for coin in COINS:
                    sim.set_price(f"{coin}USDT", hold[coin])

            def filled() -> int:
                return sum(
                    1 for t in FtTrade.get_trades_proxy() for o in t.orders if not o.ft_is_open
                )

            def settle(what: str) -> None:
                """Loops until no order is open and two loops in a row fill nothing."""
                quiet, before = 0, filled()
                for _ in range(20):
                    bot.process()
                    now = filled()
                    busy = any(t.has_open_orders for t in FtTrade.get_trades_proxy())
                    quiet = quiet + 1 if (now == before and not busy) else 0
                    before = now
                    if quiet >= 2:
                        return
                raise AssertionError(f"{what}: the bot kept trading")

            move()
            bot = FreqtradeBot(config)
            try:
                bot.startup()
                settle("the first buys")
                assert len(FtTrade.get_open_trades()) == 4
                move(SOL=1.6, BTC=1.1)
                settle("the rebalance after SOL x1.6")
                move(BTC=1.5, SOL=0.5)
                settle("the rebalance after BTC x1.5")
                bot.rpc._rpc._rpc_pause()  # /stopentry
                settle("the sales of /stopentry")
                assert FtTrade.get_open_trades() == []
            finally:
                bot.cleanup()
    finally:
        mp.undo()
        server.shutdown()
    path = Path(config["db_url"].removeprefix("sqlite:///"))
    assert path.is_file()
    return path


# ---- the independent computation ---------------------------------------------------------------
def orders_from_sqlite(path: Path) -> list[Trade]:
    """Every filled order, straight from the file: quantity filled (less a fee taken in the
    coin), the average fill price, the fee at the trade's rate, by fill time."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        rows = con.execute(
            """select o.order_filled_date, t.pair, o.ft_order_side, o.filled,
                      coalesce(o.ft_fee_base, 0), coalesce(o.average, o.price),
                      t.fee_open, t.fee_close
               from orders o join trades t on t.id = o.ft_trade_id
               where o.ft_is_open = 0 and o.filled > 0
               order by o.order_filled_date, t.id, o.id"""
        ).fetchall()
    trades = []
    for when, pair, side, filled, fee_base, price, fee_open, fee_close in rows:
        quantity = filled - fee_base
        rate = fee_open if side == "buy" else fee_close
        trades.append(
            Trade(
                time=datetime.fromisoformat(when).replace(tzinfo=UTC),
                coin=pair.split("/")[0],
                side=side,
                quantity=quantity,
                price=price,
                fee=fee_base * price if fee_base else quantity * price * rate,
            )
        )
    return trades


def lots_by_hand(trades: list[Trade], highest_first: bool) -> list[tuple[float, float]]:
    """(proceeds, cost basis) of every sale: lots per coin, oldest first (FIFO) or highest cost
    per coin first (HIFO); a buy's cost includes its fee, a sale's proceeds exclude it."""
    lots: dict[str, list[list[float]]] = defaultdict(list)  # [quantity, cost, order]
    out = []
    for n, t in enumerate(trades):
        if t.side == "buy":
            lots[t.coin].append([t.quantity, t.quantity * t.price + t.fee, n])
            continue
        need, basis = t.quantity, 0.0
        while need > 1e-12:
            held = lots[t.coin]
            held.sort(key=lambda lot: (-lot[1] / lot[0], lot[2]) if highest_first else lot[2])
            lot = held[0]
            take = min(need, lot[0])
            cost = lot[1] * take / lot[0]
            basis, need = basis + cost, need - take
            lot[0], lot[1] = lot[0] - take, lot[1] - cost
            if lot[0] <= 1e-12:
                held.pop(0)
        out.append((t.quantity * t.price - t.fee, basis))
    return out


def export(path: Path, out: Path, *args: str, capsys) -> tuple[str, list[dict[str, str]]]:
    code = main(["tax", "--db-url", f"sqlite:///{path}", "--out", str(out), *args])
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
    for rows, (sent, sent_cur, got, got_cur, fee) in (
        (
            koinly,
            ("Sent Amount", "Sent Currency", "Received Amount", "Received Currency", "Fee Amount"),
        ),
        (ct, ("Sell Amount", "Sell Currency", "Buy Amount", "Buy Currency", "Fee")),
    ):
        balance: dict[str, float] = defaultdict(float)
        balance["USDT"] = 1000.0
        for row in rows:
            balance[row[sent_cur]] -= float(row[sent])
            balance[row[got_cur]] += float(row[got])
            balance["USDT"] -= float(row[fee])
        assert balance["USDT"] == pytest.approx(cash, abs=1e-6)
        assert all(abs(balance[c]) < 1e-9 for c in COINS), dict(balance)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", r["Date"]) for r in koinly)
    assert all(r["TxHash"] for r in koinly)  # the exchange's order ids
    assert all(re.fullmatch(r"\d\d\.\d\d\.\d{4} \d\d:\d\d:\d\d", r["Date"]) for r in ct)
