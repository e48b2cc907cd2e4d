"""The public market-data endpoints (no API key): ``exchangeInfo``, ``klines``, the tickers,
``depth`` and ``avgPrice``, each answered by :class:`~binance_standin.market.Market` under the
exchange's one lock (a price override or an order may change the market meanwhile)."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

from binance_standin.candles import Replay
from binance_standin.market import Market
from binance_standin.matching import Book


class PublicData:
    """Binance's public ``/api/v3`` market data of ``market``, each call under ``lock``."""

    def __init__(self, lock: threading.RLock, market: Market, replay: Replay) -> None:
        self._lock = lock
        self.market, self.replay = market, replay

    def candle_price(self, symbol: str, now: int | None = None) -> float:
        """The price the candles give (no override), unrounded."""
        with self._lock:
            return self.replay.candle_price(symbol, now)

    def price(self, symbol: str) -> Decimal:
        """Current price: fixed override, else candle price x multiplier; on the tick grid."""
        with self._lock:
            return self.market.price(symbol)

    def book(self, symbol: str) -> Book:
        """(bids best first, asks best first), ``levels`` each, as (price, quantity)."""
        with self._lock:
            return self.market.book(symbol)

    def exchange_info(
        self, symbol: str | None = None, symbols: list[str] | None = None
    ) -> dict[str, Any]:
        with self._lock:
            return self.market.exchange_info(symbol, symbols)

    def klines(
        self,
        symbol: str,
        interval: str,
        start: int | None = None,
        end: int | None = None,
        limit: int = 500,
    ) -> list[list[Any]]:
        """Binance klines in wall-clock time, the last one partial (see the package doc)."""
        with self._lock:
            return self.market.klines(symbol, interval, start, end, limit)

    def ticker_24hr(
        self, symbol: str | None = None, symbols: list[str] | None = None
    ) -> dict[str, Any] | list[dict[str, Any]]:
        with self._lock:
            return self.market.ticker_24hr(symbol, symbols)

    def ticker_price(
        self, symbol: str | None = None, symbols: list[str] | None = None
    ) -> dict[str, Any] | list[dict[str, Any]]:
        with self._lock:
            return self.market.ticker_price(symbol, symbols)

    def book_ticker(
        self, symbol: str | None = None, symbols: list[str] | None = None
    ) -> dict[str, Any] | list[dict[str, Any]]:
        with self._lock:
            return self.market.book_ticker(symbol, symbols)

    def depth(self, symbol: str, limit: int = 100) -> dict[str, Any]:
        with self._lock:
            return self.market.depth(symbol, limit)

    def avg_price(self, symbol: str) -> dict[str, Any]:
        with self._lock:
            return self.market.avg_price(symbol)
