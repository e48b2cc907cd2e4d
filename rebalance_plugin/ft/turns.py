"""A backtest's runs and the turn order of its candles (built only in the simulated run modes).

Runs: Freqtrade's hyperopt runs one backtest per epoch on the same strategy instance. A loop
earlier than the last one (or the first loop) starts a run; the plugin then begins it from a
fresh portfolio (``RebalancePlugin._new_run``), with a new ``BacktestTurns``.

Turn order: Freqtrade visits the pairs of a candle one after another (open trades first, in the
order they were opened) and fills each order at once. The sells go to their pairs; once the last
of them has been handed out, the cash they freed is there, so the buys are sized at the very next
pair's turn (``turn``) and handed out in the same candle to every pair still to come. A pair
already visited gets its buy at its next turn: the next candle of ``--timeframe-detail``, else the
next candle, for the value planned (its quantity then follows that candle's open: ``orders.py``).

Fast-forward: after a loop with nothing pending, the candles on which nothing can happen are not
looked at (``fastforward.py``).

The backtest fast path (``fastpath.py``) reads this object as the strategy's ``ft_adjust_gate``:
``orders``, ``buys_due`` and ``wanted(pair)``.
"""

from __future__ import annotations

from dataclasses import replace

from ..core.plan import Leg
from ..core.portfolio import Portfolio
from . import params
from .context import Context
from .decider import Decider
from .deposits import Deposits
from .fastforward import FastForward
from .loop import Loop
from .notify import Notifier
from .orders import OrderDesk
from .reader import PortfolioReader
from .store import StateStore


class BacktestTurns:
    """Owns one run's candle bookkeeping: the last loop's time, the candle the loop may skip to,
    the coins without a candle now, and the buys due after this candle's sells."""

    def __init__(
        self,
        ctx: Context,
        store: StateStore,
        reader: PortfolioReader,
        notifier: Notifier,
        desk: OrderDesk,
        decider: Decider,
        deposits: Deposits,
    ) -> None:
        self.ctx = ctx
        self.store = store
        self.reader = reader
        self.notifier = notifier
        self.desk = desk
        self.decider = decider
        self.deposits = deposits
        self.last_loop: float | None = None  # the time of this run's last loop
        self.skip_until = 0.0  # nothing can happen before then (fastforward.py)
        self.fast_forward: FastForward | None = None
        self.price_gap: tuple[str, ...] = ()  # coins without a candle now
        self.buys_due = False  # this candle's sells were handed out: the buys follow them
        self.selling: Loop | None = None  # the loop whose sells the buys follow

    # ---- runs and candles ----------------------------------------------------------------------
    def starts_run(self, now: float) -> bool:
        """A loop at ``now`` starts a run: the first loop, or one not later than the last."""
        return self.last_loop is None or now <= self.last_loop

    def begin_run(self, trigger: bool) -> None:
        """A run's first loop: the backtest fast path installed (hyperopt's workers are new
        processes), an epoch's rebalance events logged at debug level only, and, with
        ``trigger``, this run's trigger values over config.json's section (a backtest with a
        parameter file, a hyperopt epoch: ``params.run_config``)."""
        from . import fastpath

        fastpath.install()
        self.notifier.quiet = self.ctx.hyperopt
        if trigger:
            ctx = self.ctx
            ctx.cfg = params.run_config(ctx.section, ctx.strategy, ctx.hyperopt)

    def candle(self, now: float) -> bool:
        """This candle's loop begins: False while nothing can happen on it (fast-forward)."""
        self.last_loop = now
        if now < self.skip_until:
            return False
        self.buys_due = False
        self.selling = None
        return True

    def held_at(self, coins: list[str], missing: list[str], now: float) -> dict[str, float]:
        """Coins of ``coins`` without a candle at ``now`` (``missing``) are treated as halted
        coins live (``core.halts``): held at the open of their last candle while the others
        rebalance among themselves. Their last opens; empty (nothing is decided, as before)
        when every coin is missing or one has no earlier candle (before its listing)."""
        if len(missing) >= len(coins):
            return {}
        last = self.reader.last_opens(missing, now)
        return last if len(last) == len(missing) else {}

    def gap_changed(self, coins: tuple[str, ...]) -> bool:
        """The coins without a candle now: True when that changed (said once per gap)."""
        changed = coins != self.price_gap
        self.price_gap = coins
        return changed

    @property
    def carried(self) -> bool:
        """Buys of an earlier candle are still to be handed out (nothing else is decided
        meanwhile)."""
        return bool(self.desk.orders)

    # ---- the turns of one candle ---------------------------------------------------------------
    @property
    def orders(self) -> dict[str, Leg]:
        """The fast path's gate: the pairs with an order this candle."""
        return self.desk.orders

    @property
    def sells_left(self) -> bool:
        """A sell handed out this candle is still to come (the desk keeps only the buys of
        earlier candles: every sell it holds is this candle's)."""
        return any(leg.side == "sell" for leg in self.desk.orders.values())

    def sold(self, loop: Loop) -> None:
        """After the loop's rebalance: when it placed sells, its buys follow them in this
        candle (``turn``)."""
        if self.sells_left and self.store.book.engine.phase == "selling":
            self.selling = loop
            self.buys_due = True

    def wanted(self, pair: str) -> bool:
        """The fast path: False when this pair's turn cannot have an order (asked for every
        pair on every candle with orders: kept to a look-up). Once the sells are done, every
        turn may be the one that sizes the buys."""
        return pair in self.desk.orders or (self.buys_due and not self.sells_left)

    def turn(self) -> None:
        """A pair's turn (``adjust_trade_position``). The first turn after the last sell was
        handed out (and filled) sizes the buys from the cash the sells freed, at this candle's
        prices, and hands them to the pairs still to come."""
        if not self.buys_due or self.sells_left:
            return
        self.buys_due = False
        loop = self.selling
        assert loop is not None and loop.portfolio is not None
        trades = self.reader.open_trades()
        by_coin = self.reader.by_coin(trades)
        held = {c: (by_coin[c].amount if c in by_coin else 0.0) for c in loop.portfolio.quantities}
        portfolio = Portfolio(held, loop.portfolio.prices, self.reader.cash(trades))
        self.decider.decide(replace(loop, trades=trades, by_coin=by_coin), portfolio, False)

    # ---- after the loop ------------------------------------------------------------------------
    def after(self, loop: Loop) -> None:
        """The loop is over: the next candle on which anything can happen (fast-forward)."""
        self.skip_until = self._quiet_until(loop)

    def _pending(self, loop: Loop) -> bool:
        """Something may happen on the next candle: an order, a rebalance half done, a first buy
        to make, a skip episode, a stop level to watch, a coin without a candle, a config change
        to apply."""
        book = self.store.book
        cfg = loop.applied
        return (
            loop.portfolio is None
            or book.started is None
            or bool(book.stopped)
            or bool(book.entries)
            or book.engine.phase != "idle"
            or book.engine.skipping is not None
            or bool(self.desk.orders)
            or bool(self.price_gap)
            or cfg.stop_loss is not None
            or cfg.take_profit is not None
            or cfg is not self.ctx.cfg
        )

    def _quiet_until(self, loop: Loop) -> float:
        """The next candle on which this loop can have anything to decide (0: the next one).
        Only the trigger and the auto-invest schedule can act, and only when nothing is
        pending."""
        if self._pending(loop):
            return 0.0
        portfolio, started = loop.portfolio, self.store.book.started
        assert portfolio is not None and started is not None  # nothing pending
        if self.fast_forward is None:
            self.fast_forward = FastForward(self.reader.opens)
        until = self.fast_forward.until(
            loop.applied, loop.now, started, portfolio.quantities, portfolio.cash
        )
        deposit = self.deposits.next_due()
        return until if deposit is None else min(until, deposit)
