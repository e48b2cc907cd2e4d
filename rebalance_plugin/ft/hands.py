"""Hands on the account (live): the user sells or withdraws part of a coin by hand, or trades
it on the same account. Freqtrade's trade still says what the bot bought; the account says what
is there.

Once a minute, with no order of the portfolio in flight, each coin's total in the account (free
and in orders) is compared with the portfolio's holding (Freqtrade's trade, plus what was
adopted before). Where the account holds less, the bot counts and sells only what the account
holds from then on, and says so once with both amounts when the next comparison agrees (an
order the exchange executed but whose answer was lost is booked meanwhile, not called hands).
Its plans take the smaller amount, so no sell exceeds the account. At the next start (a
``/reload_config`` or a restart) the account's amount is adopted as the holding
(``Book.adopted``: the difference to Freqtrade's trade, kept in the portfolio's record).

The account holding *more* than the book is left alone and not said: several bots may share a
coin on one account, and each holds only its own (another bot's coins, or the user's, are never
the portfolio's).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from ..core import messages
from .context import Context
from .markets import Markets
from .notify import Notifier
from .store import StateStore

#: Seconds between two comparisons of the account with the book.
CHECK_EVERY = 60.0
#: A difference below this share of the holding (or one amount step) is not hands: Freqtrade
#: sometimes books a buy before the fee the exchange took in the coin (0.1% more than the
#: account), and rounds amounts to the step.
TOLERANCE = 5e-3


class Hands:
    """Owns the account's amounts of the coins it holds less of than the book."""

    def __init__(
        self,
        ctx: Context,
        store: StateStore,
        markets: Markets,
        notifier: Notifier,
        refresh: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ctx = ctx
        # reads the account from the exchange now (the bot's own reads reuse the last one
        # for a minute: balances.py), else Freqtrade's wallet update
        self._refresh = refresh
        self.store = store
        self.markets = markets
        self.notifier = notifier
        self._clock = clock
        self._checked_at: float | None = None
        # coin -> what the account lacks of the book's holding, at the last comparison
        self.shortfall: dict[str, float] = {}

    @property
    def live(self) -> bool:
        return not self.ctx.backtest and not self.ctx.config.get("dry_run", True)

    def held(self, coin: str, trade: Any) -> float:
        """The portfolio's holding of ``coin`` by its book: Freqtrade's trade plus adopted."""
        return float(trade.amount) + self.store.book.adopted.get(coin, 0.0)

    def _short(self, coin: str, held: float, account: float) -> bool:
        rules = self.markets.exchange_rules.get(coin)
        step = rules.qty_step if rules else 0.0
        return account < held - max(step, TOLERANCE * held)

    def _totals(self) -> Mapping[str, float] | None:
        wallets = self.ctx.wallets
        if not wallets:
            return None
        try:
            self._refresh() if self._refresh else wallets.update()
        except Exception:  # the exchange's trouble: compared next time
            return None
        return {c: float(wallets.get_total(c)) for c in self.ctx.cfg.coin_names}

    def check(self, by_coin: Mapping[str, Any], busy: bool) -> None:
        """Compare the account with the book (every CHECK_EVERY s, nothing in flight)."""
        if not self.live or busy:
            return
        now = self._clock()
        if self._checked_at is not None and now - self._checked_at < CHECK_EVERY:
            return
        self._checked_at = now
        wallets = self.ctx.wallets
        if not wallets or self._totals() is None:
            return
        short: dict[str, float] = {}
        book = self.store.book
        for coin, trade in by_coin.items():
            held, account = self.held(coin, trade), float(wallets.get_total(coin))
            if not self._short(coin, held, account):
                continue
            short[coin] = held - account
            said = book.short.get(coin)
            # Said once two comparisons a minute apart agree (an order the exchange executed
            # but whose answer was lost is booked meanwhile): new, or more gone since said.
            confirmed = coin in self.shortfall
            if confirmed and (said is None or self._short(coin, short[coin], said)):
                self.notifier.say(messages.hands_short(coin, account, held))
                book = self.store.update(short={**book.short, coin: short[coin]})
        self.shortfall = short
        if set(book.short) - set(short):  # the account agrees again: a new episode is said
            self.store.update(short={c: q for c, q in book.short.items() if c in short})

    def holdings(self, by_coin: Mapping[str, Any]) -> dict[str, float]:
        """The quantities to plan with where they are not Freqtrade's trade amounts: adopted
        differences, less what the account lacks (the bot's own fills since the comparison
        move the book and the account alike)."""
        out: dict[str, float] = {}
        for coin, trade in by_coin.items():
            qty = self.held(coin, trade) - self.shortfall.get(coin, 0.0)
            if qty != float(trade.amount):
                out[coin] = max(0.0, qty)
        return out

    def adopt(self, by_coin: Mapping[str, Any]) -> None:
        """At start-up: each coin said to be short takes the account's amount as its holding,
        if the account still holds less than the book."""
        book = self.store.book
        if not self.live or not book.short:
            return
        wallets = self.ctx.wallets
        if not wallets or self._totals() is None:
            return
        adopted = dict(book.adopted)
        changed: dict[str, tuple[float, float]] = {}
        for coin in book.short:
            trade = by_coin.get(coin)
            if trade is None:
                continue
            held, account = self.held(coin, trade), float(wallets.get_total(coin))
            if self._short(coin, held, account):
                adopted[coin] = account - float(trade.amount)
                changed[coin] = (held, account)
        self.store.update(adopted=adopted, short={})
        if changed:
            self.notifier.say(messages.hands_adopted(changed))
