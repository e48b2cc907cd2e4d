"""Where the tax export's fills come from: a backtest result (its trades' orders, as the report
reads them) or a bot's database (Freqtrade's own ``Trade`` and ``Order`` records, through a
session of our own that never writes). Freqtrade is imported inside the functions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..core.taxlots import Fill


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


def from_backtest(path: Path, strategy: str | None = None, *, final_exits: bool = True) -> History:
    """The fills of a backtest result (a file, or the latest in a results folder)."""
    from ..report.loading import load_result, orders_from_trades
    from ..report.metrics import fills

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
