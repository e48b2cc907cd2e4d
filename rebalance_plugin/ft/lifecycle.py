"""The portfolio's life: waiting for ``trigger_price``, the first buys, ``stop_loss`` /
``take_profit``, and Freqtrade's own commands (``/stopentry`` stops it and applies ``on_stop``,
``/start`` resumes it, a user ``/forceexit`` stops it)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from freqtrade.enums import State as BotState

from ..core import messages
from ..core.book import Book
from ..core.config import RebalanceConfig
from ..core.guards import stop_reason, trigger_reached
from ..core.portfolio import Portfolio
from . import privates
from .context import Context
from .notify import Notifier
from .orders import OrderDesk
from .reader import PortfolioReader
from .store import StateStore


class Lifecycle:
    """Owns whether the bot was seen PAUSED while the portfolio was stopped (so that a later
    RUNNING state means ``/start``, not a restart)."""

    def __init__(
        self,
        ctx: Context,
        store: StateStore,
        reader: PortfolioReader,
        notifier: Notifier,
        desk: OrderDesk,
    ) -> None:
        self.ctx = ctx
        self.store = store
        self.reader = reader
        self.notifier = notifier
        self.desk = desk
        self.seen_paused = False
        # A backtest whose coins do not all have candles yet: the first buys wait (said once).
        self.missing_data: tuple[str, ...] = ()

    # ---- entries -------------------------------------------------------------------------------
    def entry_allowed(self, pair: str) -> bool:
        """A new trade is opened only for a first buy (after trigger_price) or a new coin."""
        book = self.store.book
        coin = self.ctx.cfg.coin_of(pair)
        if book.stopped:
            return False
        if book.started is None:
            return book.triggered and coin in dict(book.coins) and not self.missing_data
        return coin in book.entries

    def entry_stake(self, pair: str, fee: float, rate: float) -> float:
        """A new trade's stake: a new coin's planned buy (its quantity at ``rate``, the rate
        Freqtrade buys at), else weight x investment / (1 + fee) (less than the investment
        after a restart when the portfolio's sales returned less)."""
        coin = self.ctx.cfg.coin_of(pair)
        book = self.store.book
        if coin in book.entries:
            stake = self.desk.entry_stake(coin, rate)
            return book.entries[coin] if stake is None else stake
        weight = dict(book.coins).get(coin, 0.0) / 100.0
        return weight * min(book.investment, book.funded) / (1.0 + fee)

    def first_buys_filled(self, by_coin: dict[str, Any]) -> None:
        """A new coin's first buy has filled: it is no longer an entry to make."""
        entries = self.store.book.entries
        if not entries:
            return
        done = [
            c
            for c in entries
            if c in by_coin and by_coin[c].amount > 0 and not by_coin[c].has_open_orders
        ]
        if done:
            self.store.update(entries={c: v for c, v in entries.items() if c not in done})

    # ---- before the portfolio is complete ------------------------------------------------------
    def starting(self, by_coin: dict[str, Any], now: float, busy: bool) -> None:
        """Before the portfolio is complete: wait for trigger_price, then the first buys."""
        cfg = self.ctx.cfg
        book = self.store.book
        if not book.triggered and cfg.trigger_price is not None:
            level = cfg.trigger_price
            price = self.reader.price(cfg.pair(level.coin or cfg.coin_names[0]), int(now))
            if not price:
                return
            if book.trigger_ref is None:
                self.store.update(trigger_ref=price)
                self.notifier.say(messages.waiting_for_trigger(level, cfg.stake_currency, price))
            elif trigger_reached(level, book.trigger_ref, price):
                self.store.update(triggered=True)
                self.notifier.say(messages.trigger_reached(level, price))
            self.store.save()
            return
        coins = [c for c, _ in book.coins]
        if self.ctx.backtest and not self._every_coin_has_candles(coins, now):
            return
        if busy or any(c not in by_coin or by_coin[c].amount <= 0 for c in coins):
            return
        first = min(by_coin[c].open_date_utc for c in coins).timestamp()
        closed = self.reader.closed_profit()
        self.store.update(started=first, closed_base=closed, entries={})
        if not self.ctx.backtest:
            spent = math.fsum(
                by_coin[c].stake_amount * (1.0 + (by_coin[c].fee_open or 0.0)) for c in coins
            )
            # The starting allocation, for buy-and-hold in FreqUI's chart and custom data.
            self.store.update(
                start_time=max(by_coin[c].open_date_utc for c in coins).timestamp(),
                start_holdings={c: float(by_coin[c].amount) for c in coins},
                start_cash=book.funded - spent,
            )
            self.notifier.say(messages.bought(book, spent, cfg.stake_currency))
        self.store.save()

    def _every_coin_has_candles(self, coins: list[str], now: float) -> bool:
        """Backtest: the first buys wait until every coin has a candle (a coin listed later
        than the backtest's start, or missing from the data), and say so once."""
        cfg = self.ctx.cfg
        missing = tuple(c for c in coins if self.reader.price(cfg.pair(c), int(now)) is None)
        if missing != self.missing_data:
            if missing:
                self.notifier.say(
                    messages.waiting_for_candles(missing, self.reader.first_candles())
                )
            elif self.missing_data:
                self.notifier.say(messages.candles_complete(now))
            self.missing_data = missing
        return not missing

    # ---- stop and resume ---------------------------------------------------------------------
    def check_levels(self, applied: RebalanceConfig, portfolio: Portfolio, now: float) -> bool:
        """stop_loss / take_profit: True when the portfolio stopped now."""
        reason = stop_reason(applied, portfolio.total, portfolio.prices)
        if reason:
            self.stop(reason, now, portfolio.quantities)
        return bool(reason)

    def stop(self, reason: str, now: float, held: Mapping[str, float] | None = None) -> None:
        """End the portfolio: on_stop ``sell_all`` sells every coin at market, ``keep`` leaves
        them. The bot is paused so it opens nothing new; ``/start`` resumes. ``held``: the
        coins held now (read from the open trades when not given)."""
        cfg = self.ctx.cfg
        book = self.store.book
        if held is None:
            held = self.reader.holdings(self.reader.open_trades())
        self.store.update(
            stopped=reason,
            stop_time=now,
            entries={},
            inflight={},
            engine=replace(book.engine, phase="idle", pending_buys={}),
        )
        self.notifier.say(messages.stopped(reason, cfg.on_stop, held))
        self.store.save()
        bot = None if self.ctx.backtest else privates.freqtrade_bot(self.ctx.dp)
        if bot is not None and bot.state == BotState.RUNNING:
            bot.state = BotState.PAUSED
        self.seen_paused = bot is not None

    def on_exit(self, pair: str, exit_reason: str, now: float) -> None:
        """A user ``/forceexit`` (or FreqUI's "Force exit") stops the portfolio."""
        if exit_reason == "force_exit" and not self.store.book.stopped:
            self.stop(messages.force_exited(pair), now)

    def stopped_loop(self, by_coin: dict[str, Any]) -> None:
        """While stopped with on_stop = sell_all: exit every remaining coin at market."""
        if self.ctx.cfg.on_stop == "sell_all":
            self.desk.sell_everything(by_coin)

    def commands(self, now: float, trades: list[Any]) -> None:
        """Freqtrade's own commands, read from the bot's state (dry/live). /stopentry (PAUSED)
        stops the portfolio; /start after a stop resumes it."""
        bot = None if self.ctx.backtest else privates.freqtrade_bot(self.ctx.dp)
        if bot is None:
            return
        state = bot.state
        if not self.store.book.stopped:
            if state == BotState.PAUSED:
                held = self.reader.holdings(trades)
                self.stop(messages.STOPPED_BY_STOPENTRY, now, held)
        elif state == BotState.PAUSED:
            self.seen_paused = True
        elif state == BotState.RUNNING:
            if self.seen_paused:
                self.resume(now, trades)
            else:  # after a restart or /reload_config: the portfolio stays stopped
                bot.state = BotState.PAUSED
                self.seen_paused = True

    def resume(self, now: float, trades: list[Any]) -> None:
        cfg = self.ctx.cfg
        book = self.store.book
        if trades and book.started is not None:
            self.store.update(stopped=None, stop_time=None)
            self.notifier.say(messages.RESUMED)
        else:
            cash = self.reader.cash([])  # what the portfolio's sales returned
            closed = self.reader.closed_profit()
            funded = min(cfg.investment, cash)
            # Money the restart leaves out of the portfolio (a profit beyond the investment):
            # a move, for the chart's cash before it; what was said stays shown.
            move = (now, funded - self.reader.own_cash([]))
            self.store.book = replace(
                Book.fresh(cfg, closed_base=closed),
                funded=funded,
                moves=(*book.moves, move),
                said=book.said,
            )
            # Freqtrade locks a pair for the rest of the candle after its trade closed; the
            # user asked to buy again now.
            self.ctx.strategy.unlock_reason("Auto lock")
            self.notifier.say(
                messages.restarted(cfg.coins, self.store.book.funded, cfg.stake_currency)
            )
        self.seen_paused = False
        self.store.save()
