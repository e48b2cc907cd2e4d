"""``freqtrade-rebalance tax``: the realised gains of a backtest or of a bot, and every trade in
the import formats of crypto tax tools.

Sources (what Freqtrade recorded, read only):

* a backtest result (``--backtest [FILE]``, the latest in the results folder by default): its
  trades' orders, as the report reads them. A backtest ends by selling the trades still open
  at its last candle (Freqtrade's ``force_exit``); those closing sales are real sales in
  Freqtrade's result and are exported (``--without-final-exits`` leaves them out, and the coins
  they sold stay in their lots).
* a bot's database (``--db-url``, the bot's ``db_url``: any database Freqtrade supports):
  Freqtrade's own ``Trade`` and ``Order`` records, read through a session of our own that never
  writes (SQLite is opened read-only; PostgreSQL sessions are read-only transactions).
  Freqtrade's ``init_db`` is not used: it may create tables, migrate, switch SQLite to WAL and
  fix old dry-run orders, i.e. write to the bot's database.

Each filled order is a :class:`~rebalance_plugin.core.taxlots.Fill`: the quantity that entered
or left the account (Freqtrade's ``safe_amount_after_fee``), the fill price, and the fee in the
stake currency: ``value × fee rate`` (the trade's ``fee_open`` for buys, ``fee_close`` for
sales: the rates Freqtrade books them with), or, when the exchange took the fee in the coin
(``ft_fee_base``), that quantity at the fill price. The lot matching is
:mod:`rebalance_plugin.core.taxlots`.

Formats:

* ``gains``: one row per sale, ``date,coin,quantity,proceeds,cost_basis,gain,fee,
  holding_days,method`` (money rounded to the cent, dates UTC), and the totals per year and
  per coin on the terminal (sums of the exact amounts, rounded).
* ``koinly``: Koinly's universal CSV template (support.koinly.io, "How to create a custom CSV
  file with your data"): ``Date,Sent Amount,Sent Currency,Received Amount,Received Currency,
  Fee Amount,Fee Currency,Net Worth Amount,Net Worth Currency,Label,Description,TxHash``, dates
  ``YYYY-MM-DD HH:MM:SS UTC``. The amounts sent and received are before the fee, which is its
  own column, as the templates of Koinly and the other tools take it.
* ``cointracking``: CoinTracking's CSV import, ``"Type","Buy Amount","Buy Currency","Sell
  Amount","Sell Currency","Fee","Fee Currency","Exchange","Trade-Group","Comment","Date"``, every
  field quoted, Type ``Trade``, dates ``DD.MM.YYYY HH:MM:SS`` in UTC (choose UTC when
  importing).

Freqtrade is imported inside the functions that need it.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, TextIO

from .core import taxlots
from .core.taxlots import METHODS, Fill, Sale

FORMATS = ("gains", "koinly", "cointracking")
DEFAULT_OUT = Path("user_data") / "tax"
GAINS_COLUMNS = (
    "date",
    "coin",
    "quantity",
    "proceeds",
    "cost_basis",
    "gain",
    "fee",
    "holding_days",
    "method",
)
KOINLY_COLUMNS = (
    "Date",
    "Sent Amount",
    "Sent Currency",
    "Received Amount",
    "Received Currency",
    "Fee Amount",
    "Fee Currency",
    "Net Worth Amount",
    "Net Worth Currency",
    "Label",
    "Description",
    "TxHash",
)
COINTRACKING_COLUMNS = (
    "Type",
    "Buy Amount",
    "Buy Currency",
    "Sell Amount",
    "Sell Currency",
    "Fee",
    "Fee Currency",
    "Exchange",
    "Trade-Group",
    "Comment",
    "Date",
)
TRADE_GROUP = "freqtrade-rebalance"


class TaxError(Exception):
    """A source or a setting refused; the message names it and the fix."""


@dataclass
class History:
    """Every fill of a source, and what it is."""

    fills: list[Fill]
    stake: str
    exchange: str
    source: str  # shown to the user: the result file or the database
    backtest: bool


# ---- amounts ------------------------------------------------------------------------------------
def cents(x: float) -> Decimal:
    """``x`` rounded to the cent, half away from zero, on the float's shortest decimal form
    (64.615 -> 64.62, -0.004 -> 0.00)."""
    return Decimal(repr(x)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) + 0


def amount(x: float, places: int = 8) -> str:
    """A quantity with up to ``places`` decimals, no trailing zeros ('0.02417', '15')."""
    text = f"{x:.{places}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def money(x: float) -> str:
    return f"{cents(x):.2f}"


# ---- sources ------------------------------------------------------------------------------------
def from_backtest(path: Path, strategy: str | None = None, *, final_exits: bool = True) -> History:
    """The fills of a backtest result (a file, or the latest in a results folder)."""
    from .report.loading import load_result, orders_from_trades
    from .report.metrics import fills

    result = load_result(Path(path), strategy)
    found = fills(orders_from_trades(result.trades), result.end)
    if not final_exits:
        found = [f for f in found if not f.final]
    stake = str(result.stats.get("stake_currency") or result.config.get("stake_currency") or "")
    exchange = str((result.config.get("exchange") or {}).get("name") or "")
    return History(found, stake or "USDT", exchange, str(result.path), backtest=True)


def _readonly_engine(db_url: str) -> Any:
    """An engine on ``db_url`` that cannot write: SQLite opened with ``mode=ro``, PostgreSQL
    in read-only transactions; other databases are only ever read by this module."""
    import sqlite3

    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        url = make_url(db_url)
    except ArgumentError as err:
        raise TaxError(
            f"--db-url {db_url!r} is not a database URL (the bot's db_url, e.g. "
            "sqlite:///tradesv3.dryrun.sqlite)"
        ) from err
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            raise TaxError(f"--db-url {db_url!r} names no database file")
        file = Path(url.database)
        if not file.is_file():
            raise TaxError(
                f"--db-url {db_url}: no database file {file.resolve()} (give the bot's db_url: "
                "by default sqlite:///tradesv3.sqlite, or tradesv3.dryrun.sqlite in dry-run, "
                "beside the bot's config)"
            )
        uri = f"file:{file.resolve()}?mode=ro"
        return create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True))
    kwargs: dict[str, Any] = {}
    if url.get_backend_name() == "postgresql":
        kwargs["connect_args"] = {"options": "-c default_transaction_read_only=on"}
    try:
        return create_engine(url, **kwargs)
    except (NoSuchModuleError, ModuleNotFoundError) as err:
        raise TaxError(f"--db-url {db_url}: no driver for this database ({err})") from err


def from_database(db_url: str) -> History:
    """The fills of a bot's database, through Freqtrade's models, never writing."""
    from sqlalchemy import inspect, select
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.orm import Session, selectinload

    engine = _readonly_engine(db_url)
    try:
        try:
            inspector = inspect(engine)
            tables = set(inspector.get_table_names())
            if not {"trades", "orders"} <= tables:
                raise TaxError(
                    f"--db-url {db_url} is not a Freqtrade database (no trades and orders "
                    "tables): give the bot's db_url"
                )
            columns = {c["name"] for c in inspector.get_columns("trades")}
            if "record_version" not in columns:
                raise TaxError(
                    f"--db-url {db_url} was written by an older Freqtrade: start the bot once "
                    "with Freqtrade 2026.9 so that it migrates its database, then export"
                )
            from freqtrade.persistence import Trade

            with Session(engine) as session:
                trades = session.scalars(
                    select(Trade).options(selectinload(Trade.orders)).order_by(Trade.id)
                ).all()
                fills, stake, exchange = _fills_of_trades(trades)
                session.rollback()
        except SQLAlchemyError as err:
            raise TaxError(f"--db-url {db_url}: cannot read the database ({err})") from err
    finally:
        engine.dispose()
    return History(fills, stake, exchange, db_url, backtest=False)


def _fills_of_trades(trades: Sequence[Any]) -> tuple[list[Fill], str, str]:
    keyed: list[tuple[datetime, int, int, Fill]] = []
    stakes, exchanges = set(), set()
    for trade in trades:
        if trade.is_short or (trade.leverage or 1.0) != 1.0:
            raise TaxError(
                f"trade {trade.id} ({trade.pair}) is a short or leveraged trade: the tax export "
                "handles spot trades only (trading_mode spot, as the rebalancer runs)"
            )
        base, _, quote = str(trade.pair).partition("/")
        stakes.add(trade.stake_currency or quote.split(":")[0])
        exchanges.add(trade.exchange or "")
        for order in trade.orders:
            if order.ft_is_open or not order.filled:
                continue
            quantity = float(order.safe_amount_after_fee)
            price = float(order.safe_price or 0.0)
            if quantity <= 0 or price <= 0:
                continue
            when = order.order_filled_date or order.order_update_date or order.order_date
            if when is None:
                raise TaxError(f"order {order.order_id} of trade {trade.id} has no date")
            when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
            entry = order.ft_order_side == trade.entry_side
            fee_base = float(order.ft_fee_base or 0.0)
            if fee_base > 0:
                fee = fee_base * price  # the coins the exchange kept, at the fill price
            else:
                rate = trade.fee_open if entry else trade.fee_close
                fee = quantity * price * float(rate or 0.0)
            fill = Fill(
                time=when,
                coin=base,
                side="buy" if entry else "sell",
                quantity=quantity,
                price=price,
                fee=fee,
                tag=order.ft_order_tag or "",
                ref=str(order.order_id or ""),
            )
            keyed.append((when, int(trade.id), int(order.id), fill))
    if len(stakes) > 1:
        raise TaxError(
            f"the database holds trades in several stake currencies ({', '.join(sorted(stakes))})"
            ": export one bot's database at a time"
        )
    keyed.sort(key=lambda k: k[:3])
    exchange = next(iter(exchanges)) if len(exchanges) == 1 else ""
    return [k[3] for k in keyed], (next(iter(stakes)) if stakes else "USDT"), exchange


# ---- formats ------------------------------------------------------------------------------------
def gains_rows(sales: Iterable[Sale]) -> list[dict[str, str]]:
    return [
        {
            "date": f"{s.time.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
            "coin": s.coin,
            "quantity": amount(s.quantity),
            "proceeds": money(s.proceeds),
            "cost_basis": money(s.cost_basis),
            "gain": money(s.gain),
            "fee": money(s.fee),
            "holding_days": f"{s.holding_days:.2f}",
            "method": s.method,
        }
        for s in sales
    ]


def _comment(fill: Fill, history: History) -> str:
    parts = [fill.tag or ("first buy" if fill.side == "buy" else "sell")]
    if fill.final:
        parts.append("closing sale at the end of the backtest")
    if history.backtest:
        parts.append(f"BACKTEST {Path(history.source).name}, not a real trade")
    return "freqtrade-rebalance: " + "; ".join(parts)


def koinly_rows(history: History) -> list[dict[str, str]]:
    rows = []
    for f in history.fills:
        coin, stake = (amount(f.quantity), f.coin), (amount(f.value), history.stake)
        sent, received = (stake, coin) if f.side == "buy" else (coin, stake)
        rows.append(
            {
                "Date": f"{f.time.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC",
                "Sent Amount": sent[0],
                "Sent Currency": sent[1],
                "Received Amount": received[0],
                "Received Currency": received[1],
                "Fee Amount": amount(f.fee),
                "Fee Currency": history.stake,
                "Net Worth Amount": "",
                "Net Worth Currency": "",
                "Label": "",
                "Description": _comment(f, history),
                "TxHash": f.ref,
            }
        )
    return rows


def cointracking_rows(history: History) -> list[dict[str, str]]:
    rows = []
    for f in history.fills:
        coin, stake = (amount(f.quantity), f.coin), (amount(f.value), history.stake)
        bought, sold = (coin, stake) if f.side == "buy" else (stake, coin)
        rows.append(
            {
                "Type": "Trade",
                "Buy Amount": bought[0],
                "Buy Currency": bought[1],
                "Sell Amount": sold[0],
                "Sell Currency": sold[1],
                "Fee": amount(f.fee),
                "Fee Currency": history.stake,
                "Exchange": history.exchange.capitalize() or "Freqtrade",
                "Trade-Group": TRADE_GROUP,
                "Comment": _comment(f, history) + (f" (order {f.ref})" if f.ref else ""),
                "Date": f"{f.time.astimezone(UTC):%d.%m.%Y %H:%M:%S}",
            }
        )
    return rows


def write_csv(
    rows: Sequence[dict[str, str]], columns: Sequence[str], path: Path, quote_all: bool = False
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(
            fh, fieldnames=list(columns), quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL
        )
        writer.writeheader()
        writer.writerows(rows)
    return path


def export(history: History, fmt: str, method: str, path: Path) -> Path:
    if fmt == "gains":
        return write_csv(gains_rows(taxlots.match(history.fills, method)), GAINS_COLUMNS, path)
    if fmt == "koinly":
        return write_csv(koinly_rows(history), KOINLY_COLUMNS, path)
    if fmt == "cointracking":
        return write_csv(cointracking_rows(history), COINTRACKING_COLUMNS, path, quote_all=True)
    raise TaxError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")


def format_totals(sales: Sequence[Sale], stake: str, method: str) -> str:
    """The totals per year and per coin, and over everything."""
    header = ("", "sales", "proceeds", "cost basis", "gain", "fees")

    def cells(name: str, t: taxlots.Totals) -> tuple[str, ...]:
        return (
            name,
            str(t.sales),
            money(t.proceeds),
            money(t.cost_basis),
            money(t.gain),
            money(t.fee),
        )

    groups = [
        [cells(str(y), t) for y, t in taxlots.by_year(sales).items()],
        [cells(c, t) for c, t in taxlots.by_coin(sales).items()],
        [cells("total", taxlots.total(sales))],
    ]
    rows = [r for g in groups for r in g]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    line = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    out = [f"Realised gains by {method.upper()} ({stake}):", "  " + line.format(*header)]
    for i, group in enumerate(groups):
        out.append("  " + line.format(*("-" * w for w in widths)))
        label = ("per year (UTC)", "per coin", "")[i]
        out += [
            "  " + line.format(*r) + (f"   {label}" if j == 0 and label else "")
            for j, r in enumerate(group)
        ]
    return "\n".join(out)


# ---- command line -------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--backtest",
        nargs="?",
        const="",
        default=None,
        metavar="FILE",
        help="a backtest result (.zip/.json); without FILE, or by default, the latest in the "
        "config's backtest_results folder",
    )
    source.add_argument(
        "--db-url",
        default=None,
        help="a bot's database: its db_url, e.g. sqlite:///tradesv3.dryrun.sqlite or "
        "postgresql+psycopg://user:pw@host/db (read only)",
    )
    parser.add_argument(
        "--method",
        default="fifo",
        choices=METHODS,
        help="how sales are matched to purchases, per coin: fifo (default), hifo (highest "
        "cost first) or average (Freqtrade's own average-cost booking)",
    )
    parser.add_argument(
        "--format",
        default="gains",
        choices=FORMATS,
        help="gains: one row per sale with its cost basis and gain (default); koinly, "
        "cointracking: every buy and sale in that tool's CSV import format",
    )
    parser.add_argument(
        "--out",
        "-o",
        type=Path,
        default=None,
        help="the CSV file to write (default: user_data/tax/gains-METHOD.csv, or FORMAT.csv)",
    )
    parser.add_argument(
        "--config",
        "-c",
        type=Path,
        default=Path("config.json"),
        help="where the backtest results are (user_data_dir, exportdirectory)",
    )
    parser.add_argument(
        "--strategy", default=None, help="the strategy to export if the result holds several"
    )
    parser.add_argument(
        "--without-final-exits",
        action="store_true",
        help="backtest: leave out the sales Freqtrade makes at the last candle to close the "
        "trades still open (their coins stay in their lots)",
    )


def _results_dir(config_path: Path) -> Path:
    config: dict[str, Any] = {}
    if config_path.is_file():
        from freqtrade.configuration.load_config import load_config_file

        config = load_config_file(str(config_path))
    user_data = Path(config.get("user_data_dir") or "user_data")
    return Path(config.get("exportdirectory") or user_data / "backtest_results")


def default_out(args: argparse.Namespace) -> Path:
    name = f"gains-{args.method}.csv" if args.format == "gains" else f"{args.format}.csv"
    return DEFAULT_OUT / name


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        if args.db_url is not None:
            if args.without_final_exits:
                raise TaxError(
                    "--without-final-exits applies to a backtest (a bot's sales are all real)"
                )
            history = from_database(args.db_url)
        else:
            path = Path(args.backtest) if args.backtest else _results_dir(args.config)
            history = from_backtest(path, args.strategy, final_exits=not args.without_final_exits)
        if not history.fills:
            raise TaxError(f"{history.source} holds no filled order: nothing to export")
        sales = taxlots.match(history.fills, args.method)
        path = export(history, args.format, args.method, args.out or default_out(args))
    except (TaxError, FileNotFoundError, ValueError) as err:
        print(f"freqtrade-rebalance tax: {err}", file=sys.stderr)
        return 2
    what = "backtest result" if history.backtest else "database"
    buys = sum(1 for f in history.fills if f.side == "buy")
    print(
        f"{what.capitalize()} {history.source}: {buys} buys and {len(history.fills) - buys} "
        f"sales in {len({f.coin for f in history.fills})} coins, "
        f"{history.fills[0].time:%Y-%m-%d} -> {history.fills[-1].time:%Y-%m-%d}",
        file=out,
    )
    print(format_totals(sales, history.stake, args.method), file=out)
    final = [s for s in sales if s.final]
    if final:
        print(
            f"  of which the {len(final)} closing sales at the backtest's last candle "
            f"(Freqtrade's force_exit of the open trades): gain "
            f"{money(math.fsum(s.gain for s in final))} {history.stake} "
            "(--without-final-exits leaves them out)",
            file=out,
        )
    if history.backtest:
        print("  A backtest's trades are simulated: never file them as real trades.", file=out)
    if args.format == "gains":
        print(f"\n{len(sales)} sales written to {path.resolve()}", file=out)
    else:
        print(
            f"\n{len(history.fills)} trades written to {path.resolve()} ({args.format}'s CSV "
            "import; your tax tool applies your country's rules to them)",
            file=out,
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="freqtrade-rebalance tax", description=DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv))


DESCRIPTION = (
    "Realised gains of a backtest or of a bot's database: one row per sale with its cost "
    "basis (lots matched per coin: FIFO, HIFO or average cost) and its gain, with totals per "
    "year and per coin; or every buy and sale in Koinly's or CoinTracking's CSV import format."
)
