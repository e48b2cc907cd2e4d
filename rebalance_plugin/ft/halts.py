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
        self._unknown = False  # a request was refused for an unknown symbol: read them again

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

    def symbol_unknown(self) -> None:
        """The exchange answered a request naming the portfolio's pairs with "Invalid symbol"
        (a pair delisted since Freqtrade last read the markets): read them again now."""
        self._unknown = True
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

    def prices(self, halted: Iterable[str], by_coin: dict[str, Any]) -> dict[str, float]:
        """The last price of each halted coin: the last one the bot saw, else the close of
        its last candle, else the price its trade was bought at (a coin halted before the
        bot saw a price of it: a restart, or a halt right after the first buys)."""
        out: dict[str, float] = {}
        for coin in halted:
            price = self.last_price.get(coin) or self._last_close(coin)
            trade = by_coin.get(coin)
            if not price and trade is not None:
                price = float(trade.open_rate or 0.0)
            if price:
                out[coin] = price
        return out

    def _last_close(self, coin: str) -> float | None:
        dp = self.ctx.dp
        try:
            frame = dp.get_pair_dataframe(self.ctx.cfg.pair(coin))
            return float(frame["close"].iloc[-1]) if len(frame) else None
        except Exception:  # no candles kept for it
            return None

    def _read_markets(self) -> None:
        """While a coin is halted or a refusal unsettled: the markets again every RECHECK s."""
        if not self.halted and not self.refused and not self._unknown:
            return
        now = self._clock()
        if self._read_at is not None and now - self._read_at < RECHECK:
            return
        if privates.reload_markets(self.ctx.dp):
            self._read_at, self._unknown = now, False
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
