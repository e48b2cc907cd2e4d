"""The account as the bot last read it, kept up to date with the bot's own orders (live).

Freqtrade reads the whole account from the exchange (Binance ``GET /api/v3/account``, weight 20)
after every order it places, up to three times per order (after placing it, to apply a fee taken
in the coin, after the fill), and for a position adjustment once more on the next loop, with the
order (``GET /api/v3/order``, 4) and its trades (``myTrades``, 20) to learn the fee again: a
ten-coin rebalance cost about 1 200 weight, a ten-coin start about 800. Twenty bots on one
account would pass Binance's 6 000 per minute with one rebalance each.

:class:`AccountBook` answers those reads without asking again, from what the exchange already
said: the balances fetched at most ``max_age`` seconds ago, plus every order this bot placed
since, applied from the exchange's own answer to the order (quantity filled, quote spent or
received, fee and its currency, as Binance reports them in ``fills``). An order that is not
finished in that answer (resting, status unknown), an error while placing or cancelling, a
cancel, or an order the bot learns about otherwise (found at the exchange after a restart or a
lost answer) makes the next read go to the exchange. Another bot's trades on the same account
are seen at the next fetch (``max_age``): each bot holds and spends only its own coins and cash,
so what it reads of the others' is never what it trades with.

A finished order never changes at Binance (FILLED, CANCELED, EXPIRED are final), so the answer
that placed it also answers Freqtrade's later look-ups of it (:meth:`finished`), fee included.
"""

from __future__ import annotations

import copy
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from .guarded import Guarded

#: ccxt's final order states.
FINAL = ("closed", "canceled", "expired", "rejected")
#: Finished orders remembered (a rebalance of ten coins places at most twenty).
KEEP_ORDERS = 500
#: Refusals kept until the loop reads them.
KEEP_REFUSALS = 50


def _num(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class AccountBook(Guarded):
    """The balances last fetched plus this bot's own fills since; this bot's finished orders.

    :param max_age: seconds a fetched balance is reused (with the bot's own fills applied).
    """

    reentrant = True

    def __init__(self, max_age: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.max_age = max_age
        self._clock = clock
        self._new_lock()
        self._balances: dict[str, Any] | None = None
        self._fetched_at = 0.0
        self._orders: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.fetches = 0
        self.reused = 0
        self.refusals: list[tuple[str, BaseException]] = []

    # ---- balances ------------------------------------------------------------------------------

    def balances(self, fetch: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The account's balances (ccxt's ``{asset: {free, used, total}}``): fetched when the
        last fetch is older than ``max_age`` or was invalidated, else the last one with this
        bot's fills applied."""
        with self._lock:
            if self._balances is None or self._clock() - self._fetched_at > self.max_age:
                balances = fetch()
                self._balances = copy.deepcopy(balances)
                self._fetched_at = self._clock()
                self.fetches += 1
                return balances
            self.reused += 1
            return copy.deepcopy(self._balances)

    def invalidate(self) -> None:
        """The next read goes to the exchange (a deposit, an order whose outcome is unknown)."""
        with self._lock:
            self._balances = None

    def refused(self, pair: str | None, err: BaseException) -> None:
        """An order for ``pair`` the exchange refused (or whose answer was lost): the next read
        goes to the exchange, and the refusal is kept for the loop to read (``halts.py``:
        a closed market, a rule that changed; ``outage.py``: the exchange not answering)."""
        with self._lock:
            self._balances = None
            if pair:
                self.refusals.append((pair, err))
                del self.refusals[:-KEEP_REFUSALS]

    def take_refusals(self) -> list[tuple[str, BaseException]]:
        """The refusals since the last call (oldest first)."""
        with self._lock:
            found, self.refusals = self.refusals, []
            return found

    # ---- orders --------------------------------------------------------------------------------
    def placed(self, order: dict[str, Any]) -> None:
        """The exchange's answer to an order this bot placed: apply its fills to the balances
        and remember it if finished; anything else makes the next read a fetch."""
        with self._lock:
            if not isinstance(order, dict) or order.get("status") not in FINAL:
                self._balances = None
                return
            if self._balances is not None and not self._apply(order):
                self._balances = None
            self._remember(order)

    def seen(self, order: dict[str, Any]) -> None:
        """An order the bot read from the exchange: remembered if finished; one it did not
        place in this process (or whose fills it has not applied) makes the next read a fetch."""
        with self._lock:
            if not isinstance(order, dict):
                return
            order_id = str(order.get("id"))
            if order.get("status") in FINAL:
                if order_id not in self._orders:
                    self._balances = None
                    self._remember(order)
            else:
                self._balances = None

    def finished(self, order_id: str) -> dict[str, Any] | None:
        """A finished order as the exchange last described it (a copy), or None."""
        with self._lock:
            order = self._orders.get(str(order_id))
            return copy.deepcopy(order) if order is not None else None

    def _remember(self, order: dict[str, Any]) -> None:
        self._orders[str(order.get("id"))] = copy.deepcopy(order)
        while len(self._orders) > KEEP_ORDERS:
            self._orders.popitem(last=False)

    def _apply(self, order: dict[str, Any]) -> bool:
        """Apply a finished order's fills to the balances; False when the answer lacks what
        that needs (the balances are then fetched again)."""
        assert self._balances is not None
        filled, cost = _num(order.get("filled")), _num(order.get("cost"))
        symbol, side = order.get("symbol"), order.get("side")
        if filled is None or (filled > 0 and cost is None) or not symbol or "/" not in symbol:
            return False
        if filled == 0:
            return True
        assert cost is not None
        base, quote = symbol.split(":")[0].split("/")
        fees = order.get("fees") or ([order["fee"]] if order.get("fee") else [])
        changes: dict[str, float] = {}
        if side == "buy":
            changes = {base: filled, quote: -cost}
        elif side == "sell":
            changes = {base: -filled, quote: cost}
        else:
            return False
        for fee in fees:
            if not fee or fee.get("cost") in (None, 0):
                continue
            amount, currency = _num(fee.get("cost")), fee.get("currency")
            if amount is None or not currency:
                return False
            changes[currency] = changes.get(currency, 0.0) - amount
        for asset, delta in changes.items():
            wallet = self._balances.setdefault(asset, {"free": 0.0, "used": 0.0, "total": 0.0})
            wallet["free"] = (wallet.get("free") or 0.0) + delta
            wallet["total"] = (wallet.get("total") or 0.0) + delta
        return True
