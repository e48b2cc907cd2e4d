"""Live prices, one request per loop (dry/live): the tickers of every pair the portfolio
holds or targets, fetched together at the start of the loop.

Freqtrade asks the exchange for a price of every open trade twice per loop, each time with a
request of its own (``handle_trade``'s exit rate and ``process_open_trade_positions``' entry
and exit rates: an order book of weight 5 each on Binance, or a ticker of weight 2 with
``use_order_book: false``), and the rebalancer used to add a ticker per coin: for ten coins
about 120 weight per 5-second loop. Binance's 24-hour ticker for up to 20 symbols in one request
costs 2 and carries the last price and the best bid and ask with their quantities: exactly what
an order book of one level gives (``order_book_top`` 1, the shipped setting). So the plugin asks
once per loop, decides with those prices, and Freqtrade's own rate look-ups of the same loop are
answered from them (``privates.serve_quotes``); a look-up the snapshot cannot answer (deeper
order book, a pair it does not hold, a snapshot older than ``max_age``) goes to the exchange as
before.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .guarded import Guarded

logger = logging.getLogger("rebalance_plugin.ft")


@dataclass(frozen=True)
class Quote:
    """One pair's ticker at ``at`` (monotonic seconds): last price, best bid and ask."""

    last: float | None
    bid: float | None
    ask: float | None
    bid_qty: float | None
    ask_qty: float | None
    at: float
    ticker: dict[str, Any]

    @property
    def price(self) -> float | None:
        """The price a decision uses: the last trade, else the middle of bid and ask."""
        if self.last:
            return self.last
        if self.bid and self.ask:
            return (self.bid + self.ask) / 2.0
        return None


def _num(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) and out > 0 else None


class Quotes(Guarded):
    """The loop's tickers, by pair. Read from the bot's thread and the API server's: the
    snapshot is replaced whole, never changed in place.

    :param fetch: ``fetch(pairs) -> {pair: ccxt ticker}``, one request for all pairs.
    :param max_age: seconds a snapshot answers Freqtrade's rate look-ups (a loop and a margin).
    """

    def __init__(
        self,
        fetch: Callable[[list[str]], dict[str, Any]],
        max_age: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self.max_age = max_age
        self._clock = clock
        self._quotes: dict[str, Quote] = {}
        self._new_lock()
        self.failed: str | None = None  # the last fetch's error, said once per episode
        self.failure: str | None = None  # and its words
        self._pairs: list[str] = []  # the pairs of the last refresh (renewed together)
        self._tried_at: float | None = None  # when a fetch was last tried

    def refresh(self, pairs: Iterable[str]) -> bool:
        """Fetch the tickers of ``pairs`` (one request); False when it failed (the last
        snapshot then ages out and Freqtrade asks the exchange itself)."""
        wanted = sorted(set(pairs))
        if not wanted:
            return True
        self._pairs = wanted
        self._tried_at = self._clock()
        try:
            tickers = self._fetch(wanted)
        except Exception as err:  # the exchange's trouble: decide nothing this loop
            if self.failed != type(err).__name__:
                logger.warning(f"Could not fetch the tickers of {', '.join(wanted)}: {err}")
            self.failed = type(err).__name__
            self.failure = f"{self.failed}: {str(err)[:160]}"
            return False
        self.failed = self.failure = None
        now = self._clock()
        quotes = dict(self._quotes)
        for pair in wanted:
            t = tickers.get(pair)
            if not t:
                continue
            quotes[pair] = Quote(
                _num(t.get("last")) or _num(t.get("close")),
                _num(t.get("bid")),
                _num(t.get("ask")),
                _num(t.get("bidVolume")),
                _num(t.get("askVolume")),
                now,
                dict(t),
            )
        with self._lock:
            self._quotes = quotes
        return True

    def fresh(self, pair: str) -> Quote | None:
        """The pair's quote if it is at most ``max_age`` seconds old."""
        quote = self._quotes.get(pair)
        if quote is None or self._clock() - quote.at > self.max_age:
            return None
        return quote

    def renewed(self, pair: str) -> Quote | None:
        """For Freqtrade's look-ups: the pair's quote, fetched again with the other pairs of
        the last refresh (one request, 2 weight) when the snapshot has aged out. A loop that
        outlasts ``max_age`` (ten orders on a busy machine) would otherwise send an order book
        request (5 weight) per pair. At most one try per second; None for a pair the
        portfolio does not quote."""
        quote = self.fresh(pair)
        if quote is not None or pair not in self._pairs:
            return quote
        if self._tried_at is not None and self._clock() - self._tried_at < 1.0:
            return None
        self.refresh(self._pairs)
        return self.fresh(pair)

    def keep(self, listed: Callable[[str], bool]) -> None:
        """Forget the quotes of the pairs ``listed`` says are gone (a delisting read from the
        markets): Freqtrade's rate look-ups of such a pair then fail as Freqtrade's own do,
        before it sizes an order against a market it no longer has."""
        gone = [p for p in self._quotes if not listed(p)]
        if gone:
            with self._lock:
                self._quotes = {p: q for p, q in self._quotes.items() if p not in gone}
            self._pairs = [p for p in self._pairs if p not in gone]

    def stamps(self) -> list[float | None]:
        """The exchange's timestamps (ms) of the last refresh's tickers (None where it gives
        none): how fresh its data is."""
        quotes = self._quotes
        return [_num(quotes[p].ticker.get("timestamp")) for p in self._pairs if p in quotes]

    def price(self, pair: str) -> float | None:
        quote = self.fresh(pair)
        return quote.price if quote else None

    def order_book(self, pair: str, limit: int) -> dict[str, Any] | None:
        """Freqtrade's ``fetch_l2_order_book`` answer for ``order_book_top`` 1: the best bid
        and ask (the snapshot holds one level; deeper books go to the exchange)."""
        if limit > 1:
            return None
        quote = self.renewed(pair)
        if quote is None or limit > 1 or not quote.bid or not quote.ask:
            return None
        return {
            "symbol": pair,
            "bids": [[quote.bid, quote.bid_qty or 0.0]],
            "asks": [[quote.ask, quote.ask_qty or 0.0]],
            "timestamp": quote.ticker.get("timestamp"),
            "datetime": quote.ticker.get("datetime"),
            "nonce": None,
        }

    def ticker(self, pair: str) -> dict[str, Any] | None:
        """Freqtrade's ``fetch_ticker`` answer, from the snapshot."""
        quote = self.renewed(pair)
        return dict(quote.ticker) if quote else None
