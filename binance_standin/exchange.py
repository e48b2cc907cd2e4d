"""The exchange without HTTP: its parts (public market data, the account's trading, the test
controls) assembled over one market, one account and one lock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from binance_standin.account import Ledger
from binance_standin.candles import CandleStore, Replay
from binance_standin.common import (
    DEFAULT_BALANCES,
    INTERVALS,
    dec,
    iso,
    load_exchange_info,
    wall_ms,
)
from binance_standin.control import Controls
from binance_standin.faults import FaultBook
from binance_standin.filters import SymbolRules
from binance_standin.market import Market
from binance_standin.orderlimits import DEFAULT_PER_10S, DEFAULT_PER_DAY, OrderLimiter
from binance_standin.orders import Order, trade_state
from binance_standin.public import PublicData
from binance_standin.trading import Trading
from binance_standin.weights import DEFAULT_LIMIT, WeightLimiter


class SimExchange:
    """Binance spot's market data, order matching and one account - no HTTP.

    The endpoints are answered by its parts: ``public`` (:class:`PublicData`, the market data),
    ``trading`` (:class:`Trading`, the account and its orders) and ``controls``
    (:class:`Controls`, what the control API does); ``limiter`` counts the request weight.
    This object assembles them, resets them (:meth:`reset`) and reports on them
    (:meth:`state`); ``price``, ``klines``, ``prices``, ``set_price`` and ``balances`` are
    there for in-process callers.

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
    :param order_limit_10s, order_limit_day: the account's new orders per 10 s and per day
        (``orderlimits.py``); orders beyond them are answered 429 ``-1015``.
        ``order_fill_credit``: a first fill gives one back, as on Binance.
    :param speed: history replayed ``speed`` times faster than ``clock`` (``candles.Replay``):
        prices and candles move faster, every time served stays on ``clock``.
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
        speed: float = 1.0,
        order_limit_10s: int = DEFAULT_PER_10S,
        order_limit_day: int = DEFAULT_PER_DAY,
        order_fill_credit: bool = True,
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
        self.replay = Replay(self.store, self.rules, timeframe, start, self.clock, speed)
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
        self.ledger = Ledger(
            Ledger.parse_balances(balances if balances is not None else DEFAULT_BALANCES),
            self.fee,
            self.clock,
        )
        self.faults = FaultBook(self.clock)
        self.public = PublicData(self._lock, self.market, self.replay)
        self.trading = Trading(self._lock, self.market, self.ledger, self.faults, self.fee)
        self.controls = Controls(self._lock, self.market, self.ledger, self.faults, self.trading)
        # Per IP (one for every client here), on the wall clock like Binance; /sim/reset keeps it.
        self.limiter = WeightLimiter(weight_limit)
        # Per account, on the wall clock; /sim/reset keeps it too.
        self.order_limiter = OrderLimiter(order_limit_10s, order_limit_day, order_fill_credit)
        self.replay.warn_short_data()

    # ---------------------------------------------------------------- state and clock
    def reset(self, balances: dict[str, Any] | None = None) -> None:
        """Fresh account (starting or given balances); no orders, trades, faults, overrides."""
        with self._lock:
            initial = self.ledger.initial
            if balances is not None:
                initial = Ledger.parse_balances(balances)
            self.ledger.reset(initial)
            self.faults.reset()
            self.market.reset()
            self.controls.reset()

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

    @property
    def unexpected(self) -> list[dict[str, Any]]:
        return self.controls.unexpected

    def now_ms(self) -> int:
        return int(self.clock())

    def hist_ms(self, now: int | None = None) -> int:
        """Historical time shown at wall time ``now``."""
        return self.replay.hist_ms(None if now is None else self.replay.replay_ms(now))

    def symbol_rules(self, symbol: str | None) -> SymbolRules:
        """The rules of a served symbol (Binance's errors for a missing or unknown one)."""
        return self.market.symbol_rules(symbol)

    # ---------------------------------------------------------------- for in-process callers
    def price(self, symbol: str) -> Decimal:
        """Current price: fixed override, else candle price x multiplier; on the tick grid."""
        return self.public.price(symbol)

    def klines(
        self,
        symbol: str,
        interval: str,
        start: int | None = None,
        end: int | None = None,
        limit: int = 500,
    ) -> list[list[Any]]:
        """Binance klines in wall-clock time, the last one partial (see the package doc)."""
        return self.public.klines(symbol, interval, start, end, limit)

    def prices(self) -> dict[str, dict[str, Any]]:
        return self.controls.prices()

    def set_price(self, symbol: str, price: float) -> None:
        """Fix a symbol's price (clears its multiplier); resting orders are matched."""
        self.controls.set_price(symbol, price)

    def balances(self) -> dict[str, dict[str, float]]:
        return self.controls.balances()

    # ---------------------------------------------------------------- the state
    def state(self) -> dict[str, Any]:
        """Everything a test wants to assert on, as plain JSON-able values."""
        with self._lock:
            self.trading.tick()
            self.faults.prune()
            now = self.now_ms()
            return {
                "clock": {
                    "now": now,
                    "now_iso": iso(now),
                    "history_now": iso(self.hist_ms(now)),
                    "history_now_ms": self.hist_ms(now),
                    "speed": self.replay.speed,
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
                "order_counts": self.order_limiter.summary(),
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
