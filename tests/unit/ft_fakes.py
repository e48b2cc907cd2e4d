"""Plain fakes of the few Freqtrade objects the glue (rebalance_plugin/ft) reads, and a builder
that wires the glue's objects on them the way ``RebalancePlugin`` does.

What is faked: the strategy (``config``, ``dp``, ``wallets``, ``order_types``,
``order_time_in_force``, ``unlock_reason``), the DataProvider (markets, ticker, ``send_msg``),
the wallet, and Freqtrade's trades. What is patched with pytest-mock: ``KeyValueStore`` (the
record's persistence), ``Trade`` where the reader asks it for the closed profit, and ``Order``
where the in-flight recovery asks the database about an exchange order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rebalance_plugin.core.book import Book
from rebalance_plugin.core.config import RebalanceConfig, parse_rebalance_config
from rebalance_plugin.ft.changes import ConfigChanges
from rebalance_plugin.ft.context import Context
from rebalance_plugin.ft.decider import Decider
from rebalance_plugin.ft.deposits import Deposits
from rebalance_plugin.ft.lifecycle import Lifecycle
from rebalance_plugin.ft.markets import Markets
from rebalance_plugin.ft.notify import Notifier
from rebalance_plugin.ft.orders import OrderDesk
from rebalance_plugin.ft.ordertypes import order_style
from rebalance_plugin.ft.reader import PortfolioReader
from rebalance_plugin.ft.recovery import InFlightRecovery
from rebalance_plugin.ft.status import StatusPublisher
from rebalance_plugin.ft.store import STATE_KEY, StateStore, loads, read_record
from rebalance_plugin.ft.turns import BacktestTurns

#: 2024-01-01 10:00 UTC: the portfolio's first buy in the tests that need one.
T0 = datetime(2024, 1, 1, 10, 0, tzinfo=UTC).timestamp()

#: The default portfolio: BTC 60% / ETH 40% for 1000 USDT, threshold trigger, on_stop sell_all.
SECTION: dict[str, Any] = {
    "coins": {"BTC": 60, "ETH": 40},
    "investment": 1000,
    "on_stop": "sell_all",
}


def market(step: float, min_cost: float = 5.0, *, active: bool = True) -> dict[str, Any]:
    """A ccxt spot market as Binance describes it (the fields ``MarketRules`` reads)."""
    return {
        "active": active,
        "spot": True,
        "precision": {"amount": step, "price": 0.01},
        "limits": {"amount": {"min": step}, "cost": {"min": min_cost}},
    }


def markets() -> dict[str, dict[str, Any]]:
    """BTC steps by 0.00001, ETH by 0.0001; both need an order of at least 5 USDT."""
    return {"BTC/USDT": market(1e-05), "ETH/USDT": market(1e-04)}


@dataclass
class FakeDataProvider:
    markets: dict[str, dict[str, Any]] = field(default_factory=markets)
    prices: dict[str, float] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)

    def market(self, pair: str) -> dict[str, Any] | None:
        return self.markets.get(pair)

    def ticker(self, pair: str) -> dict[str, Any]:
        return {"last": self.prices[pair]} if pair in self.prices else {}

    def send_msg(self, message: str, *, always_send: bool = False) -> None:
        # Without always_send Freqtrade drops a message identical to one sent this candle.
        assert always_send, "the glue's messages are sent with always_send=True"
        self.messages.append(message)


@dataclass
class FakeWallets:
    free: dict[str, float] = field(default_factory=dict)
    updates: int = 0

    total: dict[str, float] = field(default_factory=dict)  # coins: free + in orders

    def get_free(self, currency: str) -> float:
        return self.free.get(currency, 0.0)

    def get_total(self, currency: str) -> float:
        return self.total.get(currency, self.free.get(currency, 0.0))

    def update(self, require_update: bool = True) -> None:
        self.updates += 1


class FakeStrategy:
    """The IStrategy attributes the glue reads and writes."""

    def __init__(self, config: dict[str, Any], dp: FakeDataProvider, wallets: FakeWallets) -> None:
        self.config = config
        self.dp = dp
        self.wallets = wallets
        # What a user's config.json usually has: market orders, GTC.
        self.order_types: dict[str, Any] = {
            "entry": "market",
            "exit": "market",
            "stoploss": "market",
            "stoploss_on_exchange": False,
        }
        self.order_time_in_force: dict[str, str] = {"entry": "GTC", "exit": "GTC"}
        self.unlocked: list[str] = []

    def unlock_reason(self, reason: str) -> None:
        self.unlocked.append(reason)


@dataclass
class FakeTrade:
    """A Freqtrade trade as the glue reads it (one open trade per coin)."""

    pair: str
    amount: float
    stake_amount: float
    id: int = 1
    realized_profit: float = 0.0
    fee_open: float = 0.001
    open_rate: float = 0.0
    has_open_orders: bool = False
    open_date_utc: datetime = field(default_factory=lambda: datetime.fromtimestamp(T0, UTC))
    custom_data: dict[str, Any] = field(default_factory=dict)
    custom_data_writes: int = 0
    orders: list[Any] = field(default_factory=list)  # Freqtrade's Order objects

    def set_custom_data(self, key: str, value: Any) -> None:
        self.custom_data[key] = value
        self.custom_data_writes += 1


def plain(text: str) -> str:
    """A message as the user reads it (Telegram's Markdown backticks dropped)."""
    return text.replace("`", "")


@dataclass
class Glue:
    """The glue's objects over the fakes, and the mocks standing in for Freqtrade's database."""

    ctx: Context
    strategy: FakeStrategy
    dp: FakeDataProvider
    wallets: FakeWallets
    kv: Any  # patched rebalance_plugin.ft.store.KeyValueStore
    ft_trade: Any  # patched rebalance_plugin.ft.reader.Trade
    store: StateStore
    markets: Markets
    reader: PortfolioReader
    notifier: Notifier
    desk: OrderDesk
    lifecycle: Lifecycle
    changes: ConfigChanges
    status: StatusPublisher
    recovery: InFlightRecovery | None  # dry/live only
    turns: BacktestTurns | None  # a backtest only

    @property
    def book(self) -> Book:
        return self.store.book

    @property
    def applied(self) -> RebalanceConfig:
        """The effective config, as the plugin's loop computes it once per loop."""
        return self.store.book.applied(self.ctx.cfg)

    @property
    def said(self) -> list[str]:
        """Every message sent to Telegram / FreqUI, as the user reads it."""
        return [plain(m) for m in self.dp.messages]

    def saved(self) -> Book:
        """The record as last written to Freqtrade's database."""
        text = read_record(self.kv.rows.get)
        assert text is not None, "nothing saved"
        return loads(text)

    def saves(self) -> int:
        """How many times the record was written (each write ends with its header)."""
        return sum(1 for c in self.kv.store_value.call_args_list if c.args[0] == STATE_KEY)

    def reconfigure(self, section: dict[str, Any]) -> RebalanceConfig:
        """config.json edited, then /reload_config: the strategy runs on the new section."""
        self.ctx.cfg = parse_rebalance_config(section, "USDT")
        return self.ctx.cfg

    def start(self, started: float = T0) -> Book:
        """The portfolio past its first buys (the record as after ``Lifecycle.starting``)."""
        return self.store.update(started=started, triggered=True)


def make_glue(
    mocker: Any,
    section: dict[str, Any] | None = None,
    *,
    dry_run: bool = True,
    backtest: bool = False,
    free: float = 5000.0,
    prices: dict[str, float] | None = None,
    closed_profit: float = 0.0,
    fee: float | None = 0.001,
    exchange: str = "binance",
) -> Glue:
    """The glue of one strategy, on fakes. ``free``: the wallet's free USDT; ``prices``: the
    ticker's last price per pair; ``closed_profit``: Freqtrade's profit of closed trades."""
    config: dict[str, Any] = {
        "stake_currency": "USDT",
        "dry_run": dry_run,
        "exchange": {"name": exchange},
        "unfilledtimeout": {"entry": 30, "exit": 30, "unit": "seconds"},
    }
    if fee is not None:
        config["fee"] = fee
    dp = FakeDataProvider(prices=dict(prices or {}))
    wallets = FakeWallets({"USDT": free})
    strategy = FakeStrategy(config, dp, wallets)
    cfg = parse_rebalance_config(section or SECTION, "USDT")
    kv = mocker.patch("rebalance_plugin.ft.store.KeyValueStore")
    kv.rows = {}  # Freqtrade's KeyValueStore table, in memory
    kv.get_value.side_effect = kv.rows.get
    kv.store_value.side_effect = kv.rows.__setitem__
    kv.delete_value.side_effect = lambda key: kv.rows.pop(key, None)
    ft_trade = mocker.patch("rebalance_plugin.ft.reader.Trade")
    ft_trade.get_total_closed_profit.return_value = closed_profit
    ft_trade.get_trades_proxy.return_value = []
    order = mocker.patch("rebalance_plugin.ft.recovery.Order")
    order.order_by_id.return_value = None
    ctx = Context(strategy, cfg, backtest=backtest)
    store = StateStore(ctx)
    mkts = Markets(ctx)
    reader = PortfolioReader(ctx, store)
    notifier = Notifier(ctx, store)
    desk = OrderDesk(ctx, store, mkts, order_style(config))
    deposits = Deposits(ctx, store, reader, notifier)
    decider = Decider(store, mkts, notifier, desk)
    glue = Glue(
        ctx=ctx,
        strategy=strategy,
        dp=dp,
        wallets=wallets,
        kv=kv,
        ft_trade=ft_trade,
        store=store,
        markets=mkts,
        reader=reader,
        notifier=notifier,
        desk=desk,
        lifecycle=Lifecycle(ctx, store, reader, notifier, desk),
        changes=ConfigChanges(ctx, store, mkts, reader, notifier),
        status=StatusPublisher(ctx, store, reader, desk),
        recovery=None if backtest else InFlightRecovery(ctx, store, mkts, reader, notifier, desk),
        turns=BacktestTurns(ctx, store, reader, notifier, desk, decider, deposits)
        if backtest
        else None,
    )
    mkts.missing(list(cfg.coin_names))  # bot_start looks every coin's market up
    return glue
