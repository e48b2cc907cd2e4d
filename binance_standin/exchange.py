"""The exchange without HTTP: market data, order matching and one account behind one lock."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from binance_standin.account import Ledger
from binance_standin.candles import CandleStore, Replay
from binance_standin.common import (
    DEFAULT_BALANCES,
    INTERVALS,
    dec,
    fmt,
    iso,
    load_exchange_info,
    new_client_id,
    wall_ms,
)
from binance_standin.errors import BinanceError, insufficient
from binance_standin.faults import FaultBook
from binance_standin.filters import SymbolRules, validate_order
from binance_standin.market import Market
from binance_standin.matching import Book, plan_fills, settle_status, walk
from binance_standin.orders import Order, trade_state
from binance_standin.weights import DEFAULT_LIMIT, WeightLimiter

log = logging.getLogger(__name__)


class SimExchange:
    """Binance spot's market data, order matching and one account - no HTTP.

    Thread-safe: every public method holds one lock. Times are milliseconds; ``clock``
    (default: the wall clock) gives the sim's "now" for prices, candles and order times
    (signed-request timestamps are always checked against the real clock).

    :param datadir: Freqtrade feather candles ``{BASE}_{QUOTE}-{tf}.feather``.
    :param timeframe: candles whose open->close path gives the current price.
    :param start: historical date mapped to the start-up time (default: 30 days before the
        earliest last candle of the symbols).
    :param balances: starting balances, e.g. ``{"USDT": 10000, "BTC": 0.5}``.
    :param fee: commission rate, charged in the received asset.
    :param key, secret: the API key pair signed requests must use.
    :param spread: relative bid/ask spread around the price.
    :param depth: quote value per order-book level.
    :param levels: order-book levels per side.
    :param weight_limit: Binance's request weight per minute per IP (``weights.py``); requests
        beyond it are answered 429, then 418.
    """

    def __init__(
        self,
        datadir: str | Path,
        *,
        timeframe: str = "1h",
        start: str | int | None = None,
        balances: dict[str, Any] | None = None,
        fee: float = 0.001,
        key: str = "simkey",
        secret: str = "simsecret",
        spread: float = 0.0005,
        depth: float = 50000.0,
        levels: int = 10,
        clock: Callable[[], int] | None = None,
        exchange_info: dict[str, Any] | None = None,
        weight_limit: int = DEFAULT_LIMIT,
    ) -> None:
        if timeframe not in INTERVALS:
            raise ValueError(f"sim: unknown timeframe {timeframe!r}")
        if spread < 0 or depth <= 0 or levels < 1 or not 0 <= fee < 1:
            raise ValueError("sim: need spread >= 0, depth > 0, levels >= 1, 0 <= fee < 1")
        self._lock = threading.RLock()
        self.clock: Callable[[], int] = clock or wall_ms
        self.timeframe = timeframe
        self.fee, self.spread = dec(fee), dec(spread)
        self.level_value, self.levels = dec(depth), int(levels)
        self.key, self.secret = key, secret
        self.store = CandleStore(datadir)
        info = exchange_info if exchange_info is not None else load_exchange_info()
        self.rules: dict[str, SymbolRules] = {}
        for raw in info["symbols"]:
            if raw["symbol"] in self.store.assets:
                served = {**raw, "status": "TRADING"}
                self.rules[raw["symbol"]] = SymbolRules.from_exchange_info(served)
        if not self.rules:
            raise ValueError(
                f"sim: no tradable symbol - no candle file in {self.store.datadir} "
                "matches a symbol of the exchangeInfo file"
            )
        self.replay = Replay(self.store, self.rules, timeframe, start, self.clock)
        for sym in [s for s in self.rules if s not in self.replay.price_tf]:
            del self.rules[sym]  # empty candle file
        self.price_tf = self.replay.price_tf
        self.started_ms, self.start_ms = self.replay.started_ms, self.replay.start_ms
        self.offset_ms = self.replay.offset_ms
        self.market = Market(
            self.rules,
            self.replay,
            {k: v for k, v in info.items() if not k.startswith("_") and k != "symbols"},
            self.spread,
            self.level_value,
            self.levels,
        )
        self._initial = Ledger.parse_balances(
            balances if balances is not None else DEFAULT_BALANCES
        )
        # Per IP (one for every client here), on the wall clock like Binance; /sim/reset keeps it.
        self.limiter = WeightLimiter(weight_limit)
        self.reset()
        self.replay.warn_short_data()

    # ---------------------------------------------------------------- state and clock
    def reset(self, balances: dict[str, Any] | None = None) -> None:
        """Fresh account (starting or given balances); no orders, trades, faults, overrides."""
        with self._lock:
            if balances is not None:
                self._initial = Ledger.parse_balances(balances)
            self.ledger = Ledger(self._initial, self.fee, self.clock)
            self.faults = FaultBook(self.clock)
            self.market.reset()
            self.unexpected: list[dict[str, Any]] = []

    # the state as attributes, as before the split into components
    @property
    def orders(self) -> dict[int, Order]:
        return self.ledger.orders

    @property
    def trades(self) -> list[dict[str, Any]]:
        return self.ledger.trades

    @property
    def overrides(self) -> dict[str, Decimal]:
        return self.market.overrides

    @property
    def multipliers(self) -> dict[str, Decimal]:
        return self.market.multipliers

    @property
    def faults_pending(self) -> list[dict[str, Any]]:
        return self.faults.pending

    @property
    def faults_fired(self) -> list[dict[str, Any]]:
        return self.faults.fired

    def now_ms(self) -> int:
        return int(self.clock())

    def hist_ms(self, now: int | None = None) -> int:
        """Historical time shown at wall time ``now``."""
        return self.replay.hist_ms(now)

    def symbol_rules(self, symbol: str | None) -> SymbolRules:
        """The rules of a served symbol (Binance's errors for a missing or unknown one)."""
        return self.market.symbol_rules(symbol)

    # ---------------------------------------------------------------- market data
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

    # ---------------------------------------------------------------- account endpoints
    def account(self, omit_zero: bool = False) -> dict[str, Any]:
        with self._lock:
            assets = [a for rules in self.rules.values() for a in (rules.base, rules.quote)]
            return self.ledger.binance_account(assets, omit_zero)

    def trade_fees(self, symbol: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {
                    "symbol": s,
                    "makerCommission": format(self.fee.normalize(), "f"),
                    "takerCommission": format(self.fee.normalize(), "f"),
                }
                for s in self.market.wanted(symbol, None)
            ]

    def test_order(self, params: dict[str, str]) -> dict[str, Any]:
        """``POST /api/v3/order/test``: validation only."""
        with self._lock:
            rules = self.symbol_rules(params.get("symbol"))
            validate_order(params, rules, self.market.price(rules.symbol), self.orders.values())
            return {}

    def new_order(
        self, params: dict[str, str], *, method: str = "POST", path: str = "/api/v3/order"
    ) -> dict[str, Any]:
        """``POST /api/v3/order``: validate, check balance, match, answer."""
        with self._lock:
            self.tick()
            rules = self.symbol_rules(params.get("symbol"))
            new = validate_order(
                params, rules, self.market.price(rules.symbol), self.orders.values()
            )
            side, otype, tif = new.side, new.type, new.tif

            def book() -> Book:
                return self.market.book(rules.symbol)

            # balance (before any fault: Binance would refuse it anyway)
            full = (
                walk(book(), rules, side, qty=new.qty, quote=new.quote_qty, beyond=True)
                if otype == "MARKET"
                else None
            )
            if not self.ledger.can_afford(new, full or []):
                raise insufficient()
            if otype == "LIMIT_MAKER" and walk(book(), rules, side, qty=new.qty, limit=new.price):
                raise BinanceError(-2010, "Order would immediately match and take.")
            chased = (
                self.faults.claim(method, path, params, ("chase",)) if otype == "LIMIT" else None
            )
            if chased:  # the market moves away before the order meets the book
                before = self.market.price(rules.symbol)
                bps = Decimal(str(chased[0]["bps"])) / Decimal(10_000)
                self.market.move(rules.symbol, 1 + bps if side == "BUY" else 1 - bps)
                chased[1]["effect"] = (
                    f"{rules.symbol} moved {fmt(before)} -> {fmt(self.market.price(rules.symbol))} "
                    f"before the LIMIT {side} at {new.price} met the book"
                )
            taker = otype == "MARKET" or tif in ("IOC", "FOK")
            claimed = self.faults.claim(
                method,
                path,
                params,
                ("partial", "expire"),
                applies=lambda f: f["kind"] == "partial" or taker,
            )
            fault = claimed[0] if claimed else None
            plan, maker_fill = plan_fills(
                book, rules, side, otype, tif, new.qty, new.quote_qty, new.price, full, fault
            )
            order = self.ledger.open(new, fault["kind"] if fault else None)
            for px, q in plan:
                self.ledger.fill(order, rules, px, q, maker=False)
            if maker_fill > 0:
                assert new.price is not None
                self.ledger.fill(order, rules, new.price, maker_fill, maker=True)
            if otype == "MARKET" and new.quote_qty is not None:
                order.orig_qty = order.executed
            settle_status(order, fault)
            if not order.is_open:
                self.ledger.release(order)
            if claimed:
                claimed[1]["orderId"] = order.order_id
                claimed[1]["effect"] = (
                    f"{otype} {tif} {side} {rules.symbol} "
                    f"{fmt(order.orig_qty or new.quote_qty)}: "
                    f"filled {fmt(order.executed)}, status {order.status}"
                    + (" (rest held open)" if order.held else "")
                )
            log.info(
                "order %s %s %s %s qty=%s price=%s -> %s executed=%s",
                order.order_id,
                rules.symbol,
                side,
                otype + ("/" + tif if otype == "LIMIT" else ""),
                fmt(order.orig_qty),
                fmt(order.price),
                order.status,
                fmt(order.executed),
            )
            return order.binance_new(new.resp_type, order.time)

    def tick(self, include_held: bool = False) -> list[int]:
        """Fill resting orders the price has moved through; the ids filled."""
        with self._lock:
            filled = []
            for order in self.orders.values():
                if not order.is_open or (order.held and not include_held):
                    continue
                p = self.market.price(order.symbol)
                if (order.side == "BUY" and p <= order.price) or (
                    order.side == "SELL" and p >= order.price
                ):
                    self.ledger.fill(
                        order, self.rules[order.symbol], order.price, order.remaining, maker=True
                    )
                    order.status, order.held = "FILLED", False
                    self.ledger.release(order)
                    filled.append(order.order_id)
                    log.info(
                        "order %s %s %s resting at %s filled (price %s)",
                        order.order_id,
                        order.symbol,
                        order.side,
                        fmt(order.price),
                        fmt(p),
                    )
            return filled

    def _find(self, params: dict[str, str]) -> Order | None:
        rules = self.symbol_rules(params.get("symbol"))
        return self.ledger.find(params, rules.symbol)

    def query_order(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            self.tick()
            order = self._find(params)
            if order is None:
                raise BinanceError(-2013, "Order does not exist.")
            return order.binance_query()

    def cancel_order(self, params: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            self.tick()
            order = self._find(params)
            if order is None or not order.is_open:
                raise BinanceError(-2011, "Unknown order sent.")
            self.ledger.cancel(order)
            return order.binance_cancel(
                params.get("newClientOrderId") or new_client_id(), self.now_ms()
            )

    def open_orders(self, symbol: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            self.tick()
            if symbol is not None:
                self.symbol_rules(symbol)
            return [o.binance_query() for o in self.ledger.open_orders(symbol)]

    def cancel_open_orders(self, symbol: str | None) -> list[dict[str, Any]]:
        with self._lock:
            self.tick()
            rules = self.symbol_rules(symbol)
            victims = self.ledger.open_orders(rules.symbol)
            if not victims:
                raise BinanceError(-2011, "Unknown order sent.")
            out = []
            for order in victims:
                self.ledger.cancel(order)
                out.append(order.binance_cancel(new_client_id(), self.now_ms()))
            return out

    def all_orders(self, params: dict[str, str]) -> list[dict[str, Any]]:
        with self._lock:
            self.tick()
            rules = self.symbol_rules(params.get("symbol"))
            return self.ledger.all_orders(params, rules.symbol)

    def my_trades(self, params: dict[str, str]) -> list[dict[str, Any]]:
        with self._lock:
            self.tick()
            rules = self.symbol_rules(params.get("symbol"))
            return self.ledger.my_trades(params, rules.symbol)

    # ---------------------------------------------------------------- faults
    def add_fault(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Arm a fault (see the package doc); returns it as stored."""
        with self._lock:
            return self.faults.add(spec)

    def clear_faults(self) -> int:
        with self._lock:
            return self.faults.clear()

    def claim_fault(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        kinds: Iterable[str],
        applies: Callable[[dict], bool] | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """Consume one firing of the first pending fault of ``kinds`` matching the request:
        (fault, its faults_fired entry - the caller fills in ``effect``), or None."""
        with self._lock:
            return self.faults.claim(method, path, params, kinds, applies)

    # ---------------------------------------------------------------- control
    def set_price(self, symbol: str, price: float) -> None:
        """Fix a symbol's price (clears its multiplier); resting orders are matched."""
        with self._lock:
            self.market.set_price(symbol, price)
            self.tick(include_held=True)

    def set_multipliers(self, multipliers: dict[str, float]) -> None:
        """Candle price x factor per symbol (clears fixed prices); resting orders are matched."""
        with self._lock:
            self.market.set_multipliers(multipliers)
            self.tick(include_held=True)

    def clear_prices(self, symbol: str | None = None) -> None:
        with self._lock:
            self.market.clear_prices(symbol)
            self.tick(include_held=True)

    def adjust_balance(self, asset: str, delta: float) -> dict[str, float]:
        """Deposit (delta > 0) or withdraw (< 0) free balance; never below zero."""
        with self._lock:
            return self.ledger.adjust(asset, delta)

    def note_unexpected(self, method: str, path: str) -> None:
        with self._lock:
            self.unexpected.append({"method": method, "path": path, "time": self.now_ms()})

    def prices(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return self.market.prices()

    def balances(self) -> dict[str, dict[str, float]]:
        with self._lock:
            return self.ledger.balances()

    def state(self) -> dict[str, Any]:
        """Everything a test wants to assert on, as plain JSON-able values."""
        with self._lock:
            self.tick()
            now = self.now_ms()
            return {
                "clock": {
                    "now": now,
                    "now_iso": iso(now),
                    "history_now": iso(self.hist_ms(now)),
                    "offset_ms": self.offset_ms,
                    "start": iso(self.start_ms),
                    "started": iso(self.started_ms),
                },
                "balances": self.balances(),
                "open_orders": [o.state() for o in self.orders.values() if o.is_open],
                "orders": [o.state() for o in self.orders.values()],
                "trades": [trade_state(t) for t in self.trades],
                "prices": self.prices(),
                "faults_pending": [dict(f) for f in self.faults_pending],
                "faults_fired": [dict(f) for f in self.faults_fired],
                "unexpected_requests": list(self.unexpected),
                "requests": self.limiter.requests,
                "weights": self.limiter.summary(),
                "config": {
                    "timeframe": self.timeframe,
                    "price_timeframes": dict(self.price_tf),
                    "fee": float(self.fee),
                    "spread": float(self.spread),
                    "depth": float(self.level_value),
                    "levels": self.levels,
                    "symbols": sorted(self.rules),
                    "timeframes": {s: self.store.timeframes(s) for s in sorted(self.rules)},
                },
            }
