"""The served symbols' prices and the public market-data endpoints.

Price of a symbol: a fixed override, else the candle price (:class:`~.candles.Replay`) times
an optional multiplier, rounded to the tick size; the synthetic order book
(:func:`~.matching.synthetic_book`) is built around it on every call.

The price path: every change of a symbol's override is kept (:class:`Setting`, from the moment
it was made), so the candles carry the prices the stand-in served, not only the current candle:
a candle closed while a price was held or multiplied shows that price, as Binance's candles
show the trades its tickers quoted. Without it a chart drawn from the closed candles (FreqUI's)
contradicts what a bot valued and traded at once the candle of a ``--move`` has closed.

A symbol's status (``/sim/symbol``): ``BREAK`` or ``HALT`` holds its price where it was (a
``halted`` :class:`Setting` in the path, so the candles of the halt are flat) until it trades
again; ``REMOVED`` also takes it out of ``exchangeInfo`` and the all-symbols answers, and every
request naming it gets Binance's unknown-symbol answer. Rules (``/sim/rules``) change its
exchangeInfo filters in place. A ``stale`` fault reads the market as of an earlier moment
(:meth:`Market.as_of_time`): the price path gives the prices served then.
"""

from __future__ import annotations

import bisect
import contextlib
import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from binance_standin.candles import Replay, Row
from binance_standin.common import DAY, ZERO, dec, floor_to, fmt, normalize_symbol, round_to
from binance_standin.errors import invalid_symbol, mandatory
from binance_standin.filters import SymbolRules, with_filters
from binance_standin.matching import Book, synthetic_book


@dataclass(frozen=True)
class Setting:
    """A symbol's price from ``since`` (wall ms) on: ``fixed``, else the candle price times
    ``factor`` (neither: the candles' own price)."""

    since: int
    fixed: Decimal | None = None
    factor: Decimal | None = None
    halted: bool = False  # the symbol did not trade: ``fixed`` is the price it was held at

    @property
    def plain(self) -> bool:
        """The candles' own price."""
        return self.fixed is None and (self.factor is None or self.factor == 1)


#: A stretch of the price path: (from, to) wall ms and the setting in force.
Piece = tuple[int, int, Setting]

#: Binance's symbol statuses the control API sets (``REMOVED``: delisted, gone from
#: exchangeInfo). Every one but ``TRADING`` refuses new orders and holds the price.
SYMBOL_STATUSES = ("TRADING", "BREAK", "HALT", "REMOVED")


class Market:
    """Prices, book and public endpoints of the ``rules``' symbols (call under the sim's lock).

    :param info: the exchangeInfo document's top level (rateLimits, exchangeFilters, ...).
    """

    def __init__(
        self,
        rules: dict[str, SymbolRules],
        replay: Replay,
        info: dict[str, Any],
        spread: Decimal,
        level_value: Decimal,
        levels: int,
    ) -> None:
        self.rules, self.replay, self.info = rules, replay, info
        self.spread, self.level_value, self.levels = spread, level_value, levels
        #: Per symbol, every change of its override, oldest first (before the first: plain).
        self.history: dict[str, list[Setting]] = {}
        self.overrides: dict[str, Decimal] = {}
        self.multipliers: dict[str, Decimal] = {}
        #: The symbols not trading: their status, and the price each is held at.
        self.status: dict[str, str] = {}
        self.frozen: dict[str, Decimal] = {}
        #: A ``stale`` fault's moment (wall ms): prices and times are read as of then.
        self.as_of: int | None = None
        #: The exchangeInfo entries as served at start-up, for the symbols whose rules changed.
        self.original: dict[str, dict[str, Any]] = {}
        self.reset()

    def reset(self) -> None:
        """No price overrides from now on (the candles keep the path served so far), every
        symbol trading under its start-up rules; the depth update id starts again."""
        self.reset_prices()
        for symbol in list(self.status):
            self.set_status(symbol, "TRADING")
        for symbol, raw in self.original.items():
            _replace_rules(self.rules[symbol], raw)
        self.original.clear()
        self.update_id = 1

    def _record(self, symbol: str) -> None:
        """Note ``symbol``'s setting now in its price path."""
        now = self.replay.now_ms()
        if symbol in self.frozen:
            setting = Setting(now, self.frozen[symbol], halted=True)
        else:
            setting = Setting(now, self.overrides.get(symbol), self.multipliers.get(symbol))
        path = self.history.setdefault(symbol, [])
        last = path[-1] if path else Setting(0)
        if replace(last, since=now) == setting:
            return
        if path and last.since == now:
            path.pop()
        path.append(setting)

    # ---------------------------------------------------------------- symbols
    def symbol_rules(self, symbol: str | None) -> SymbolRules:
        """The rules of a served symbol (Binance's errors for a missing or unknown one)."""
        if symbol is None or symbol == "":
            raise mandatory("symbol")
        rules = self.rules.get(symbol)
        if rules is None or self.status.get(symbol) == "REMOVED":
            raise invalid_symbol()
        return rules

    def trading(self, symbol: str) -> bool:
        """Whether ``symbol`` trades (not halted, not removed)."""
        return symbol not in self.status

    def set_status(self, symbol: str, status: str) -> str:
        """Set a symbol's status (:data:`SYMBOL_STATUSES`): any but ``TRADING`` holds its price
        where it is now, ``TRADING`` lets it follow its path again. Returns the symbol."""
        sym = self.control_symbol(symbol)
        if status not in SYMBOL_STATUSES:
            raise ValueError(f"status must be one of {SYMBOL_STATUSES}, not {status!r}")
        if status == "TRADING":
            self.status.pop(sym, None)
            self.frozen.pop(sym, None)
        else:
            self.frozen.setdefault(sym, self._price(sym))
            self.status[sym] = status
        self._record(sym)
        return sym

    def set_rules(self, symbol: str, changes: dict[str, Any]) -> dict[str, Any]:
        """New exchangeInfo filters of a symbol (``with_filters``); its entry as served now."""
        sym = self.control_symbol(symbol)
        rules = self.rules[sym]
        raw = with_filters(rules.raw, changes)
        self.original.setdefault(sym, copy.deepcopy(rules.raw))
        _replace_rules(rules, raw)
        return self._entry(sym)

    def _entry(self, symbol: str) -> dict[str, Any]:
        """The symbol's exchangeInfo entry, its status as it is now (a copy)."""
        raw = json.loads(json.dumps(self.rules[symbol].raw))
        raw["status"] = self.status.get(symbol, "TRADING")
        return raw

    def control_symbol(self, symbol: str) -> str:
        """A served symbol given as ``BTC/USDT`` or ``btcusdt`` (ValueError if unknown)."""
        sym = normalize_symbol(symbol)
        if sym not in self.rules:
            raise ValueError(f"unknown symbol {symbol!r}; served: {sorted(self.rules)}")
        return sym

    def wanted(self, symbol: str | None, symbols: list[str] | None) -> list[str]:
        """``symbol``, ``symbols`` or all served symbols."""
        if symbol:
            return [self.symbol_rules(symbol).symbol]
        if symbols is not None:
            return [self.symbol_rules(s).symbol for s in symbols]
        return self.listed()

    def listed(self) -> list[str]:
        """The symbols exchangeInfo lists (all but the removed), sorted."""
        return sorted(s for s in self.rules if self.status.get(s) != "REMOVED")

    # ---------------------------------------------------------------- prices and book
    def price(self, symbol: str) -> Decimal:
        """Current price: fixed override, else candle price x multiplier; on the tick grid.
        A symbol not trading: the price it is held at; under a ``stale`` fault: the price
        served at that moment."""
        self.symbol_rules(symbol)
        return self._price(symbol)

    def _price(self, symbol: str) -> Decimal:
        """:meth:`price` of a symbol known to be served (removed ones too)."""
        if self.as_of is not None:
            return self.price_at(symbol, self.as_of)
        if symbol in self.frozen:
            return self.frozen[symbol]
        rules = self.rules[symbol]
        if symbol in self.overrides:
            raw = self.overrides[symbol]
        else:
            raw = dec(self.replay.candle_price(symbol)) * self.multipliers.get(symbol, Decimal(1))
        return max(round_to(raw, rules.tick), rules.tick)

    def _on_grid(self, symbol: str, raw: Decimal) -> Decimal:
        """A price as the stand-in quotes it: on the tick grid, at least one tick."""
        tick = self.rules[symbol].tick
        return max(round_to(raw, tick), tick)

    def price_at(self, symbol: str, t: int) -> Decimal:
        """The price served at wall time ``t`` (the price path's setting then)."""
        setting = self.pieces(symbol, t, t + 1)[0][2]
        return self._on_grid(symbol, dec(self._value(symbol, setting, t)))

    @contextlib.contextmanager
    def as_of_time(self, t: int) -> Iterator[None]:
        """Market data as of clock time ``t`` (a ``stale`` fault): the replay's clock stopped
        at ``t``, prices from the price path at the replay's "now" then; call under the sim's
        lock."""
        clock = self.replay.clock
        self.replay.clock = lambda: t
        self.as_of = self.replay.now_ms()
        try:
            yield
        finally:
            self.as_of = None
            self.replay.clock = clock

    # ---------------------------------------------------------------- the price path
    def pieces(self, symbol: str, a: int, b: int) -> list[Piece]:
        """The settings in force from wall time ``a`` to ``b`` (``a < b``), in order."""
        path = self.history.get(symbol, [])
        k = bisect.bisect_right([s.since for s in path], a)
        setting = path[k - 1] if k else Setting(0)
        out: list[Piece] = []
        start = a
        for nxt in path[k:]:
            if nxt.since >= b:
                break
            out.append((start, nxt.since, setting))
            start, setting = nxt.since, nxt
        out.append((start, b, setting))
        return out

    def _value(self, symbol: str, setting: Setting, t: int, before: bool = False) -> float:
        """The price served at ``t`` (``before``: just before it) under ``setting``."""
        if setting.fixed is not None:
            return float(self._on_grid(symbol, setting.fixed))
        replay = self.replay
        raw = replay.candle_price_before(symbol, t) if before else replay.candle_price(symbol, t)
        if setting.plain:
            return raw
        return float(self._on_grid(symbol, dec(raw) * (setting.factor or Decimal(1))))

    def _range(self, symbol: str, piece: Piece) -> tuple[float, float]:
        """(high, low) of the prices served over one piece of the path."""
        a, b, setting = piece
        if setting.fixed is not None:
            value = self._value(symbol, setting, a)
            return value, value
        high, low = self.replay.path_range(symbol, a, b)
        if setting.plain:
            return high, low
        factor = setting.factor or Decimal(1)
        return (
            float(self._on_grid(symbol, dec(high) * factor)),
            float(self._on_grid(symbol, dec(low) * factor)),
        )

    def kline(self, symbol: str, row: Row, size: int, now: int) -> Row:
        """A kline as the price path made it: unchanged where the candles' own price was
        served throughout; else open, high, low and close of the prices served (the current
        candle's close: the price now)."""
        open_time, o, h, l, c, v = row  # noqa: E741 - OHLC naming
        end = max(min(open_time + size, now), open_time + 1)  # a candle opening now: its open
        pieces = self.pieces(symbol, open_time, end)
        if all(setting.plain for _, _, setting in pieces):
            return row
        if all(setting.halted for _, _, setting in pieces):
            v = 0.0  # no trade while the symbol was halted
        first, last = pieces[0][2], pieces[-1][2]
        if not first.plain:
            o = self._value(symbol, first, open_time)
        if now < open_time + size:  # the current candle
            c = float(self.price(symbol))
        elif not last.plain:
            c = self._value(symbol, last, end, before=True)
        ranges = [self._range(symbol, piece) for piece in pieces]
        high = max([o, c] + [hi for hi, _ in ranges])
        low = min([o, c] + [lo for _, lo in ranges])
        return open_time, o, high, low, c, v

    def book(self, symbol: str) -> Book:
        """(bids best first, asks best first), ``levels`` each, as (price, quantity)."""
        rules = self.symbol_rules(symbol)
        return synthetic_book(rules, self.price(symbol), self.spread, self.level_value, self.levels)

    def set_price(self, symbol: str, price: float) -> None:
        """Fix a symbol's price (clears its multiplier)."""
        sym = self.control_symbol(symbol)
        if float(price) <= 0:
            raise ValueError("price must be > 0")
        self.overrides[sym] = dec(price)
        self.multipliers.pop(sym, None)
        self._record(sym)

    def set_multipliers(self, multipliers: dict[str, float]) -> None:
        """Candle price x factor per symbol (clears fixed prices)."""
        for symbol, factor in multipliers.items():
            sym = self.control_symbol(symbol)
            if float(factor) <= 0:
                raise ValueError("multiplier must be > 0")
            self.multipliers[sym] = dec(factor)
            self.overrides.pop(sym, None)
            self._record(sym)

    def move(self, symbol: str, factor: Decimal) -> None:
        """The price times ``factor``, kept as it is set (fixed price or multiplier)."""
        if symbol in self.overrides:
            self.overrides[symbol] *= factor
        else:
            self.multipliers[symbol] = self.multipliers.get(symbol, Decimal(1)) * factor
        self._record(symbol)

    def clear_prices(self, symbol: str | None = None) -> None:
        """Back to the candles' price (one symbol's, or every one's) from now on."""
        if symbol is None:
            self.reset_prices()
        else:
            sym = self.control_symbol(symbol)
            self.overrides.pop(sym, None)
            self.multipliers.pop(sym, None)
            self._record(sym)

    def reset_prices(self) -> None:
        """No override of any symbol from now on."""
        changed = set(self.overrides) | set(self.multipliers)
        self.overrides.clear()
        self.multipliers.clear()
        for symbol in changed:
            self._record(symbol)

    def prices(self) -> dict[str, dict[str, Any]]:
        """Per symbol: price, best bid/ask, candle price, override, multiplier."""
        out = {}
        for sym in sorted(self.rules):
            rules, price = self.rules[sym], self._price(sym)
            bids, asks = synthetic_book(rules, price, self.spread, self.level_value, self.levels)
            out[sym] = {
                "price": float(price),
                "status": self.status.get(sym, "TRADING"),
                "bid": float(bids[0][0]),
                "ask": float(asks[0][0]),
                "candle_price": self.replay.candle_price(sym),
                "override": (float(self.overrides[sym]) if sym in self.overrides else None),
                "multiplier": (float(self.multipliers[sym]) if sym in self.multipliers else None),
            }
        return out

    # ---------------------------------------------------------------- public endpoints
    def exchange_info(
        self, symbol: str | None = None, symbols: list[str] | None = None
    ) -> dict[str, Any]:
        wanted = [symbol] if symbol else symbols
        if wanted:
            for s in wanted:
                self.symbol_rules(s)
        return {
            "timezone": self.info.get("timezone", "UTC"),
            "serverTime": self.replay.wall_ms(),
            "rateLimits": self.info.get("rateLimits", []),
            "exchangeFilters": self.info.get("exchangeFilters", []),
            "symbols": [self._entry(s) for s in (wanted or self.listed())],
        }

    def klines(
        self,
        symbol: str,
        interval: str,
        start: int | None = None,
        end: int | None = None,
        limit: int = 500,
    ) -> list[list[Any]]:
        """Binance klines in wall-clock time, the last one partial (see the package doc)."""
        self.symbol_rules(symbol)
        return self.replay.klines(
            symbol, interval, start, end, limit, price=lambda: self.price(symbol), adjust=self.kline
        )

    def ticker_24hr(
        self, symbol: str | None = None, symbols: list[str] | None = None
    ) -> dict[str, Any] | list[dict[str, Any]]:
        out = [self._ticker(s) for s in self.wanted(symbol, symbols)]
        return out[0] if symbol else out

    def _ticker(self, symbol: str) -> dict[str, Any]:
        now = self.replay.now_ms()
        rules = self.rules[symbol]
        p = self.price(symbol)
        bids, asks = self.book(symbol)
        (bid, bid_qty), (ask, ask_qty) = bids[0], asks[0]
        highs, lows, volume, quote_volume = self.replay.day_window(symbol, now)
        pieces = self.pieces(symbol, now - DAY, now)
        opened = self._value(symbol, pieces[0][2], now - DAY)
        open_price = self._on_grid(symbol, dec(opened))
        if not all(setting.plain for _, _, setting in pieces):  # the prices served
            ranges = [self._range(symbol, piece) for piece in pieces]
            highs, lows = [hi for hi, _ in ranges], [lo for _, lo in ranges]
        highs += [float(p), float(open_price)]
        lows += [float(p), float(open_price)]
        change = p - open_price
        pct = (change / open_price * 100) if open_price else ZERO
        return {
            "symbol": symbol,
            "priceChange": fmt(change) if change >= 0 else "-" + fmt(-change),
            "priceChangePercent": f"{float(pct):.3f}",
            "weightedAvgPrice": f"{(quote_volume / volume if volume else float(p)):.8f}",
            "prevClosePrice": fmt(open_price),
            "lastPrice": fmt(p),
            "lastQty": fmt(floor_to(Decimal(100) / p, rules.step)),
            "bidPrice": fmt(bid),
            "bidQty": fmt(bid_qty),
            "askPrice": fmt(ask),
            "askQty": fmt(ask_qty),
            "openPrice": fmt(open_price),
            "highPrice": f"{max(highs):.8f}",
            "lowPrice": f"{min(lows):.8f}",
            "volume": f"{volume:.8f}",
            "quoteVolume": f"{quote_volume:.8f}",
            "openTime": self.replay.wall_ms() - DAY,  # served times: the wall clock's (--speed)
            "closeTime": self.replay.wall_ms(),
            "firstId": -1,
            "lastId": -1,
            "count": 0,
        }

    def ticker_price(
        self, symbol: str | None = None, symbols: list[str] | None = None
    ) -> dict[str, Any] | list[dict[str, Any]]:
        out = [{"symbol": s, "price": fmt(self.price(s))} for s in self.wanted(symbol, symbols)]
        return out[0] if symbol else out

    def book_ticker(
        self, symbol: str | None = None, symbols: list[str] | None = None
    ) -> dict[str, Any] | list[dict[str, Any]]:
        out = []
        for s in self.wanted(symbol, symbols):
            bids, asks = self.book(s)
            out.append(
                {
                    "symbol": s,
                    "bidPrice": fmt(bids[0][0]),
                    "bidQty": fmt(bids[0][1]),
                    "askPrice": fmt(asks[0][0]),
                    "askQty": fmt(asks[0][1]),
                }
            )
        return out[0] if symbol else out

    def depth(self, symbol: str, limit: int = 100) -> dict[str, Any]:
        bids, asks = self.book(self.symbol_rules(symbol).symbol)
        n = max(1, min(int(limit), 5000))
        self.update_id += 1
        return {
            "lastUpdateId": self.update_id,
            "bids": [[fmt(px), fmt(q)] for px, q in bids[:n]],
            "asks": [[fmt(px), fmt(q)] for px, q in asks[:n]],
        }

    def avg_price(self, symbol: str) -> dict[str, Any]:
        return {
            "mins": 5,
            "price": fmt(self.price(self.symbol_rules(symbol).symbol)),
            "closeTime": self.replay.wall_ms(),
        }


def _replace_rules(rules: SymbolRules, raw: dict[str, Any]) -> None:
    """``rules`` re-read from the exchangeInfo entry ``raw``, in place (orders and the Kraken
    dialect hold the same object)."""
    fresh = SymbolRules.from_exchange_info(raw)
    for name, value in vars(fresh).items():
        setattr(rules, name, value)
