"""Tax lots: which purchases each sale used up, and the gain it realised. Plain Python.

Every amount is in the stake currency (USDT for the shipped config). A *fill* is one filled
order: ``quantity`` coins at ``price``, paying ``fee`` (in the stake currency).

* A buy adds a lot of ``quantity`` coins whose cost is ``quantity × price + fee``: the fee is
  part of what the coins cost.
* A sale of ``quantity`` coins brings ``proceeds = quantity × price − fee`` (net of its fee),
  and takes lots of the same coin away, across the coin's whole history (not per Freqtrade
  trade): its *cost basis* is the cost of the coins it took, its *gain* ``proceeds − cost basis``.

Which lots a sale takes is the *method*:

* ``fifo``: the oldest first (first in, first out).
* ``hifo``: the highest cost per coin first (fee included; equal costs: the oldest first). With
  one fee rate per coin, as in Freqtrade, that is the highest price, as rp2's ``hifo``.
* ``average``: no lots, a pool per coin: a sale's cost basis is the pool's average cost per coin
  × the quantity sold (the pool keeps its average). This is Freqtrade's own booking of a
  trade's profit (``profit_abs``: the average entry price, fees at the trade's rates), not what
  most tax rules use.

``holding_days`` of a sale is the quantity-weighted mean age of what it sold (days from each
lot's purchase to the sale; for ``average``, from the pool's quantity-weighted mean purchase
time, which a sale does not move).

Quantities are floats as Freqtrade stores them: selling a whole position may leave or want a
float's dust (1e-17 of a coin): anything within :data:`DUST` of the quantity is treated as
exact. Selling more than that beyond what is held is an error naming the coin and the sale.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

#: The lot-matching methods, the first is the default.
METHODS: tuple[str, ...] = ("fifo", "hifo", "average")
#: Relative tolerance on quantities (float dust of whole-position sales).
DUST = 1e-9

_DAY = 86400.0


@dataclass(frozen=True)
class Fill:
    """One filled order. ``time`` is timezone-aware (UTC); ``fee`` in the stake currency.
    ``final``: a backtest's closing sale at its last candle (Freqtrade's ``force_exit`` of the
    open trades when the backtest ends). ``ref``: the exchange's order id, when there is one."""

    time: datetime
    coin: str
    side: str  # "buy" or "sell"
    quantity: float
    price: float
    fee: float
    tag: str = ""
    final: bool = False
    ref: str = ""

    def __post_init__(self) -> None:
        if self.side not in ("buy", "sell"):
            raise ValueError(f"a fill's side is 'buy' or 'sell', not {self.side!r}")
        if not self.quantity > 0 or not self.price > 0 or not self.fee >= 0:
            raise ValueError(
                f"{self.coin} {self.side} on {self.time:%Y-%m-%d %H:%M:%S}: quantity and "
                f"price must be > 0 and the fee >= 0 (got {self.quantity}, {self.price}, "
                f"{self.fee})"
            )

    @property
    def value(self) -> float:
        """``quantity × price``, before the fee."""
        return self.quantity * self.price

    @property
    def cost(self) -> float:
        """What a buy paid, fee included."""
        return self.value + self.fee

    @property
    def proceeds(self) -> float:
        """What a sale brought, net of its fee."""
        return self.value - self.fee


@dataclass(frozen=True)
class LotUse:
    """The part of one lot a sale took (for ``average``: one share of the pool)."""

    acquired: datetime
    quantity: float
    cost: float


@dataclass(frozen=True)
class Sale:
    """A sale with its cost basis (one row of the gains report)."""

    time: datetime
    coin: str
    quantity: float
    proceeds: float  # net of the sale's fee
    cost_basis: float  # buy fees included
    fee: float  # the sale's own fee
    holding_days: float
    method: str
    lots: tuple[LotUse, ...] = ()
    final: bool = False
    tag: str = ""

    @property
    def gain(self) -> float:
        return self.proceeds - self.cost_basis


class _Lot:
    """A lot still (partly) held: its quantity left and the cost of that quantity."""

    __slots__ = ("acquired", "cost", "quantity", "seq")

    def __init__(self, acquired: datetime, quantity: float, cost: float, seq: int) -> None:
        self.acquired, self.quantity, self.cost, self.seq = acquired, quantity, cost, seq

    def take(self, quantity: float) -> LotUse:
        """Take ``quantity`` (at most all of it) at this lot's cost per coin."""
        if quantity >= self.quantity * (1.0 - DUST):
            used = LotUse(self.acquired, self.quantity, self.cost)
            self.quantity, self.cost = 0.0, 0.0
            return used
        cost = self.cost * quantity / self.quantity
        self.quantity -= quantity
        self.cost -= cost
        return LotUse(self.acquired, quantity, cost)


class _Book:
    """The lots of one coin, taken in the method's order."""

    def __init__(self, method: str) -> None:
        self.method = method
        self.fifo: deque[_Lot] = deque()
        self.heap: list[tuple[float, float, int, _Lot]] = []
        self.held = 0.0  # for messages

    def add(self, lot: _Lot) -> None:
        self.held += lot.quantity
        if self.method == "fifo":
            self.fifo.append(lot)
        else:  # hifo: highest cost per coin, then oldest, then first recorded
            key = (-lot.cost / lot.quantity, lot.acquired.timestamp(), lot.seq, lot)
            heapq.heappush(self.heap, key)

    def next_lot(self) -> _Lot | None:
        if self.method == "fifo":
            return self.fifo[0] if self.fifo else None
        return self.heap[0][3] if self.heap else None

    def drop_empty(self) -> None:
        if self.method == "fifo":
            self.fifo.popleft()
        else:
            heapq.heappop(self.heap)

    def take(self, quantity: float) -> list[LotUse]:
        used: list[LotUse] = []
        left = quantity
        while left > quantity * DUST:
            lot = self.next_lot()
            if lot is None:
                break
            part = lot.take(left)
            used.append(part)
            left -= part.quantity
            if lot.quantity == 0.0:
                self.drop_empty()
        self.held -= quantity
        return used


class _Pool:
    """Average cost: one pool per coin, its quantity, cost and mean purchase time."""

    def __init__(self) -> None:
        self.quantity = 0.0
        self.cost = 0.0
        self.time_sum = 0.0  # Σ quantity × purchase timestamp

    def add(self, fill: Fill) -> None:
        self.quantity += fill.quantity
        self.cost += fill.cost
        self.time_sum += fill.quantity * fill.time.timestamp()

    @property
    def held(self) -> float:
        return self.quantity

    def take(self, quantity: float, tz_of: datetime) -> list[LotUse]:
        mean_ts = self.time_sum / self.quantity
        acquired = datetime.fromtimestamp(mean_ts, tz=tz_of.tzinfo)
        if quantity >= self.quantity * (1.0 - DUST):
            used = LotUse(acquired, self.quantity, self.cost)
            self.quantity = self.cost = self.time_sum = 0.0
            return [used]
        cost = self.cost * quantity / self.quantity
        self.cost -= cost
        self.time_sum -= quantity * mean_ts
        self.quantity -= quantity
        return [LotUse(acquired, quantity, cost)]


def _ordered(fills: Iterable[Fill]) -> list[Fill]:
    """By time; fills at the same time keep their given order (Freqtrade's order sequence)."""
    return sorted(fills, key=lambda f: f.time)


def match(fills: Iterable[Fill], method: str = "fifo") -> list[Sale]:
    """Every sale of ``fills`` with its cost basis, in time order (see the module docstring)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: choose one of {', '.join(METHODS)}")
    books: dict[str, _Book | _Pool] = {}
    sales: list[Sale] = []
    for seq, fill in enumerate(_ordered(fills)):
        book = books.get(fill.coin)
        if book is None:
            book = books[fill.coin] = _Pool() if method == "average" else _Book(method)
        if fill.side == "buy":
            if isinstance(book, _Pool):
                book.add(fill)
            else:
                book.add(_Lot(fill.time, fill.quantity, fill.cost, seq))
            continue
        held = book.held
        if fill.quantity > held * (1.0 + DUST) + 1e-15:
            raise ValueError(
                f"{fill.coin}: the sale of {fill.quantity:.8g} on {fill.time:%Y-%m-%d %H:%M:%S} "
                f"UTC is more than the {max(held, 0.0):.8g} bought before it: the history is "
                "incomplete (give the whole backtest result or the bot's whole database, from "
                "its first buy)"
            )
        if isinstance(book, _Pool):
            used = book.take(fill.quantity, fill.time)
        else:
            used = book.take(fill.quantity)
        quantity = math.fsum(u.quantity for u in used)
        sales.append(
            Sale(
                time=fill.time,
                coin=fill.coin,
                quantity=fill.quantity,
                proceeds=fill.proceeds,
                cost_basis=math.fsum(u.cost for u in used),
                fee=fill.fee,
                holding_days=(
                    math.fsum(u.quantity * (fill.time - u.acquired).total_seconds() for u in used)
                    / quantity
                    / _DAY
                    if quantity > 0
                    else 0.0
                ),
                method=method,
                lots=tuple(used),
                final=fill.final,
                tag=fill.tag,
            )
        )
    return sales


def realised_gain(
    fills: Iterable[Fill], method: str = "fifo", *, include_final: bool = True
) -> float:
    """Σ gain of the sales; ``include_final=False`` leaves out a backtest's closing sales."""
    return math.fsum(s.gain for s in match(fills, method) if include_final or not s.final)


@dataclass(frozen=True)
class Totals:
    """Sums over a group of sales."""

    sales: int
    quantity: float
    proceeds: float
    cost_basis: float
    gain: float
    fee: float


def total(sales: Sequence[Sale]) -> Totals:
    return Totals(
        sales=len(sales),
        quantity=math.fsum(s.quantity for s in sales),
        proceeds=math.fsum(s.proceeds for s in sales),
        cost_basis=math.fsum(s.cost_basis for s in sales),
        gain=math.fsum(s.gain for s in sales),
        fee=math.fsum(s.fee for s in sales),
    )


K = TypeVar("K", bound=Hashable)


def totals_by(sales: Iterable[Sale], key: Callable[[Sale], K]) -> dict[K, Totals]:
    """Totals per ``key(sale)``, in the order the keys first appear."""
    groups: dict[K, list[Sale]] = {}
    for sale in sales:
        groups.setdefault(key(sale), []).append(sale)
    return {k: total(v) for k, v in groups.items()}


def by_year(sales: Iterable[Sale]) -> dict[int, Totals]:
    """Totals per calendar year of the sale (UTC), in year order."""
    found = totals_by(sales, lambda s: s.time.year)
    return {y: found[y] for y in sorted(found)}


def by_coin(sales: Iterable[Sale]) -> dict[str, Totals]:
    """Totals per coin, in the order the coins were first sold."""
    return totals_by(sales, lambda s: s.coin)
