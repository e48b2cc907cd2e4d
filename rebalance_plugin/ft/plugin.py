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
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from freqtrade.exceptions import OperationalException
from freqtrade.strategy import IStrategy

from ..core import messages
from ..core.autoinvest import deposit_times, due_deposit, next_deposit
from ..core.book import Book
from ..core.config import DEFAULTS, ConfigError, RebalanceConfig, with_trigger
from ..core.engine import Snapshot, step
from ..core.plan import skip_risk
from ..core.portfolio import Portfolio
from . import params, settings, startup
from .changes import ADD_FUNDS_SLACK, ConfigChanges
from .chart import Charts, signal_override_verified
from .context import Context
from .fastforward import FastForward
from .lifecycle import Lifecycle
from .markets import Markets
from .notify import Notifier
from .orders import OrderDesk
from .reader import PortfolioReader
from .status import StatusPublisher
from .store import StateStore

logger = logging.getLogger("rebalance_plugin.ft")

#: A deposit is paid when the spare money is short of it by at most this share (fee rounding).
DEPOSIT_SLACK = 1e-6


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
    deposit: float = 0.0  # an auto-invest deposit made this loop
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
        # What the user wrote, before Freqtrade copies the strategy's own values into config.
        self.user_settings = settings.user_settings(config)
        self.section_cfg = cfg  # the rebalance section as config.json gives it
        self.last_loop: float | None = None  # simulated: the time of the last loop of this run
        self.first_loop: float | None = None  # the time of this process's first loop
        self.markets = Markets(ctx)
        self._assemble()

    def _assemble(self) -> None:
        """The objects that hold one run's state (all but the exchange's rules)."""
        ctx = self.ctx
        self.price_gap: tuple[str, ...] = ()  # backtest: coins without a candle now
        self.store = StateStore(ctx)
        self.reader = PortfolioReader(ctx, self.store)
        self.notifier = Notifier(ctx, self.store)
        self.desk = OrderDesk(ctx, self.store, self.markets, self.reader, self.notifier)
        self.lifecycle = Lifecycle(ctx, self.store, self.reader, self.notifier, self.desk)
        self.changes = ConfigChanges(ctx, self.store, self.markets, self.reader, self.notifier)
        self.status = StatusPublisher(ctx, self.store, self.reader, self.desk)
        self.chart = Charts(ctx, self.store, self.reader)
        self.desk.after_sells = self._buys_after_sells
        # Backtest fast path (fastpath.py): which pairs may have an order this candle.
        ctx.strategy.ft_adjust_gate = self.desk
        self.current: Loop | None = None  # backtest: this candle's loop, for the buys
        self.fast_forward: FastForward | None = None  # backtest: candles to skip
        self.skip_until = 0.0

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
        if ctx.checked:  # analysis commands set these for themselves
            settings.check_settings(ctx.strategy, ctx.config, self.user_settings)
        if not ctx.backtest and params.file_values(ctx.strategy):  # equal, or refused above
            logger.info(messages.trigger_file_agrees(params.file_name(ctx.strategy)))
        exchange = ctx.config.get("exchange", {}).get("name", "the exchange")
        startup.check_markets(cfg, self.markets.missing(list(cfg.coin_names)), exchange)
        startup.check_minimums(cfg, {c: self.markets.first_buy_min(c) for c in cfg.coin_names})
        risk = skip_risk(cfg, {c: self.markets.rules[c].min_notional for c in cfg.coin_names})
        if risk:
            self.notifier.say(risk)
        if ctx.backtest:
            if ctx.journal:
                self.notifier.start_journal()
                self._say_wallet_needed()
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

    def _say_wallet_needed(self) -> None:
        """Backtest with auto-invest: how much dry_run_wallet the schedule needs over the
        range (the deposits beyond the wallet are skipped)."""
        plan = self.ctx.cfg.auto_invest
        config = self.ctx.config
        wallet = config.get("dry_run_wallet")
        span = startup.timerange(config)
        if plan is None or span is None or not isinstance(wallet, (int, float)):
            return
        count = len(deposit_times(plan, span[0], span[1]))
        self.notifier.say(
            messages.deposits_need_wallet(
                count, plan.amount, self.ctx.cfg.investment, float(wallet), self.ctx.stake
            )
        )

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

    # ---- a simulated run -------------------------------------------------------------------------
    def _new_run(self) -> None:
        """Simulated modes, at a run's first loop: the trigger values of this run (a backtest
        with a parameter file, a hyperopt epoch: ``params.py``). Hyperopt runs one backtest per
        epoch on the same strategy: a loop earlier than the last one starts the next, which
        begins from a fresh portfolio (the candles and the exchange's rules are kept)."""
        if self.last_loop is not None:
            reader, journal = self.reader, self.notifier.journal
            self._assemble()
            self.reader.opens = reader.opens
            self.reader.capital = reader.capital
            if reader.capital is not None:  # raised by the last run's realised profit
                self.ctx.config["available_capital"] = reader.capital
            if journal is not None:
                self.notifier.start_journal()
        from . import fastpath  # hyperopt workers are new processes: install it there too

        fastpath.install()
        self.notifier.quiet = self.ctx.hyperopt
        self._use_trigger(self.section_cfg, *params.for_run(self.ctx.strategy, self.ctx.hyperopt))

    def _use_trigger(
        self, section: RebalanceConfig, values: dict[str, Any], source: dict[str, str]
    ) -> None:
        """Run on ``section`` with the trigger ``values`` (from ``source``), said in a backtest's
        log when a parameter file set any."""
        ctx = self.ctx
        if self.refused is not None:
            return
        try:
            cfg = with_trigger(section, values)
        except ConfigError as err:  # the values are checked at bot_start: not expected here
            logger.error(f"Trigger values {values} refused ({err}); using config.json's")
            cfg = section
        if cfg is not ctx.cfg:
            ctx.cfg = cfg
            ctx.strategy.rebalance = cfg
        if params.FROM_FILE in source.values() and not ctx.hyperopt:
            logger.warning(
                messages.trigger_sources(cfg, section, source, params.file_name(ctx.strategy))
            )

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
        now = current_time.timestamp()
        if self.first_loop is None:
            self.first_loop = now  # dry/live: a deposit due before it was missed while down
        if self.ctx.backtest:
            if self.last_loop is None or now <= self.last_loop:
                self._new_run()
                self.skip_until = 0.0
            self.last_loop = now
            if now < self.skip_until:  # nothing can happen before then (fastforward.py)
                return
        self.desk.new_loop()
        trades = self.reader.open_trades()
        self.reader.refresh_prices(trades)  # dry/live: every price of this loop, one request
        loop = Loop(now, trades, self.reader.by_coin(trades))
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
            self._deposit,  # auto-invest: a scheduled deposit, invested selling nothing
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
        if self.ctx.backtest:
            self.skip_until = self._quiet_until(loop)

    def _quiet_until(self, loop: Loop) -> float:
        """Backtest: the next candle on which this loop can have anything to decide (0: the
        next one). Only the trigger can act, and only when nothing is pending."""
        book = self.store.book
        cfg = loop.applied
        if (
            cfg is None
            or loop.portfolio is None
            or book.started is None
            or book.stopped
            or book.entries
            or book.engine.phase != "idle"
            or book.engine.skipping is not None
            or self.desk.orders
            or self.desk.sells_left
            or self.price_gap
            or cfg.stop_loss is not None
            or cfg.take_profit is not None
            or cfg is not self.ctx.cfg
        ):
            return 0.0
        if self.fast_forward is None:
            self.fast_forward = FastForward(self.reader.opens)
        portfolio = loop.portfolio
        until = self.fast_forward.until(
            cfg, loop.now, book.started, portfolio.quantities, portfolio.cash
        )
        plan = self.ctx.cfg.auto_invest
        if plan is not None:  # a scheduled deposit is something that happens
            after = book.started if book.last_deposit is None else book.last_deposit
            until = min(until, next_deposit(plan, after, book.started))
        return until

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

    def _deposit(self, loop: Loop) -> bool:
        """Auto-invest (SPEC §7): at a scheduled time the amount joins the portfolio if the
        money is there (``_deposit_refusal``), and buys the underweight coins selling nothing;
        the trigger is asked again on the next loop. A deposit that cannot be paid is skipped,
        said once until one is paid, and the next one is tried at its time."""
        plan = self.ctx.cfg.auto_invest
        book = self.store.book
        if plan is None or book.started is None or loop.force or loop.withdraw:
            return True
        busy = loop.busy or bool(book.entries) or book.engine.phase != "idle"
        if busy or (self.ctx.backtest and self.desk.carried):
            return True  # made once the orders are done
        due = due_deposit(plan, book.started, book.last_deposit, loop.now)
        if due is None:
            return True
        stake = self.ctx.stake
        why = self._deposit_refusal(plan.amount, loop.trades)
        if why is not None:
            if book.deposit_refused is None:
                self.notifier.say(messages.deposit_refused(plan.amount, due, why, stake))
            self.store.update(last_deposit=due, deposit_refused=book.deposit_refused or due)
            self.store.save()
            return True
        if not self.ctx.backtest and due < (self.first_loop or loop.now):
            self.notifier.say(messages.deposit_late(plan.amount, due, stake))
        self.store.update(
            funded=book.funded + plan.amount,
            deposited=book.deposited + plan.amount,
            last_deposit=due,
            deposit_refused=None,
        )
        self.store.save()
        self.reader.count_realized_profit(loop.trades)  # available_capital grows with it
        assert loop.portfolio is not None
        portfolio = replace(loop.portfolio, cash=self.reader.cash(loop.trades))
        loop.deposit = plan.amount
        self._decide(loop, portfolio, False)
        return False

    def _deposit_refusal(self, amount: float, trades: list[Any]) -> str | None:
        """Why a deposit of ``amount`` cannot be paid now (None: it can): it would take the
        portfolio's money beyond ``available_capital`` (this bot's share of an account several
        bots trade on), or the wallet's free stake currency beyond the portfolio's own cash (a
        backtest: the part of dry_run_wallet beyond the investment) is short of it."""
        stake = self.ctx.stake
        capital = self.reader.capital  # this bot's share of the account, as the user set it
        funded = self.store.book.funded
        if capital is not None and funded + amount > capital + DEPOSIT_SLACK * amount:
            return (
                f"available_capital = {capital:g} is this bot's share of the account and the "
                f"portfolio has {funded:g} {stake} of it; raise available_capital to make room "
                f"for the deposits"
            )
        wallets = self.ctx.wallets
        if wallets is None:
            return None
        if not self.ctx.backtest:
            wallets.update()
        free = float(wallets.get_free(self.ctx.stake))
        spare = free - max(0.0, self.reader.own_cash(trades))
        # the cash figure is Freqtrade's fee arithmetic, the exchange rounds its own way: a
        # slack of 0.1% of the portfolio's money keeps cents from refusing a deposit (its buys
        # are sized from the cash the wallet really has)
        if spare + ADD_FUNDS_SLACK * self.store.book.funded >= amount:
            return None
        where = "dry_run_wallet" if self.ctx.backtest else "the account's free " + stake
        return f"{where} has {max(spare, 0.0):.2f} {stake} beyond the portfolio's own money"

    def _rebalance(self, loop: Loop) -> bool:
        assert loop.applied is not None and loop.portfolio is not None
        busy = loop.busy or bool(self.store.book.entries)
        if self.ctx.backtest:
            busy = busy or self.desk.carried  # buys of the last candle still to be handed out
        self._decide(loop, loop.portfolio, busy)
        if self.ctx.backtest and self.desk.sells_left and self.store.book.engine.phase == "selling":
            self.current = loop
            self.desk.buys_due = True  # sized at the first turn after the sells (same candle)
        return True

    def _buys_after_sells(self) -> None:
        """Backtest: the sells of this candle have filled; the buys are sized from the cash
        they freed, at this candle's prices, and handed out to the pairs still to come."""
        loop = self.current
        assert loop is not None and loop.portfolio is not None
        trades = self.reader.open_trades()
        by_coin = self.reader.by_coin(trades)
        held = {c: (by_coin[c].amount if c in by_coin else 0.0) for c in loop.portfolio.quantities}
        portfolio = Portfolio(held, loop.prices, self.reader.cash(trades))
        self._decide(replace(loop, trades=trades, by_coin=by_coin), portfolio, False)

    def _decide(self, loop: Loop, portfolio: Portfolio, busy: bool) -> None:
        """The core's engine on this portfolio: its orders placed, its events reported."""
        assert loop.applied is not None
        book = self.store.book
        snap = Snapshot(
            now=loop.now,
            portfolio=portfolio,
            rules=self.markets.rules,
            fee=self.markets.fee_rate,
            first_buy=book.started,
            busy=busy,
            force=loop.force,
            withdraw=loop.withdraw,
            deposit=loop.deposit,
        )
        result = step(loop.applied, book.engine, snap)
        if result.state is not book.engine or result.withdrawn:
            self.store.update(engine=result.state, funded=book.funded - result.withdrawn)
        for event in result.events:
            self.notifier.report(event)
        self.desk.place(dict(result.orders), loop.by_coin, market=False, deposit=loop.deposit > 0)


class RebalanceMixin(IStrategy):
    """Mix into an ``IStrategy`` (before it): checks the config, installs the backtest fast path,
    declares the trigger's hyperopt parameters (``params.py``) and builds the plugin
    (``self.rb``). The strategy's callbacks delegate to ``self.rb``.

    Derives from ``IStrategy`` itself: hyperopt with several jobs pickles the strategy, and
    Freqtrade registers the module of every base class for pickling by value, walking up the
    bases until it reaches ``IStrategy`` (``HyperOptimizer.hyperopt_pickle_magic``). From a mixin
    based on ``object`` it would reach ``object`` and register ``builtins``, and the pickling
    would fail ("excessively deep recursion required")."""

    rb: RebalancePlugin
    rebalance: RebalanceConfig

    # The trigger as hyperopt parameters of the buy space (params.py). These class-level
    # declarations carry the section's documented defaults; each instance replaces them with
    # parameters whose defaults are its config's rebalance section.
    _declared = params.declare(DEFAULTS)
    trigger = _declared["trigger"]
    threshold = _declared["threshold"]
    interval = _declared["interval"]
    interval_min_drift = _declared["interval_min_drift"]
    del _declared

    def __init__(self, config: dict[str, Any]) -> None:
        from . import fastpath

        refused: OperationalException | None = None
        try:
            self.rebalance = startup.check_config(config)
        except OperationalException as err:  # decided in bot_start: a reload runs on
            startup.check_security(config)  # never deferred
            self.rebalance = startup.placeholder(config)
            refused = err
        for name, parameter in params.of_config(self.rebalance).items():
            setattr(self, name, parameter)
        fastpath.install()
        super().__init__(config)
        self.rb = RebalancePlugin(self, self.rebalance, config, refused)

    def get_entry_signal(self, pair: str, timeframe: str, dataframe: Any) -> Any:
        """Dry/live: Freqtrade asks for the signal of a pair without an open trade. The
        dataframe's ``enter_long`` marks only the real first buys (FreqUI's chart,
        ``chart.py``); whether a first buy is due is ``confirm_trade_entry``'s decision, as
        before: the latest candle signals. Backtests read the dataframe, not this. Freqtrade
        asks right before it opens the pair's trade: the order kind of that first buy is set
        here (``OrderDesk.entry_kind``)."""
        self.rb.desk.entry_kind(pair)
        if self.rb.ctx.backtest or len(dataframe) == 0 or not signal_override_verified():
            return super().get_entry_signal(pair, timeframe, dataframe)
        latest = dataframe.iloc[-1:].copy()
        latest["enter_long"] = 1
        return super().get_entry_signal(pair, timeframe, latest)
