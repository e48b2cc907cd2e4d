"""The control API (JSON, no auth) tests use to steer the stand-in: ``/sim/state``,
``/sim/price``, ``/sim/balance``, ``/sim/fault``, ``/sim/symbol``, ``/sim/rules``,
``/sim/reset``, ``/sim/weights`` (see the package doc). :class:`Controls` is what it does to
the exchange; :func:`control` answers its HTTP requests."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from decimal import InvalidOperation
from typing import TYPE_CHECKING, Any

from binance_standin.account import Ledger
from binance_standin.errors import outside_recv_window
from binance_standin.faults import STALE_PATHS, FaultBook
from binance_standin.market import Market
from binance_standin.orderlimits import LIMIT_CONTROLS
from binance_standin.trading import Claimed, Trading

if TYPE_CHECKING:
    from binance_standin.exchange import SimExchange


class Controls:
    """Price overrides (resting orders are matched at once), deposits and withdrawals, faults
    armed, cleared and claimed, and the requests outside the served API, each under ``lock``
    (the exchange's one lock)."""

    def __init__(
        self,
        lock: threading.RLock,
        market: Market,
        ledger: Ledger,
        faults: FaultBook,
        trading: Trading,
    ) -> None:
        self._lock = lock
        self.market, self.ledger, self.faults, self.trading = market, ledger, faults, trading
        self.unexpected: list[dict[str, Any]] = []

    def reset(self) -> None:
        """No request noted as unexpected."""
        with self._lock:
            self.unexpected.clear()

    # ---------------------------------------------------------------- prices
    def set_price(self, symbol: str, price: float) -> None:
        """Fix a symbol's price (clears its multiplier); resting orders are matched."""
        with self._lock:
            self.market.set_price(symbol, price)
            self.trading.tick(include_held=True)

    def set_multipliers(self, multipliers: dict[str, float]) -> None:
        """Candle price x factor per symbol (clears fixed prices); resting orders are matched."""
        with self._lock:
            self.market.set_multipliers(multipliers)
            self.trading.tick(include_held=True)

    def clear_prices(self, symbol: str | None = None) -> None:
        with self._lock:
            self.market.clear_prices(symbol)
            self.trading.tick(include_held=True)

    def prices(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return self.market.prices()

    # ---------------------------------------------------------------- symbols
    def set_symbol_status(self, symbol: str, status: str) -> dict[str, Any]:
        """A symbol stops trading (``BREAK``/``HALT``), is delisted (``REMOVED``: its resting
        orders are canceled, as Binance removes them at a delisting) or trades again."""
        with self._lock:
            sym = self.market.set_status(symbol, status)
            canceled = []
            if status == "REMOVED":
                for order in self.ledger.open_orders(sym):
                    self.ledger.cancel(order)
                    canceled.append(order.order_id)
            self.trading.tick()
            return {
                "symbol": sym,
                "status": status,
                "price": float(self.market.frozen.get(sym) or self.market.price(sym)),
                "canceled": canceled,
            }

    def set_rules(self, symbol: str, changes: dict[str, Any]) -> dict[str, Any]:
        """New filters of a symbol; its exchangeInfo entry as served from now on."""
        with self._lock:
            return self.market.set_rules(symbol, changes)

    # ---------------------------------------------------------------- balances
    def adjust_balance(self, asset: str, delta: float) -> dict[str, float]:
        """Deposit (delta > 0) or withdraw (< 0) free balance; never below zero."""
        with self._lock:
            return self.ledger.adjust(asset, delta)

    def balances(self) -> dict[str, dict[str, float]]:
        with self._lock:
            return self.ledger.balances()

    # ---------------------------------------------------------------- faults
    def add_fault(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Arm a fault (see the package doc); returns it as stored. A ``stale`` fault keeps
        the order book's update id of its start, as the rest of its data."""
        with self._lock:
            fault = self.faults.add(spec)
            if fault["kind"] == "stale":
                self.faults.pending[-1]["update_id"] = fault["update_id"] = self.market.update_id
            return fault

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
    ) -> Claimed | None:
        """Consume one firing of the first pending fault of ``kinds`` matching the request:
        (fault, its faults_fired entry - the caller fills in ``effect``), or None."""
        with self._lock:
            return self.faults.claim(method, path, params, kinds, applies)

    def clock_fault(self, method: str, path: str, params: dict[str, str]) -> None:
        """A signed request under a ``clock`` fault: refused -1021 (its timestamp outside the
        receive window), unprocessed."""
        claimed = self.claim_fault(method, path, params, ("clock",))
        if claimed is not None:
            err = outside_recv_window()
            claimed[1]["effect"] = f"refused with {err.code} {err.msg}"
            raise err

    @contextlib.contextmanager
    def stale_view(self, method: str, path: str, params: dict[str, str]) -> Iterator[None]:
        """Answer a market-data request (:data:`STALE_PATHS`) under a ``stale`` fault with the
        market as of the fault's start; any other request as it is."""
        claimed = (
            self.claim_fault(method, path, params, ("stale",)) if path in STALE_PATHS else None
        )
        if claimed is None:
            yield
            return
        fault, fired = claimed
        with self._lock, self.market.as_of_time(fault["created"]):
            update_id = self.market.update_id
            self.market.update_id = fault["update_id"] - 1  # depth adds one
            fired["effect"] = f"answered with the market data of {fault['created']}"
            try:
                yield
            finally:
                self.market.update_id = update_id

    def note_unexpected(self, method: str, path: str) -> None:
        with self._lock:
            self.unexpected.append({"method": method, "path": path, "time": self.ledger.now_ms()})


# ---------------------------------------------------------------- the HTTP side
#: One control request: (the exchange, the JSON body) -> (HTTP status, JSON payload).
Answer = Callable[["SimExchange", dict[str, Any]], tuple[int, Any]]


def _state(sim: SimExchange, data: dict[str, Any]) -> tuple[int, Any]:
    return 200, sim.state()


def _price(sim: SimExchange, data: dict[str, Any]) -> tuple[int, Any]:
    if data.get("clear"):
        sim.controls.clear_prices(data.get("symbol"))
    elif "multiplier" in data:
        if not isinstance(data["multiplier"], dict):
            raise ValueError('"multiplier" must be {"SYMBOL": factor, ...}')
        sim.controls.set_multipliers(data["multiplier"])
    elif "symbol" in data and "price" in data:
        sim.controls.set_price(data["symbol"], float(data["price"]))
    else:
        raise ValueError('expected {"symbol","price"}, {"multiplier":{..}} or {"clear":true}')
    return 200, {"prices": sim.controls.prices()}


def _balance(sim: SimExchange, data: dict[str, Any]) -> tuple[int, Any]:
    if "asset" not in data or "delta" not in data:
        raise ValueError('expected {"asset": "USDT", "delta": 500}')
    asset = data["asset"].upper()
    return 200, {"asset": asset, **sim.controls.adjust_balance(data["asset"], float(data["delta"]))}


def _fault(sim: SimExchange, data: dict[str, Any]) -> tuple[int, Any]:
    if data.get("clear"):
        return 200, {"cleared": sim.controls.clear_faults()}
    return 200, sim.controls.add_fault(data)


def _weights(sim: SimExchange, data: dict[str, Any]) -> tuple[int, Any]:
    return 200, sim.limiter.history()


def _set_weights(sim: SimExchange, data: dict[str, Any]) -> tuple[int, Any]:
    if not data.get("reset") and "limit" not in data:
        raise ValueError('expected {"reset": true} and/or {"limit": 6000}')
    limit = data.get("limit")
    sim.limiter.reset(int(limit) if limit is not None else None)
    return 200, sim.limiter.summary()


def _symbol(sim: SimExchange, data: dict[str, Any]) -> tuple[int, Any]:
    if "symbol" not in data or "status" not in data:
        raise ValueError('expected {"symbol": "SOLUSDT", "status": "BREAK|HALT|TRADING|REMOVED"}')
    return 200, sim.controls.set_symbol_status(str(data["symbol"]), str(data["status"]).upper())


def _rules(sim: SimExchange, data: dict[str, Any]) -> tuple[int, Any]:
    if "symbol" not in data:
        raise ValueError(
            'expected {"symbol": ..., "tickSize"?, "stepSize"?, "minQty"?, "minNotional"?}'
        )
    changes = {k: v for k, v in data.items() if k != "symbol"}
    return 200, sim.controls.set_rules(str(data["symbol"]), changes)


def _reset(sim: SimExchange, data: dict[str, Any]) -> tuple[int, Any]:
    sim.reset(data.get("balances"))
    return 200, {"balances": sim.controls.balances()}


CONTROLS: dict[tuple[str, str], Answer] = {
    ("GET", "/sim/state"): _state,
    ("POST", "/sim/price"): _price,
    ("POST", "/sim/balance"): _balance,
    ("POST", "/sim/fault"): _fault,
    ("POST", "/sim/symbol"): _symbol,
    ("POST", "/sim/rules"): _rules,
    ("GET", "/sim/weights"): _weights,
    ("POST", "/sim/weights"): _set_weights,
    ("POST", "/sim/reset"): _reset,
    **LIMIT_CONTROLS,  # /sim/limits, /sim/ban (orderlimits.py)
}


def control(sim: SimExchange, method: str, path: str, body: str) -> tuple[int, Any, dict[str, str]]:
    """Answer one control request: (HTTP status, JSON payload, headers)."""
    try:
        data = json.loads(body) if body.strip() else {}
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        answer = CONTROLS.get((method, path))
        if answer is not None:
            status, payload = answer(sim, data)
            return status, payload, {}
    except (ValueError, TypeError, KeyError, InvalidOperation) as err:
        return 400, {"error": str(err)}, {}
    return 404, {"error": f"no control endpoint {method} {path}"}, {}
