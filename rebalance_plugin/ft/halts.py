"""Coins that cannot trade now (dry/live): a market the exchange closed (Binance's ``BREAK`` or
``HALT``: ccxt marks it inactive), a pair no longer listed (a delisting), or an order refused
because the market is closed (``MarketClosed``, ``BadSymbol``) before Freqtrade's hourly
reload of the markets shows it.

While a coin is halted, no order is placed for it, its holdings are counted at its last price
and its weight is held as it is; the other coins are rebalanced among themselves
(``core.halts``). The markets are read again every ``RECHECK`` seconds meanwhile, so that the
coin rejoins by itself within a minute of its market's return. Each halt and each return is
said once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from ..core import messages
from . import privates
from .context import Context
from .notify import Notifier
from .store import StateStore

#: Seconds between two readings of the markets while a coin is halted or a refusal is unsettled.
RECHECK = 60.0
#: ccxt's exceptions (the cause of Freqtrade's own) for an order on a closed or unknown market.
CLOSED = ("MarketClosed", "BadSymbol")
CLOSED_WORDS = ("market is closed", "invalid symbol")


def closed_market(err: BaseException) -> bool:
    """``err`` (Freqtrade's exception for an order, or ccxt's) says the market is closed or
    the symbol unknown."""
    cause = err.__cause__ or err
    text = str(err).lower()
    return type(cause).__name__ in CLOSED or any(w in text for w in CLOSED_WORDS)


class Halts:
    """Owns the halted coins (why, since when), the refusals not yet settled by a reading of the
    markets, and every coin's last price."""

    def __init__(
        self,
        ctx: Context,
        store: StateStore,
        notifier: Notifier,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ctx = ctx
        self.store = store
        self.notifier = notifier
        self._clock = clock
        self.halted: dict[str, tuple[str, float]] = {}  # coin -> (why, since: POSIX seconds)
        self.refused: dict[str, float] = {}  # coin -> clock time of a closed-market refusal
        self.last_price: dict[str, float] = {}
        self._read_at: float | None = None  # clock time the markets were last read here

    @property
    def exchange(self) -> str:
        return str(self.ctx.config.get("exchange", {}).get("name") or "the exchange")

    def refusals(self, found: Iterable[tuple[str, BaseException]]) -> None:
        """Orders the exchange refused since the last loop: a closed market's makes its coin
        halted now and the markets are read again at once."""
        for pair, err in found:
            if closed_market(err):
                self.refused[self.ctx.cfg.coin_of(pair)] = self._clock()
                self._read_at = None

    def check(self, coins: Iterable[str], held: dict[str, float], now: float) -> tuple[str, ...]:
        """The coins of ``coins`` that cannot trade now; each change said once."""
        if self.ctx.backtest:
            return ()
        self._read_markets()
        for coin in coins:
            why = self._why(coin)
            if why and coin not in self.halted:
                self.halted[coin] = (why, now)
                self.notifier.say(
                    messages.halted(
                        coin,
                        why,
                        held.get(coin, 0.0),
                        self.last_price.get(coin),
                        self.ctx.stake,
                        self.ctx.cfg.coin_names,
                    )
                )
            elif not why and coin in self.halted:
                since = self.halted.pop(coin)[1]
                self.notifier.say(messages.halt_over(coin, (now - since) / 60.0))
        return tuple(c for c in coins if c in self.halted)

    def seen(self, prices: dict[str, float]) -> None:
        """This loop's prices: a coin that halts later is counted at its last one."""
        self.last_price.update(prices)

    def prices(self, halted: Iterable[str]) -> dict[str, float]:
        """The last price seen of each halted coin that has one."""
        return {c: self.last_price[c] for c in halted if c in self.last_price}

    def _read_markets(self) -> None:
        """While a coin is halted or a refusal unsettled: the markets again every RECHECK s."""
        if not self.halted and not self.refused:
            return
        now = self._clock()
        if self._read_at is not None and now - self._read_at < RECHECK:
            return
        if privates.reload_markets(self.ctx.dp):
            self._read_at = now
            # A refusal holds its coin for RECHECK s even where the markets still say it
            # trades (they lag behind): then what the markets say decides.
            self.refused = {c: t for c, t in self.refused.items() if now - t < RECHECK}

    def _why(self, coin: str) -> str | None:
        pair = self.ctx.cfg.pair(coin)
        dp = self.ctx.dp
        market: dict[str, Any] | None = dp.market(pair) if dp else None
        if market is None:
            return f"{pair} is no longer listed on {self.exchange}"
        if not market.get("active", True):
            status = (market.get("info") or {}).get("status")
            state = f" (status {status})" if status else ""
            return f"{pair}'s market is closed on {self.exchange}{state}"
        if coin in self.refused:
            return f"{self.exchange} refused its order: the market is closed"
        return None
