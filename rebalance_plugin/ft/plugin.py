"""The Freqtrade glue, assembled: small objects that each own one concern, and the order in which
a loop runs them. The strategy file's callbacks delegate here (``strategies/RebalanceStrategy.py``).

Mapping (one Freqtrade trade per coin, opened once and kept for the life of the portfolio):

- ``__init__`` (start-up checks, ``startup.py``): parses the ``rebalance`` section, checks the
  pair whitelist against the coins, derives ``max_open_trades`` and checks the security settings.
- ``bot_start``: every coin has a market and the investment clears the minimums
  (``markets.py``); dry/live loads the portfolio's record from Freqtrade's database
  (``store.py``); a backtest starts its journal (``notify.py``).
- ``confirm_trade_entry`` / ``custom_stake_amount`` (``lifecycle.py``): a coin is bought as a new
  trade only for the first buys (after ``trigger_price``) or when a new coin joins.
- ``bot_loop_start``: the stages of ``LOOP`` below, once per candle (backtest) or loop (live).
- ``adjust_trade_position`` (``orders.py``): hands each trade its order as Freqtrade's stake.

Prices: in a backtest Freqtrade fills at the *open* of the candle at ``current_time``; the
snapshot uses exactly those opens (kept from ``populate_indicators``), never a later price. Live,
it uses the tickers of every coin, fetched in one request at the start of the loop, which also
answer Freqtrade's own price look-ups of that loop (``quotes.py``, ``privates.py``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from freqtrade.exceptions import OperationalException

from ..core import messages
from ..core.book import Book
from ..core.config import RebalanceConfig
from ..core.engine import Snapshot, step
from ..core.plan import skip_risk
from ..core.portfolio import Portfolio
from . import settings, startup
from .changes import ConfigChanges
from .context import Context
from .lifecycle import Lifecycle
from .markets import Markets
from .notify import Notifier
from .orders import OrderDesk
from .reader import PortfolioReader
from .status import StatusPublisher
from .store import StateStore

logger = logging.getLogger("rebalance_plugin.ft")


@dataclass
class Loop:
    """What one loop has learnt so far, passed from stage to stage."""

    now: float
    trades: list[Any]
    by_coin: dict[str, Any]
    busy: bool = False
    applied: RebalanceConfig | None = None
    force: bool = False
    withdraw: float = 0.0
    prices: dict[str, float] = field(default_factory=dict)
    portfolio: Portfolio | None = None
    publish: bool = True  # publish the status after the loop


class RebalancePlugin:
    """The portfolio rebalancer of one strategy instance."""

    def __init__(
        self,
        strategy: Any,
        cfg: RebalanceConfig,
        config: dict[str, Any],
        refused: Exception | None = None,
    ) -> None:
        self.ctx = ctx = Context.of(strategy, cfg, config)
        # The rebalance section or whitelist was refused in __init__: bot_start decides whether
        # the bot runs on its last good portfolio (a /reload_config) or refuses to start.
        self.refused = refused
        self.section = config.get("rebalance")
        self.price_gap: tuple[str, ...] = ()  # backtest: coins without a candle now
        # What the user wrote, before Freqtrade copies the strategy's own values into config.
        self.user_settings = settings.user_settings(config)
        self.store = StateStore(ctx)
        self.markets = Markets(ctx)
        self.reader = PortfolioReader(ctx, self.store)
        self.notifier = Notifier(ctx)
        self.desk = OrderDesk(ctx, self.store, self.markets, self.reader, self.notifier)
        self.lifecycle = Lifecycle(ctx, self.store, self.reader, self.notifier, self.desk)
        self.changes = ConfigChanges(ctx, self.store, self.markets, self.reader, self.notifier)
        self.status = StatusPublisher(ctx, self.store, self.reader, self.desk)

    @property
    def book(self) -> Book:
        """The portfolio's record as it is now."""
        return self.store.book

    # ---- bot_start -----------------------------------------------------------------------------
    def start(self) -> None:
        ctx = self.ctx
        loaded = self.store.load()  # dry/live: the record of an earlier run, read once
        if self.refused is not None:
            self._run_on_last_good(loaded)
        cfg = ctx.cfg
        if ctx.journal or not ctx.backtest:  # analysis commands set these for themselves
            settings.check_settings(ctx.strategy, ctx.config, self.user_settings)
        exchange = ctx.config.get("exchange", {}).get("name", "the exchange")
        startup.check_markets(cfg, self.markets.missing(list(cfg.coin_names)), exchange)
        startup.check_minimums(cfg, {c: self.markets.first_buy_min(c) for c in cfg.coin_names})
        risk = skip_risk(cfg, {c: self.markets.rules[c].min_notional for c in cfg.coin_names})
        if risk:
            self.notifier.say(risk)
        if ctx.backtest:
            if ctx.journal:
                self.notifier.start_journal()
            return
        if loaded:
            logger.info(messages.restored(self.store.book))
        if self.refused is not None:
            self.notifier.say(
                messages.reload_refused(str(self.refused), self.store.book, ctx.stake)
            )
        elif isinstance(self.section, dict) and self.store.book.section != self.section:
            self.store.update(section=self.section)  # the last good section, for a bad reload
            self.store.save()
        for coin, _ in self.store.book.coins:  # coins still held from an earlier allocation
            self.markets.add(coin)

    def _run_on_last_good(self, loaded: bool) -> None:
        """A refused section: keep running the portfolio of the stored record (a bad
        /reload_config must not stop a running bot), or refuse to start (no record yet)."""
        assert self.refused is not None
        ctx = self.ctx
        cfg = startup.last_good(self.store.book, ctx.stake) if loaded else None
        if cfg is None:
            raise self.refused
        ctx.cfg = cfg
        ctx.strategy.rebalance = cfg

    # ---- entries and exits -----------------------------------------------------------------------
    def confirm_entry(self, pair: str, amount: float) -> bool:
        if not self.lifecycle.entry_allowed(pair):
            return False
        self.desk.remember_entry(pair, amount)  # to finish a partial fill
        return True

    def entry_stake(self, pair: str, current_rate: float) -> float:
        return self.lifecycle.entry_stake(pair, self.markets.fee(pair), current_rate)

    def confirm_exit(self, pair: str, exit_reason: str, current_time: datetime) -> bool:
        running = not self.store.book.stopped
        self.lifecycle.on_exit(pair, exit_reason, current_time.timestamp())
        if running and self.store.book.stopped:
            self.status.publish_now(self.reader.open_trades(), current_time.timestamp())
        return True

    def order_for(self, trade: Any, current_rate: float) -> tuple[float, str] | None:
        return self.desk.stake_for(trade, current_rate)

    # ---- bot_loop_start --------------------------------------------------------------------------
    def loop(self, current_time: datetime) -> None:
        """One loop: each stage in turn until one ends it. Runs once per candle in a backtest:
        kept lean (see ``make bench``)."""
        self.desk.new_loop()
        trades = self.reader.open_trades()
        self.reader.refresh_prices(trades)  # dry/live: every price of this loop, one request
        loop = Loop(current_time.timestamp(), trades, self.reader.by_coin(trades))
        running = not self.store.book.stopped
        for stage in (
            self._commands,  # /stopentry, /start (dry/live)
            self._stopped,  # a stopped portfolio sells (on_stop = sell_all) or waits
            self._first_buys_filled,  # a new coin's first buy is no longer pending
            self._in_flight,  # orders still open; an IOC's unfilled rest goes at market
            self._starting,  # trigger_price, then the first buys
            self._config_change,  # funds added or removed, coins changed (/reload_config)
            self._prices,  # every coin's price now, or nothing is decided
            self._levels,  # stop_loss / take_profit
            self._rebalance,  # the core's engine: the orders of a rebalance
        ):
            if not stage(loop):
                break
        book = self.store.book
        if self.desk.orders or book.entries or (book.started is None and book.triggered):
            # Orders go out this loop: Freqtrade prices them at the best bid or ask of tickers
            # fetched now, not at the loop's start (dry/live; 2 weight on Binance).
            self.reader.refresh_prices(trades)
        if running and book.stopped:  # stopped now: every trade shows it at once
            self.status.publish_now(loop.trades, loop.now)
        if loop.publish:
            self.status.after_loop(loop.trades, loop.now)

    def _commands(self, loop: Loop) -> bool:
        self.lifecycle.commands(loop.now, loop.trades)
        return True

    def _stopped(self, loop: Loop) -> bool:
        if not self.store.book.stopped:
            return True
        self.lifecycle.stopped_loop(loop.by_coin)
        return False

    def _first_buys_filled(self, loop: Loop) -> bool:
        self.lifecycle.first_buys_filled(loop.by_coin)
        self.reader.count_realized_profit(loop.trades)
        return True

    def _in_flight(self, loop: Loop) -> bool:
        loop.busy = self.desk.follow_inflight(loop.by_coin) or any(
            t.has_open_orders for t in loop.trades
        )
        return True

    def _starting(self, loop: Loop) -> bool:
        if self.store.book.started is not None:
            return True
        self.lifecycle.starting(loop.by_coin, loop.now, loop.busy)
        return False

    def _config_change(self, loop: Loop) -> bool:
        cfg = self.ctx.cfg
        book = self.store.book
        loop.applied = book.applied(cfg)
        if not loop.busy and book.engine.phase == "idle" and loop.applied is not cfg:
            loop.force, loop.withdraw, loop.applied = self.changes.apply(
                loop.by_coin, loop.now, loop.trades
            )
        return True

    def _prices(self, loop: Loop) -> bool:
        assert loop.applied is not None
        coins = list(dict(loop.applied.coins))
        held = [c for c in loop.by_coin if c not in coins]
        missing = []
        for coin in coins + held:
            price = self.reader.price(self.ctx.cfg.pair(coin), int(loop.now))
            if not price:  # a coin has no price at this candle: decide nothing
                missing.append(coin)
            else:
                loop.prices[coin] = price
        if self.ctx.backtest and tuple(missing) != self.price_gap:  # said once per gap
            if missing:
                self.notifier.say(messages.no_candle(missing, loop.now))
            self.price_gap = tuple(missing)
        if missing:
            loop.publish = False
            return False
        loop.portfolio = Portfolio(
            {c: (loop.by_coin[c].amount if c in loop.by_coin else 0.0) for c in coins + held},
            loop.prices,
            self.reader.cash(loop.trades),
        )
        return True

    def _levels(self, loop: Loop) -> bool:
        assert loop.applied is not None and loop.portfolio is not None
        if not self.lifecycle.check_levels(loop.applied, loop.portfolio, loop.now):
            return True
        self.lifecycle.stopped_loop(loop.by_coin)
        return False

    def _rebalance(self, loop: Loop) -> bool:
        assert loop.applied is not None and loop.portfolio is not None
        book = self.store.book
        snap = Snapshot(
            now=loop.now,
            portfolio=loop.portfolio,
            rules=self.markets.rules,
            fee=self.markets.fee_rate,
            first_buy=book.started,
            busy=loop.busy or bool(book.entries),
            force=loop.force,
            withdraw=loop.withdraw,
        )
        result = step(loop.applied, book.engine, snap)
        if result.state is not book.engine or result.withdrawn:
            self.store.update(engine=result.state, funded=book.funded - result.withdrawn)
        for event in result.events:
            self.notifier.report(event)
        self.desk.place(dict(result.orders), loop.by_coin, market=False)
        return True


class RebalanceMixin:
    """Mix into an ``IStrategy`` (before it): checks the config, installs the backtest fast path
    and builds the plugin (``self.rb``). The strategy's callbacks delegate to ``self.rb``."""

    rb: RebalancePlugin
    rebalance: RebalanceConfig

    def __init__(self, config: dict[str, Any]) -> None:
        from . import fastpath

        refused: OperationalException | None = None
        try:
            self.rebalance = startup.check_config(config)
        except OperationalException as err:  # decided in bot_start: a reload runs on
            startup.check_security(config)  # never deferred
            self.rebalance = startup.placeholder(config)
            refused = err
        fastpath.install()
        super().__init__(config)  # type: ignore[call-arg]
        self.rb = RebalancePlugin(self, self.rebalance, config, refused)

    def ft_adjust_wanted(self, pair: str) -> bool:
        """Backtest fast path (``fastpath.py``): False when this pair has no order this candle."""
        return self.rb.desk.wanted(pair)
