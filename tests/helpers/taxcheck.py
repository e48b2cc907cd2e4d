"""The tax export's independent checks, shared by tests/backtest/test_tax_backtest.py and
tests/e2e/test_tax_database.py: lot matching written here from the orders alone (no plugin
code), the orders read straight from a bot's database, an import file replayed into balances,
and the dry-run bot that trades the story of tests/e2e/test_tax_database.py."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.helpers.ftbot import SIM_START, as_a_fresh_process, bot_config, candles_dir
from tests.helpers.rp2run import Trade

COINS = ("BTC", "ETH", "BNB", "SOL")


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


ORDERS_SQL = """select o.order_filled_date, t.pair, o.ft_order_side, o.filled,
                      coalesce(o.ft_fee_base, 0), coalesce(o.average, o.price),
                      t.fee_open, t.fee_close
               from orders o join trades t on t.id = o.ft_trade_id
               where not o.ft_is_open and o.filled > 0
               order by o.order_filled_date, t.id, o.id"""


def orders_from_sqlite(path: Path) -> list[Trade]:
    """Every filled order, straight from the file: quantity filled (less a fee taken in the
    coin), the average fill price, the fee at the trade's rate, by fill time."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        return orders_of_rows(con.execute(ORDERS_SQL).fetchall())


def orders_of_rows(rows: list[tuple]) -> list[Trade]:
    trades = []
    for when, pair, side, filled, fee_base, price, fee_open, fee_close in rows:
        quantity = filled - fee_base
        rate = fee_open if side == "buy" else fee_close
        trades.append(
            Trade(
                time=(when if isinstance(when, datetime) else datetime.fromisoformat(when)).replace(
                    tzinfo=UTC
                ),
                coin=pair.split("/")[0],
                side=side,
                quantity=quantity,
                price=price,
                fee=fee_base * price if fee_base else quantity * price * rate,
            )
        )
    return trades


def replay(
    rows: list[dict[str, str]], columns: tuple[str, str, str, str, str], start: float
) -> dict[str, float]:
    """The balances an import file gives: ``columns`` are its (sent amount, sent currency,
    received amount, received currency, fee) columns, the fee in USDT; ``start`` USDT first."""
    sent, sent_cur, got, got_cur, fee = columns
    balance: dict[str, float] = defaultdict(float)
    balance["USDT"] = start
    for row in rows:
        balance[row[sent_cur]] -= float(row[sent])
        balance[row[got_cur]] += float(row[got])
        balance["USDT"] -= float(row[fee])
    return dict(balance)


KOINLY = ("Sent Amount", "Sent Currency", "Received Amount", "Received Currency", "Fee Amount")
COINTRACKING = ("Sell Amount", "Sell Currency", "Buy Amount", "Buy Currency", "Fee")


def trade_the_story(tmp: Path, db_url: str | None = None) -> str:
    """A dry-run bot trades the story above into its database (SQLite in ``tmp``, or
    ``db_url``), then shuts down. Returns the database's URL."""
    from freqtrade.freqtradebot import FreqtradeBot
    from freqtrade.persistence import Trade as FtTrade
    from freqtrade.util.coin_gecko import FtCoinGeckoApi

    from binance_standin import start_server

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
            if db_url:
                config["db_url"] = db_url
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
    return str(config["db_url"])
