"""The soak's events and its seeded schedule: what can happen to a running portfolio, each kind
one entry of :data:`EVENTS` (how often it is drawn, what it draws, what it does).

A kind's ``draw(rng, world)`` picks its parameters from the seeded ``random.Random`` alone (the
portfolios, coins and thresholds of ``world`` are fixed by the seed too), so a seed always gives
the same sequence of events with the same parameters: ``SOAK_SEED=N make test-soak`` replays it
(how the real processes interleave with it is the machine's). ``run(soak, params)`` carries it
out on the running stand-in and bots (:class:`tests.soak.harness.Soak`) and says in a few words
what it did.

The stand-in's faults are one entry each in :data:`FAULT_PARAMS` (drawn only when the stand-in
offers the kind: ``binance_standin.faults.FAULT_KINDS``); events that need a control endpoint
(symbol halts ``/sim/symbol``, rule changes ``/sim/rules``, order-count limits and bans
``/sim/limits``, ``/sim/ban``) are drawn only when ``binance_standin.control.CONTROLS`` has it.
A new event kind: one :class:`Kind` in :data:`EVENTS` (and a method of ``Soak`` if it needs
one); a new stand-in fault: one line in :data:`FAULT_PARAMS`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.soak.harness import Soak

#: The twelve coins the stand-in serves from the real candles.
COINS = ("BTC", "ETH", "BNB", "SOL", "XRP", "ADA", "DOGE", "LINK", "LTC", "TRX", "AVAX", "DOT")
#: Thresholds the plugin accepts (``core/config.py`` THRESHOLDS) that the soak uses, in points.
THRESHOLDS = (2, 5, 10)
ORDER_PATH = {"path": "/api/v3/order", "method": "POST"}


@dataclass(frozen=True)
class Plan:
    """One portfolio of the soak: its bot's name, coins and weights (points), capital (its
    ``available_capital``, USDT of the account that are its own), investment and threshold."""

    name: str
    coins: dict[str, int]
    capital: float
    investment: float
    threshold: float


@dataclass(frozen=True)
class World:
    """What the seed fixes before the first event: the history replayed (its start date) and
    the portfolios sharing one account, with the USDT no portfolio owns."""

    seed: int
    start: str
    plans: tuple[Plan, ...]
    unowned: float

    @property
    def coins(self) -> list[str]:
        return [c for p in self.plans for c in p.coins]


@dataclass(frozen=True)
class Event:
    """One step of the schedule: its kind and the parameters drawn for it."""

    index: int
    kind: str
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"#{self.index} {self.kind}({shown})"


@dataclass(frozen=True)
class Kind:
    """An event kind: its relative frequency, its parameters' draw and what it does. ``needs``:
    the stand-in's fault kind or control endpoint it uses (drawn only when served)."""

    weight: float
    draw: Callable[[random.Random, World], dict[str, Any]]
    run: Callable[[Soak, dict[str, Any]], str]
    needs: str | tuple[str, str] | None = None


# ---------------------------------------------------------------- the world
def world(seed: int) -> World:
    """The seed's world: a start date between 2021-06 and 2025-10 (every coin has candles for
    two weeks after it), two or three portfolios of two to four coins each (no coin in two),
    weights in steps of 5 points (at least 15), capital 800-2000 USDT, threshold 2 or 5."""
    rng = random.Random(seed)
    day = rng.randrange(0, 1583)  # 2021-06-01 + 1582 days = 2025-09-30
    start = _date_plus("2021-06-01", day)
    n = rng.choice((2, 3))
    sizes = [rng.randint(2, 4) for _ in range(n)]
    pool = rng.sample(COINS, sum(sizes))
    plans = []
    for i, size in enumerate(sizes):
        coins, pool = pool[:size], pool[size:]
        capital = float(rng.randrange(800, 2001, 100))
        plans.append(
            Plan(
                name=f"p{i}",
                coins=dict(zip(coins, _weights(rng, size))),
                capital=capital,
                investment=capital - rng.choice((0.0, 0.0, 100.0)),
                threshold=float(rng.choice(THRESHOLDS[:2])),
            )
        )
    return World(seed, start, tuple(plans), unowned=500.0)


def _weights(rng: random.Random, n: int) -> list[int]:
    """``n`` whole-point weights summing to 100, each at least 15, in steps of 5."""
    weights = [15] * n
    for _ in range((100 - 15 * n) // 5):
        weights[rng.randrange(n)] += 5
    return weights


def _date_plus(date: str, days: int) -> str:
    import datetime as dt

    return (dt.date.fromisoformat(date) + dt.timedelta(days=days)).isoformat()


# ---------------------------------------------------------------- draws
def _coin(rng: random.Random, w: World) -> str:
    return rng.choice(w.coins)


def _factor(rng: random.Random) -> float:
    """A price jump: down 15-40% or up 15-60%."""
    if rng.random() < 0.5:
        return round(rng.uniform(0.6, 0.85), 3)
    return round(rng.uniform(1.15, 1.6), 3)


def draw_jump(rng: random.Random, w: World) -> dict[str, Any]:
    coins = rng.sample(w.coins, rng.choice((1, 1, 2)))
    return {"moves": {c: _factor(rng) for c in coins}, "fixed": rng.random() < 0.2}


def draw_kill(rng: random.Random, w: World) -> dict[str, Any]:
    """A bot killed (-9), mid-rebalance (after its first order of a jump) or at rest."""
    plan = rng.choice(w.plans)
    mid = rng.random() < 0.6
    params: dict[str, Any] = {"bot": plan.name, "mid_rebalance": mid}
    if mid:
        params["coin"] = rng.choice(list(plan.coins))
        params["factor"] = rng.choice((0.6, 1.6))
    params["down_s"] = rng.choice((0.0, 1.0, 3.0))  # seconds dead before the restart
    return params


def draw_reload(rng: random.Random, w: World) -> dict[str, Any]:
    plan = rng.choice(w.plans)
    return {"bot": plan.name, "threshold": float(rng.choice(THRESHOLDS))}


def draw_deposit(rng: random.Random, w: World) -> dict[str, Any]:
    return {"usdt": float(rng.randrange(50, 501, 50))}


def draw_quiet(rng: random.Random, w: World) -> dict[str, Any]:
    return {}


def draw_halt(rng: random.Random, w: World) -> dict[str, Any]:
    status = rng.choice(("BREAK", "HALT", "HALT", "REMOVED"))
    return {"coin": _coin(rng, w), "status": status, "loops": rng.choice((2, 4))}


def draw_rules(rng: random.Random, w: World) -> dict[str, Any]:
    """A pair's rules change: its step ten times coarser or finer, or a higher minimum
    notional (5 -> 10 or 20 USDT), and a price move that makes the bots trade under them."""
    coin = _coin(rng, w)
    change = rng.choice(("step_coarser", "step_finer", "min_notional"))
    return {
        "coin": coin,
        "change": change,
        "min_notional": float(rng.choice((10, 20))),
        "factor": _factor(rng),
    }


def draw_ban(rng: random.Random, w: World) -> dict[str, Any]:
    return {"seconds": float(rng.choice((3, 6, 10)))}


def draw_order_limit(rng: random.Random, w: World) -> dict[str, Any]:
    """Order-count limit down to a few per 10 s, and a jump in every portfolio (all rebalance
    at once); lifted at the next quiet period."""
    moves = {rng.choice(list(p.coins)): _factor(rng) for p in w.plans}
    return {"per_10s": rng.choice((2, 3, 5)), "moves": moves}


#: Per stand-in fault kind: its parameters (besides ``count``), from the seeded rng. Order
#: faults fire on the next order; the others on the next matching request. ``process``: the
#: exchange executes the order although the client sees the error.
FAULT_PARAMS: dict[str, Callable[[random.Random], dict[str, Any]]] = {
    "reject": lambda rng: {},  # -2010 insufficient balance: allowed by the balance check
    "partial": lambda rng: {"fraction": rng.choice((0.2, 0.5, 0.8))},
    "expire": lambda rng: {},
    "chase": lambda rng: {"bps": rng.choice((5.0, 10.0, 30.0))},
    "http429": lambda rng: dict(ORDER_PATH) if rng.random() < 0.5 else {},
    "http5xx": lambda rng: {
        **ORDER_PATH,
        "status": rng.choice((503, 500)),
        "process": rng.random() < 0.3,
    },
    "timeout": lambda rng: {**ORDER_PATH, "seconds": 40.0, "process": rng.random() < 0.5},
    "maintenance": lambda rng: {"seconds": rng.choice((3.0, 6.0, 10.0))},
    "clock": lambda rng: {"seconds": rng.choice((2.0, 5.0))},
    "stale": lambda rng: {"seconds": rng.choice((3.0, 6.0, 10.0))},
}


def draw_fault(kind: str) -> Callable[[random.Random, World], dict[str, Any]]:
    def draw(rng: random.Random, w: World) -> dict[str, Any]:
        params = {"count": rng.choice((1, 1, 2))} | FAULT_PARAMS[kind](rng)
        out: dict[str, Any] = {"fault": params}
        if rng.random() < 0.7:  # and a jump that makes a portfolio trade into it
            out["moves"] = {_coin(rng, w): _factor(rng)}
        return out

    return draw


# ---------------------------------------------------------------- runs
def run_jump(soak: Soak, p: dict[str, Any]) -> str:
    return soak.jump(p["moves"], fixed=p.get("fixed", False))


def run_kill(soak: Soak, p: dict[str, Any]) -> str:
    return soak.kill_and_restart(
        p["bot"], p.get("coin"), p.get("factor"), down_s=p.get("down_s", 0.0)
    )


def run_reload(soak: Soak, p: dict[str, Any]) -> str:
    return soak.reload(p["bot"], p["threshold"])


def run_deposit(soak: Soak, p: dict[str, Any]) -> str:
    return soak.deposit(p["usdt"])


def run_quiet(soak: Soak, p: dict[str, Any]) -> str:
    return soak.quiet()


def run_halt(soak: Soak, p: dict[str, Any]) -> str:
    return soak.halt(p["coin"], p["status"], p["loops"])


def run_rules(soak: Soak, p: dict[str, Any]) -> str:
    return soak.change_rules(p["coin"], p["change"], p["min_notional"], p["factor"])


def run_ban(soak: Soak, p: dict[str, Any]) -> str:
    return soak.ban(p["seconds"])


def run_order_limit(soak: Soak, p: dict[str, Any]) -> str:
    return soak.order_limit(p["per_10s"], p["moves"])


def run_fault(kind: str) -> Callable[[Soak, dict[str, Any]], str]:
    def run(soak: Soak, p: dict[str, Any]) -> str:
        return soak.fault(kind, p["fault"], p.get("moves", {}))

    return run


#: Every event kind the schedule draws from (fault kinds: ``fault:<kind>``).
EVENTS: dict[str, Kind] = {
    "jump": Kind(15, draw_jump, run_jump),
    "kill": Kind(8, draw_kill, run_kill),
    "reload": Kind(5, draw_reload, run_reload),
    "deposit": Kind(4, draw_deposit, run_deposit),
    "quiet": Kind(8, draw_quiet, run_quiet),
    "halt": Kind(4, draw_halt, run_halt, needs=("POST", "/sim/symbol")),
    "rules": Kind(4, draw_rules, run_rules, needs=("POST", "/sim/rules")),
    "ban": Kind(2, draw_ban, run_ban, needs=("POST", "/sim/ban")),
    "order_limit": Kind(3, draw_order_limit, run_order_limit, needs=("POST", "/sim/limits")),
    # most faults come with a jump that makes a portfolio trade into them (draw_fault)
    **{
        f"fault:{kind}": Kind(4, draw_fault(kind), run_fault(kind), needs=kind)
        for kind in FAULT_PARAMS
    },
}


def served(kind: Kind) -> bool:
    """Whether the stand-in in this tree offers what ``kind`` needs."""
    from binance_standin.control import CONTROLS
    from binance_standin.faults import FAULT_KINDS

    if kind.needs is None:
        return True
    if isinstance(kind.needs, tuple):
        return kind.needs in CONTROLS
    return kind.needs in FAULT_KINDS


class Schedule:
    """The seed's events, one at a time: the kind drawn by weight among the kinds served, then
    its parameters. Deterministic for a seed (and the kinds served)."""

    def __init__(self, w: World, kinds: dict[str, Kind] | None = None) -> None:
        self.world = w
        self.kinds = {
            name: k for name, k in (kinds if kinds is not None else EVENTS).items() if served(k)
        }
        self.rng = random.Random(f"schedule-{w.seed}")
        self.index = 0

    def next(self) -> Event:
        names = list(self.kinds)
        name = self.rng.choices(names, weights=[self.kinds[n].weight for n in names])[0]
        self.index += 1
        return Event(self.index, name, self.kinds[name].draw(self.rng, self.world))

    def run(self, soak: Soak, event: Event) -> str:
        return self.kinds[event.kind].run(soak, event.params)
