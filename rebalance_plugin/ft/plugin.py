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
- ``bot_loop_start``: the stages of ``loop`` below, once per candle (backtest) or loop (live);
  the core's engine decides (``decider.py``), auto-invest deposits (``deposits.py``), orders in
  flight are followed (``recovery.py``, dry/live).
- ``adjust_trade_position`` (``orders.py``): hands each trade its order as Freqtrade's stake; in
  a backtest, the buys after the sells at the first turn after them (``turns.py``).

Prices: in a backtest Freqtrade fills at the *open* of the candle at ``current_time``; the
snapshot uses exactly those opens (kept from ``populate_indicators``), never a later price. Live,
it uses the tickers of every coin, fetched in one request at the start of the loop, which also
answer Freqtrade's own price look-ups of that loop (``quotes.py``, ``privates.py``).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any

from freqtrade.exceptions import OperationalException
from freqtrade.strategy import IStrategy

from ..core import messages
from ..core.book import Book
from ..core.config import DEFAULTS, RebalanceConfig
from ..core.portfolio import max_drift
from . import params, settings, startup
from .changes import ConfigChanges
from .chart import Charts, signal_override_verified
from .context import TRADING, Context
from .decider import Decider
from .deposits import Deposits
from .halts import CLOSED, Halts
from .hands import Hands
from .lifecycle import Lifecycle
from .loop import Loop
from .markets import Markets
from .notify import Notifier
from .orders import OrderDesk
from .ordertypes import order_style
from .outage import Outage, unavailable
from .reader import PortfolioReader
from .recovery import InFlightRecovery
from .status import StatusPublisher
from .store import StateStore
from .turns import BacktestTurns

logger = logging.getLogger("rebalance_plugin.ft")

#: A rebalance cut short by the exchange is finished when a coin is still this many points (or
#: percent of its target, relative mode) off: less is not worth the orders.
UNFINISHED_DRIFT = 0.5


class RebalancePlugin:
    """The portfolio rebalancer of one strategy instance: assembles the glue's objects and runs
    Freqtrade's callbacks through them."""

    def __init__(
        self,
        strategy: Any,
        cfg: RebalanceConfig,
        config: dict[str, Any],
        refused: Exception | None = None,
    ) -> None:
        self.ctx = Context.of(strategy, cfg, config)
        # The rebalance section or whitelist was refused in __init__: bot_start decides whether
        # the bot runs on its last good portfolio (a /reload_config) or refuses to start.
        self.refused = refused
        self.section = config.get("rebalance")
        # What the user wrote, before Freqtrade copies the strategy's own values into config.
        self.user_settings = settings.user_settings(config)
        self.markets = Markets(self.ctx)
        self._opens_checked = False  # a backtest's first buys against its first opens
        # Limit IOC, or limit GTC where Freqtrade has no IOC for the exchange: decided before
        # Freqtrade copies order_time_in_force into its config and checks it (ordertypes.py).
        self.style = order_style(config)
        strategy.order_time_in_force = self.style.limit[1]
        self._assemble()

    def _assemble(self) -> None:
        """The objects that hold one run's state (all but the exchange's rules). Orders are in
        flight only in dry/live; the candles' turns (the fast path's gate) only in a backtest."""
        ctx = self.ctx
        self.store = store = StateStore(ctx)
        self.reader = reader = PortfolioReader(ctx, store)
        self.notifier = notifier = Notifier(ctx, store)
        self.desk = desk = OrderDesk(ctx, store, self.markets, self.style)
        self.decider = Decider(store, self.markets, notifier, desk)
        self.deposits = Deposits(ctx, store, reader, notifier)
        self.lifecycle = Lifecycle(ctx, store, reader, notifier, desk)
        self.changes = ConfigChanges(ctx, store, self.markets, reader, notifier)
        self.status = StatusPublisher(ctx, store, reader, desk)
        self.chart = Charts(ctx, store, reader)
        self.halts = Halts(ctx, store, notifier)
        self.outage = Outage(ctx, notifier)
        self.hands = Hands(ctx, store, self.markets, notifier, reader.refresh_wallets)
        self.answered = True  # dry/live: the exchange answered this loop (outage.py)
        # dry/live: a leg of a rebalance was refused for the exchange's trouble (not answering,
        # rate or order-count limits): the rebalance is finished once it answers again
        self.unfinished = False
        self.recovery: InFlightRecovery | None = None
        self.turns: BacktestTurns | None = None
        if ctx.backtest:
            self.turns = BacktestTurns(
                ctx, store, reader, notifier, desk, self.decider, self.deposits
            )
            ctx.strategy.ft_adjust_gate = self.turns
        else:
            self.recovery = InFlightRecovery(ctx, store, self.markets, reader, notifier, desk)

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
        if ctx.checked:  # analysis commands set these for themselves
            settings.check_settings(ctx.strategy, ctx.config, self.user_settings)
        if not ctx.backtest and params.file_values(ctx.strategy):  # equal, or refused above
            logger.info(messages.trigger_file_agrees(params.file_name(ctx.strategy)))
        risk = self.markets.check(ctx.cfg, self._start_prices())
        if risk:
            self.notifier.say(risk)
        if ctx.backtest:
            if ctx.journal:
                self.notifier.start_journal()
                self.deposits.say_wallet_needed()
            return
        logger.info(self.style.describe(ctx.config))
        book = self.store.book
        if loaded:
            logger.info(messages.restored(book))
        if self.refused is not None:
            self.notifier.say(messages.reload_refused(str(self.refused), book, ctx.stake))
        else:
            self.store.keep_section(self.section)
            self.notifier.config_accepted()  # a refusal said before is no longer the last word
        for coin, _ in self.store.book.coins:  # coins still held from an earlier allocation
            self.markets.add(coin)
        # the account's amounts of coins said to be short, adopted (a /reload_config, a restart)
        self.hands.adopt(self.reader.by_coin(self.reader.open_trades()))

    def _start_prices(self) -> dict[str, float | None]:
        """Dry/live: each coin's ticker price at start-up, to value the exchange's minimum
        quantities (none in a backtest, checked at its first candle; none if unavailable)."""
        if self.ctx.backtest:
            return {}
        prices: dict[str, float | None] = {}
        for coin in self.ctx.cfg.coin_names:
            try:
                prices[coin] = self.reader.price(self.ctx.cfg.pair(coin), 0)
            except Exception:  # a ticker the exchange cannot give: the value minimum only
                prices[coin] = None
        return prices

    def _run_on_last_good(self, loaded: bool) -> None:
        """A refused section: keep running the portfolio of the stored record (a bad
        /reload_config must not stop a running bot), or refuse to start (no record yet)."""
        assert self.refused is not None
        cfg = startup.last_good(self.store.book, self.ctx.stake) if loaded else None
        if cfg is None:
            raise self.refused
        self.ctx.cfg = cfg

    # ---- a simulated run -------------------------------------------------------------------------
    def _candle(self, now: float) -> bool:
        """Simulated modes: False while nothing can happen on this candle (``turns.py``)."""
        assert self.turns is not None
        if self.turns.starts_run(now):
            self._new_run()
        assert self.turns is not None
        return self.turns.candle(now)

    def _new_run(self) -> None:
        """Simulated modes, at a run's first loop. Hyperopt runs one backtest per epoch on the
        same strategy: each run after the first begins from a fresh portfolio (the candles and
        the exchange's rules are kept), with that epoch's trigger values."""
        assert self.turns is not None
        if self.turns.last_loop is not None:
            reader, journal = self.reader, self.notifier.journal
            self._assemble()
            self.reader.carry(reader)
            if journal is not None:
                self.notifier.start_journal()
        assert self.turns is not None
        self.turns.begin_run(trigger=self.refused is None)

    def remember_opens(self, dataframe: Any, pair: str) -> None:
        """A backtest's candles of ``pair``: their opens are the prices it trades at. Once
        every coin's are known (Freqtrade computes every pair's indicators before the first
        loop, outside the callbacks whose errors it only logs), each first buy at its first
        open must clear the exchange's minimum quantity's value too (Kraken and OKX count
        their minimum in the coin): refused before any order, as at start-up."""
        self.reader.remember_opens(dataframe, pair)
        ctx = self.ctx
        if not ctx.backtest or ctx.viewer or self._opens_checked:
            return
        if all(p in self.reader.opens for p in ctx.cfg.pairs):
            self._opens_checked = True
            span = startup.timerange(ctx.config)
            opens = self.reader.first_opens(span[0] if span else 0.0)
            self.markets.check_first_buys(ctx.cfg, opens)

    # ---- entries and exits -----------------------------------------------------------------------
    def confirm_entry(self, pair: str, amount: float) -> bool:
        if not self.lifecycle.entry_allowed(pair):
            return False
        if self.recovery is not None:
            self.recovery.remember_entry(pair, amount)  # to finish a partial fill
        return True

    def entry_stake(self, pair: str, current_rate: float) -> float:
        return self.lifecycle.entry_stake(pair, self.markets.fee(pair), current_rate)

    def confirm_exit(self, pair: str, exit_reason: str, current_time: datetime) -> bool:
        running = not self.store.book.stopped
        self.lifecycle.on_exit(pair, exit_reason, current_time.timestamp())
        if running and (book := self.store.book).stopped:
            applied = book.applied(self.ctx.cfg)
            self.status.publish_now(self.reader.open_trades(), current_time.timestamp(), applied)
        return True

    def order_for(self, trade: Any, current_rate: float) -> tuple[float, str] | None:
        if self.turns is not None:
            self.turns.turn()  # the first turn after this candle's sells sizes the buys
        return self.desk.stake_for(trade, current_rate)

    # ---- bot_loop_start --------------------------------------------------------------------------
    def loop(self, current_time: datetime) -> None:
        """One loop: each stage in turn until one ends it. Runs once per candle in a backtest:
        kept lean (see ``make bench``)."""
        now = current_time.timestamp()
        if self.turns is not None and not self._candle(now):
            return
        self.deposits.seen(now)  # dry/live: a deposit due before the first loop was missed
        self.desk.new_loop()
        trades = self.reader.open_trades()
        self.reader.refresh_prices(trades)  # dry/live: every price of this loop, one request
        self._exchange_news(now)  # dry/live: refusals, new rules, whether the exchange answers
        running = not self.store.book.stopped
        self.lifecycle.commands(now, trades)  # /stopentry, /start (dry/live)
        # The effective config, once per loop (after a /start that restarted the portfolio).
        loop = Loop(now, trades, self.reader.by_coin(trades), self.book.applied(self.ctx.cfg))
        for stage in (
            self._stopped,  # a stopped portfolio sells (on_stop = sell_all) or waits
            self._first_buys_filled,  # a new coin's first buy is no longer pending
            self._in_flight,  # orders still open; an IOC's unfilled rest goes at market
            self._hands,  # live: the account holds less than the book (sold by hand)
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
            self.status.publish_now(loop.trades, loop.now, loop.applied)
        if loop.publish:
            self.status.after_loop(loop.trades, loop.now, loop.applied)
        if self.turns is not None:
            self.turns.after(loop)

    def _exchange_news(self, now: float) -> None:
        """Dry/live: what the exchange did since the last loop. Orders it refused (a closed
        market halts its coin, a changed rule reloads the markets), rules it changed (the next
        legs follow them, said once), and whether it answers now (``outage.py``)."""
        if self.ctx.backtest:
            return
        refusals = self.reader.take_refusals()
        self.halts.refusals(refusals)
        self.markets.refusals(refusals)
        exchange = self.outage.exchange
        for coin, diff in self.markets.refresh().items():
            pair = self.ctx.cfg.pair(coin)
            self.notifier.say(messages.rules_changed(coin, pair, exchange, diff))
        if any(unavailable(err) for _, err in refusals):
            self._leg_refused()
        reader = self.reader
        stale = reader.quoted and self.outage.stale(reader.quotes.stamps()) or None
        fetched = reader.quoted or not reader.frugal
        if reader.quotes.failed in CLOSED:  # a pair delisted: not the exchange's outage
            self.halts.symbol_unknown()
            fetched = True
        signed_ok = reader.probe_account() if self.outage.signed is not None else None
        self.answered = self.outage.loop(
            now, fetched, reader.quotes.failure, stale, refusals, signed_ok
        )

    def _leg_refused(self) -> None:
        """An order of the portfolio was refused because the exchange did not take it now (a
        503, the clock, a ban, too many new orders): the rebalance it belonged to is planned
        again from what the account holds once the exchange answers (``_rebalance``), instead
        of waiting for the drift to pass the threshold again. Sells refused while the buys
        wait: the buys wait no longer (they are planned again with the sells)."""
        self.unfinished = True
        engine = self.store.book.engine
        if engine.phase == "selling":
            self.store.update(engine=replace(engine, phase="idle", pending_buys={}))

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
        following = self.recovery is not None and self.recovery.follow(loop.by_coin)
        loop.busy = following or any(t.has_open_orders for t in loop.trades)
        return True

    def _hands(self, loop: Loop) -> bool:
        self.hands.check(loop.by_coin, loop.busy)
        return True

    def _starting(self, loop: Loop) -> bool:
        if self.store.book.started is not None:
            return True
        self.lifecycle.starting(loop.by_coin, loop.now, loop.busy)
        return False

    def _config_change(self, loop: Loop) -> bool:
        book = self.store.book
        if not loop.busy and book.engine.phase == "idle" and loop.applied is not self.ctx.cfg:
            loop.force, loop.withdraw, loop.applied = self.changes.apply(
                loop.by_coin, loop.now, loop.trades, loop.applied
            )
        return True

    def _prices(self, loop: Loop) -> bool:
        coins = list(dict(loop.applied.coins))
        coins += [c for c in loop.by_coin if c not in coins]  # held, no longer targeted
        if not self.answered:  # the exchange does not answer, or its prices are stale
            loop.publish = False
            return False
        held_at = None
        if not self.ctx.backtest:  # coins that cannot trade: at their last price (halts.py)
            held = {c: float(t.amount) for c, t in loop.by_coin.items()}
            loop.halted = self.halts.check(coins, held, loop.now)
            if loop.halted:  # a delisted pair's last quote must not answer Freqtrade
                self.reader.quotes.keep(lambda pair: bool(self.ctx.dp.market(pair)))
            held_at = self.halts.prices(loop.halted, loop.by_coin)
        quantities = self.hands.holdings(loop.by_coin) if self.hands.live else None
        loop.portfolio, missing = self.reader.portfolio(
            coins, loop.by_coin, loop.trades, loop.now, held_at, quantities
        )
        if loop.portfolio is not None and not self.ctx.backtest:
            self.halts.seen(dict(loop.portfolio.prices))
        if self.turns is not None and missing:  # a backtest's candles stop for some coins:
            held_at = self.turns.held_at(coins, missing, loop.now)  # halted, at their last opens
            if held_at:
                loop.halted = tuple(missing)
                loop.portfolio, _ = self.reader.portfolio(
                    coins, loop.by_coin, loop.trades, loop.now, held_at, quantities
                )
                for coin in missing:  # a buy carried from the last candle: no order for it
                    self.desk.orders.pop(self.ctx.cfg.pair(coin), None)
        if self.turns is not None and self.turns.gap_changed(tuple(missing)) and missing:
            self.notifier.say(messages.no_candle(missing, loop.now, held_at))  # once per gap
        if loop.portfolio is None:  # a coin has no price at this candle: decide nothing
            loop.publish = False
            return False
        return True

    def _levels(self, loop: Loop) -> bool:
        assert loop.portfolio is not None
        if not self.lifecycle.check_levels(loop.applied, loop.portfolio, loop.now):
            return True
        self.lifecycle.stopped_loop(loop.by_coin)
        return False

    def _deposit(self, loop: Loop) -> bool:
        """Auto-invest: a deposit due now is made (``deposits.py``) and invested, selling
        nothing; the trigger is asked on the next loop."""
        if loop.force or loop.withdraw:
            return True
        carried = self.turns is not None and self.turns.carried
        loop.deposit = self.deposits.make(loop.now, loop.trades, loop.busy or carried)
        if not loop.deposit:
            return True
        assert loop.portfolio is not None
        portfolio = replace(loop.portfolio, cash=self.reader.cash(loop.trades))
        self.decider.decide(loop, portfolio, False)
        return False

    def _rebalance(self, loop: Loop) -> bool:
        assert loop.portfolio is not None
        turns = self.turns
        carried = turns is not None and turns.carried  # buys of an earlier candle still to go
        busy = loop.busy or bool(self.book.entries) or carried
        if self.unfinished and not busy and self.book.engine.phase == "idle":
            self.unfinished = False  # a rebalance cut short by the exchange: finished now
            drift = max_drift(loop.portfolio, loop.applied.weights, loop.applied.relative)
            loop.force = loop.force or drift >= UNFINISHED_DRIFT
        self.decider.decide(loop, loop.portfolio, busy)
        if turns is not None:
            turns.sold(loop)  # its buys follow its sells, in this candle
        return True


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
            cfg = startup.check_config(config)
        except OperationalException as err:  # decided in bot_start: a reload runs on
            # A bot: never deferred. A simulated run says it at bot_start, where FreqUI's
            # "Start backtest" (freqtrade webserver) shows it ("Backtest failed: ...") instead
            # of nothing: an error here comes before the backtest exists to carry it.
            if config.get("runmode") in (*TRADING, None):
                startup.check_security(config)
            cfg = startup.placeholder(config)
            refused = err
        for name, parameter in params.of_config(cfg).items():
            setattr(self, name, parameter)
        fastpath.install()
        super().__init__(config)
        self.rb = RebalancePlugin(self, cfg, config, refused)

    @property
    def rebalance(self) -> RebalanceConfig:
        """The portfolio's live config, read-only (``Context.cfg``: the rebalance section with
        this run's trigger values, or a reload's last good portfolio)."""
        return self.rb.ctx.cfg

    def get_entry_signal(self, pair: str, timeframe: str, dataframe: Any) -> Any:
        """Dry/live: Freqtrade asks for the signal of a pair without an open trade. The
        dataframe's ``enter_long`` marks only the real first buys (FreqUI's chart,
        ``chart.py``); whether a first buy is due is ``confirm_trade_entry``'s decision, as
        before: the latest candle signals. Backtests read the dataframe, not this. Freqtrade
        asks right before it opens the pair's trade: the order kind of that first buy is set
        here (``InFlightRecovery.entry_kind``)."""
        if self.rb.recovery is not None:  # dry/live
            self.rb.recovery.entry_kind(pair)
        if self.rb.ctx.backtest or len(dataframe) == 0 or not signal_override_verified():
            return super().get_entry_signal(pair, timeframe, dataframe)
        latest = dataframe.iloc[-1:].copy()
        latest["enter_long"] = 1
        return super().get_entry_signal(pair, timeframe, latest)
