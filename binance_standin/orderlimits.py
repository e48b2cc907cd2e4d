"""Binance's order-count limits per account (the ``ORDERS`` rate limits): how many new orders
an account may place per 10 seconds and per day, and the ``-1015`` answer beyond them.

As Binance documents them (``binance/binance-spot-api-docs``: ``rest-api.md`` "LIMITS" /
"Unfilled Order Count", ``faqs/order_count_decrement.md`` "Spot Unfilled Order Count Rules",
``errors.md`` ``-1015 TOO_MANY_ORDERS``):

* "Every successful request to place an order adds to the unfilled order count for the current
  time interval": only an order the exchange *accepted* counts (one refused by a filter or for
  its balance does not; ``order/test`` places nothing). The intervals are calendar ones: "100
  new orders between 12:34:00 and 12:34:10, then 100 more from 12:34:10 to 12:34:20"; the day
  is the UTC day.
* The count is the account's, whatever the IP or API key ("tracked by (sub)account").
* "When an order is filled for the first time (partially or fully), your unfilled order count
  is decremented by one order for all intervals", never below zero; cancelled and expired
  orders give nothing back. Binance may decrement more for maker fills and large quantities
  (amount undocumented): here every first fill gives back exactly one. An order that trades at
  once gives it back as soon as it is answered (its own answer still counts it: "a short delay
  between the order being filled and the unfilled order count update"); a resting order when
  its first fill is seen (:meth:`OrderLimiter.settle`, before each new order and each summary).
  ``fill_credit=False`` turns the give-back off: every new order counts, the conservative
  reading (what a client that does not rely on fills must stay within).
* "Every successful order response will contain a ``X-MBX-ORDER-COUNT-(intervalNum)
  (intervalLetter)`` header" (here ``X-MBX-ORDER-COUNT-10S`` and ``X-MBX-ORDER-COUNT-1D``,
  sent on the refusals too, which Binance does not promise).
* Beyond a limit: HTTP 429 ``{"code": -1015, "msg": "Too many new orders; current limit is 50
  orders per 10 SECOND."}`` and, unlike the weight limit's 429, *no* ``Retry-After`` ("you will
  receive a 429 error without the Retry-After header ... wait for reactivation accordingly").
  A refusal is not counted as an order, and is not a step toward an IP ban.

The limits: 50 per 10 s and 160 000 per day by default (the figures of Binance's documentation
of ``GET /api/v3/rateLimit/order``); a complete mainnet ``exchangeInfo`` of 2023-12
(``rebalance_plugin/data/binance_exchange_info.json``) says 100 and 200 000: the lower ones are
the cautious default. Both are settable (``--order-limit-10s``/``--order-limit-day``, ``POST
/sim/limits``) so that tests can use small ones; ``exchangeInfo``'s ``rateLimits`` serve the
limits in force.

Recorded (``GET /sim/limits`` ``orders``, ``/sim/state`` ``order_counts``): the largest
unfilled count seen in a 10-s window and in a day (what the limits are checked against), the
largest number of *new* orders in any 10-s window and day (the gross rate, fills aside), the
refusals, and every 10-s window that had an order, per client (the ``X-Sim-Client`` header, as
``weights.py`` books it).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from binance_standin.common import DAY, SECOND, iso, wall_ms

if TYPE_CHECKING:
    from binance_standin.exchange import SimExchange

DEFAULT_PER_10S = 50
DEFAULT_PER_DAY = 160_000
TEN_SECONDS = 10 * SECOND
#: The 10-s windows with an order kept in the history (a day of them at most).
HISTORY_WINDOWS = DAY // TEN_SECONDS
#: The endpoints that place a new order (the stand-in serves no OCO, SOR or cancelReplace).
NEW_ORDER = ("POST", "/api/v3/order")


@dataclass
class Window:
    """One calendar 10-s window's new orders (accepted), refusals, and the largest unfilled
    count reached in it."""

    start: int
    new: int = 0
    refused: int = 0
    max_count: int = 0
    by_client: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": iso(self.start),
            "start_ms": self.start,
            "new": self.new,
            "refused": self.refused,
            "max_count": self.max_count,
            "by_client": dict(self.by_client),
        }


@dataclass(frozen=True)
class Ticket:
    """A new order let through: the windows it was counted in (to give the count back if the
    exchange then refuses the order)."""

    window: int
    day: int


class OrderLimiter:
    """The ``ORDERS`` limits of one account (see the module doc). Thread-safe; ``clock`` gives
    wall-clock milliseconds.

    Use: :meth:`admit` before a new order is run (a 429 ``-1015`` body, or a :class:`Ticket`),
    then :meth:`placed` with the ticket once the exchange accepted it (the answer's headers) or
    :meth:`refused_by_exchange` when it did not."""

    def __init__(
        self,
        per_10s: int = DEFAULT_PER_10S,
        per_day: int = DEFAULT_PER_DAY,
        fill_credit: bool = True,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.clock = clock or wall_ms
        self._lock = threading.Lock()
        self.per_10s, self.per_day, self.fill_credit = DEFAULT_PER_10S, DEFAULT_PER_DAY, True
        self.reset(per_10s, per_day, fill_credit)

    def reset(
        self,
        per_10s: int | None = None,
        per_day: int | None = None,
        fill_credit: bool | None = None,
    ) -> None:
        """Forget every count (and set new limits)."""
        for value in (per_10s, per_day):
            if value is not None and int(value) < 1:
                raise ValueError("an order limit must be >= 1")
        with self._lock:
            if per_10s is not None:
                self.per_10s = int(per_10s)
            if per_day is not None:
                self.per_day = int(per_day)
            if fill_credit is not None:
                self.fill_credit = bool(fill_credit)
            self.windows: deque[Window] = deque(maxlen=HISTORY_WINDOWS)
            self._day = 0  # the UTC day of the day counts
            self.count_10s = 0  # unfilled orders of the current 10-s window
            self.count_day = 0
            self.new_day = 0  # new orders of the current day, fills aside
            self.max_count_10s = 0
            self.max_count_day = 0
            self.max_new_10s = 0
            self.max_new_day = 0
            self.orders = 0
            self.refused = 0
            self.refused_by_client: dict[str, int] = {}
            self.credited = 0
            self._resting: set[int] = set()  # accepted, not yet filled: a fill gives one back

    # ---------------------------------------------------------------- the windows
    def _window(self, now: int) -> Window:
        start = now - now % TEN_SECONDS
        if not self.windows or self.windows[-1].start != start:
            self.windows.append(Window(start))
            self.count_10s = 0
        day = now - now % DAY
        if day != self._day:
            self._day, self.count_day, self.new_day = day, 0, 0
        return self.windows[-1]

    def headers(self) -> dict[str, str]:
        """``X-MBX-ORDER-COUNT-10S`` / ``-1D``: the unfilled counts now."""
        return {
            "X-MBX-ORDER-COUNT-10S": str(self.count_10s),
            "X-MBX-ORDER-COUNT-1D": str(self.count_day),
        }

    # ---------------------------------------------------------------- new orders
    def admit(self, client: str | None = None) -> tuple[Ticket | None, dict[str, Any] | None]:
        """A new order: counted and let through (a ticket), or refused: (None, the ``-1015``
        body). Either way with the count headers (:meth:`headers`, after this call)."""
        with self._lock:
            now = int(self.clock())
            window = self._window(now)
            if self.count_10s >= self.per_10s or self.count_day >= self.per_day:
                window.refused += 1
                self.refused += 1
                tag = client or "-"
                self.refused_by_client[tag] = self.refused_by_client.get(tag, 0) + 1
                per = "10 SECOND" if self.count_10s >= self.per_10s else "1 DAY"
                limit = self.per_10s if per == "10 SECOND" else self.per_day
                return None, {
                    "code": -1015,
                    "msg": f"Too many new orders; current limit is {limit} orders per {per}.",
                }
            self.count_10s += 1
            self.count_day += 1
            self.new_day += 1
            self.orders += 1
            window.new += 1
            tag = client or "-"
            window.by_client[tag] = window.by_client.get(tag, 0) + 1
            window.max_count = max(window.max_count, self.count_10s)
            self.max_count_10s = max(self.max_count_10s, self.count_10s)
            self.max_count_day = max(self.max_count_day, self.count_day)
            self.max_new_10s = max(self.max_new_10s, window.new)
            self.max_new_day = max(self.max_new_day, self.new_day)
            return Ticket(window.start, self._day), None

    def refused_by_exchange(self, ticket: Ticket) -> None:
        """The order was not accepted (a filter, the balance, a fault): it does not count."""
        with self._lock:
            window = self._window(int(self.clock()))
            if ticket.window == window.start:
                self.count_10s = max(0, self.count_10s - 1)
                window.new = max(0, window.new - 1)
            if ticket.day == self._day:
                self.count_day = max(0, self.count_day - 1)
                self.new_day = max(0, self.new_day - 1)
            self.orders -= 1

    def placed(self, order_id: int, filled: bool) -> dict[str, str]:
        """The exchange accepted the order: its answer's headers (the counts with it); an order
        that already traded gives its one back (after the answer), a resting one when it
        first fills (:meth:`settle`)."""
        with self._lock:
            headers = self.headers()
            if filled:
                self._credit()
            else:
                self._resting.add(int(order_id))
            return headers

    def _credit(self) -> None:
        """A first fill: one back in every interval (never below zero)."""
        if not self.fill_credit:
            return
        self.credited += 1
        self.count_10s = max(0, self.count_10s - 1)
        self.count_day = max(0, self.count_day - 1)

    def settle(self, traded: Callable[[int], bool | None]) -> None:
        """Give one back for each resting order that has had its first fill since
        (``traded(order id)``: has it traded; None: unknown, the account was reset)."""
        with self._lock:
            self._window(int(self.clock()))
            for order_id in list(self._resting):
                has = traded(order_id)
                if has is None or has:
                    self._resting.discard(order_id)
                if has:
                    self._credit()

    # ---------------------------------------------------------------- the record
    def rate_limits(self) -> list[dict[str, Any]]:
        """The ``ORDERS`` entries of ``exchangeInfo``'s ``rateLimits``, as enforced."""
        return [
            {
                "rateLimitType": "ORDERS",
                "interval": "SECOND",
                "intervalNum": 10,
                "limit": self.per_10s,
            },
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": self.per_day},
        ]

    def summary(self) -> dict[str, Any]:
        """The counts a test asserts on (``/sim/state`` ``order_counts``)."""
        with self._lock:
            self._window(int(self.clock()))
            return {
                "limit_10s": self.per_10s,
                "limit_day": self.per_day,
                "fill_credit": self.fill_credit,
                "window": "calendar 10 s and UTC day",
                "count_10s": self.count_10s,
                "count_day": self.count_day,
                "max_count_10s": self.max_count_10s,
                "max_count_day": self.max_count_day,
                "max_new_10s": self.max_new_10s,
                "max_new_day": self.max_new_day,
                "orders": self.orders,
                "credited": self.credited,
                "refused": self.refused,
                "refused_by_client": dict(self.refused_by_client),
            }

    def history(self) -> dict[str, Any]:
        """The summary and every 10-s window that had an order or a refusal."""
        out = self.summary()
        with self._lock:
            out["windows"] = [w.as_dict() for w in self.windows if w.new or w.refused]
        return out


def order_traded(sim: SimExchange) -> Callable[[int], bool | None]:
    """Has the account's order of this id traded (None: no such order), for
    :meth:`OrderLimiter.settle`."""

    def traded(order_id: int) -> bool | None:
        order = sim.orders.get(order_id)
        return None if order is None else order.executed > 0

    return traded


# ---------------------------------------------------------------- the control API
def _limits(sim: SimExchange, data: dict[str, Any]) -> tuple[int, Any]:
    sim.order_limiter.settle(order_traded(sim))
    return 200, {
        "orders": sim.order_limiter.history(),
        "weights": sim.limiter.summary(),
        "refusals": sim.limiter.refusals(),
    }


def _set_limits(sim: SimExchange, data: dict[str, Any]) -> tuple[int, Any]:
    keys = ("reset", "per_10s", "per_day", "fill_credit")
    if not any(k in data for k in keys):
        raise ValueError(
            'expected {"reset": true} and/or {"per_10s": 50, "per_day": 160000, '
            '"fill_credit": true}'
        )

    def number(key: str) -> int | None:
        return int(data[key]) if data.get(key) is not None else None

    fill = data.get("fill_credit")
    sim.order_limiter.reset(
        number("per_10s"), number("per_day"), None if fill is None else bool(fill)
    )
    if data.get("reset"):
        sim.limiter.clear_refusals()
    return 200, sim.order_limiter.summary()


def _ban(sim: SimExchange, data: dict[str, Any]) -> tuple[int, Any]:
    if "seconds" not in data:
        raise ValueError('expected {"seconds": 20}')
    return 200, sim.limiter.ban(float(data["seconds"]))


#: ``GET /sim/limits``: the order counts (and windows), the weight summary, every request
#: answered 418/429; ``POST /sim/limits``: reset and/or set the order limits; ``POST /sim/ban``
#: ``{"seconds": N}``: an IP ban from now (every request answered 418 until it ends).
LIMIT_CONTROLS: dict[tuple[str, str], Callable[[SimExchange, dict[str, Any]], tuple[int, Any]]] = {
    ("GET", "/sim/limits"): _limits,
    ("POST", "/sim/limits"): _set_limits,
    ("POST", "/sim/ban"): _ban,
}
