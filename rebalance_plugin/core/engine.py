"""The rebalancer's decision loop as a pure state machine. No Freqtrade import.

Each bot iteration (a candle in a backtest, a loop in live trading) the adapter takes a
``Snapshot`` of the portfolio and calls ``step(state, snapshot)``. It gets back the new state,
the orders to place now (``Order`` per coin) and the events to report.

A rebalance runs in two phases so that buys never race the sells for cash:

1. ``selling``: the overweight coins are sold (all sells placed at once);
2. once no order is open any more (the sells have filled), the underweight coins are bought with
   the cash actually available, sized from the values planned in phase 1 (``size_buys``).

In a Freqtrade backtest the pairs of one candle are processed one after another with immediate
fills: the adapter runs phase 2 at the first pair's turn after the last sell, in the same candle
(``ft/turns.py``). In live trading it is the next loop after the sells filled.

Two requests come from outside the trigger (a config change applied by the adapter):

- ``Snapshot.force``: rebalance now whatever the trigger says (funds added, coins changed);
- ``Snapshot.withdraw``: remove that much stake currency (docs/live-trading.md#funds-and-coins):
  each coin sells its target share; once the sells have filled, ``Step.withdrawn`` is the cash
  they actually freed, which leaves the portfolio.
- ``Snapshot.deposit``: an auto-invest deposit of that much has joined the portfolio's cash
  (docs/auto-invest.md#how-a-deposit-is-invested): it buys the underweight coins first and sells
  nothing (``plan_cash_flow``); the trigger is asked again on the next loop, with the deposit
  invested.

``State`` is plain data (``to_dict``/``from_dict``) so that the adapter can persist it and a
restart resumes a half-done rebalance.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from typing import Any, Literal

from .config import RebalanceConfig
from .plan import (
    Leg,
    RebalancePlan,
    SkippedLeg,
    plan_cash_flow,
    plan_rebalance,
    plan_withdrawal,
    size_buys,
)
from .portfolio import Portfolio, drift_points, max_drift
from .rules import MarketRules
from .texts import DEPOSIT_KEPT, SKIP_MESSAGE
from .triggers import IntervalTrigger, band_for, trigger_for

_trigger = lru_cache(maxsize=16)(trigger_for)

Phase = Literal["idle", "selling", "withdrawing"]
EventKind = Literal["rebalance", "buys", "skipped", "withdrawal", "withdrawn", "deposit"]


@dataclass(frozen=True)
class Snapshot:
    """The portfolio as the bot sees it now."""

    now: float  # POSIX seconds
    portfolio: Portfolio
    rules: Mapping[str, MarketRules]
    fee: float
    first_buy: float | None  # time of the portfolio's first buy; None before it
    busy: bool = False  # an order of the portfolio is still open
    force: bool = False  # rebalance now, whatever the trigger says
    withdraw: float = 0.0  # stake currency to take out of the portfolio now
    deposit: float = 0.0  # an auto-invest deposit, already in the portfolio's cash, to invest


@dataclass(frozen=True)
class State:
    phase: Phase = "idle"
    last_check: float | None = None
    last_rebalance: float | None = None
    pending_buys: Mapping[str, float] = field(default_factory=dict)
    rebalances: int = 0
    skipped_rebalances: int = 0
    cash_before: float | None = None  # withdrawing: the portfolio's cash before the sells
    # A skipped rebalance being announced: its legs (``skip_signature``), said once per episode.
    skipping: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["pending_buys"] = dict(self.pending_buys)
        if self.skipping is None:  # records without an episode keep the 0.1.0 format
            del out["skipping"]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> State:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class Event:
    """Something to report: ``kind`` is ``rebalance`` (orders placed), ``buys`` (phase 2),
    ``skipped`` (a rebalance was due but no leg can trade), ``withdrawal`` (sells placed to
    remove funds), ``withdrawn`` (they filled; ``amount`` is the cash freed) or ``deposit``
    (an auto-invest deposit of ``amount`` and the buys it makes). ``drift`` is
    in percentage points, or in percent of the targets when ``relative``."""

    kind: EventKind
    time: float
    drift: float
    weights_before: Mapping[str, float]
    weights_after: Mapping[str, float]
    legs: tuple[Leg, ...] = ()
    skipped: tuple[SkippedLeg, ...] = ()
    message: str | None = None
    amount: float = 0.0
    hint: str | None = None  # a skipped rebalance: what would make its legs tradable
    relative: bool = False  # drift measured in percent of the targets (threshold_mode)


@dataclass(frozen=True)
class Step:
    state: State
    orders: Mapping[str, Leg]
    events: tuple[Event, ...] = ()
    withdrawn: float = 0.0  # cash freed by a finished withdrawal: it leaves the portfolio


def skip_signature(skipped: tuple[SkippedLeg, ...]) -> str:
    """Which legs a skipped rebalance could not trade: the same signature on the next loop is
    the same episode (announced once); another one is news."""
    return ", ".join(sorted(f"{s.side} {s.coin}" for s in skipped))


def unblock_hint(
    skipped: tuple[SkippedLeg, ...],
    pf: Portfolio,
    rules: Mapping[str, MarketRules],
    stake: str = "USDT",
) -> str | None:
    """What would make the first leg tradable: its minimum order, and the drift or portfolio
    value at which it reaches it (a leg grows with both)."""
    best: tuple[float, SkippedLeg, float] | None = None
    for leg in skipped:
        rule = rules.get(leg.coin)
        price = pf.prices.get(leg.coin)
        if rule is None or not price or leg.value <= 0:
            continue
        need = max(rule.min_notional, rule.min_qty * price, rule.qty_step * price)
        factor = need / leg.value
        if best is None or factor < best[0]:
            best = (factor, leg, need)
    if best is None:
        return None
    factor, leg, need = best
    return (
        f"The nearest leg, {leg.side} {leg.coin} for {leg.value:.2f} {stake}, needs "
        f"{need:.2f} {stake}: it trades once the drift is about {factor:.1f}x larger, or at "
        f"this drift with a portfolio of about {pf.total * factor:.0f} {stake} "
        f"(now {pf.total:.0f} {stake})."
    )


def projected_weights(portfolio: Portfolio, legs: tuple[Leg, ...], fee: float) -> dict[str, float]:
    """Weights after ``legs`` fill at their prices, fees paid from cash."""
    qty = dict(portfolio.quantities)
    cash = portfolio.cash
    for leg in legs:
        if leg.side == "sell":
            qty[leg.coin] = qty.get(leg.coin, 0.0) - leg.qty
            cash += leg.value * (1.0 - fee)
        else:
            qty[leg.coin] = qty.get(leg.coin, 0.0) + leg.qty
            cash -= leg.value * (1.0 + fee)
    return Portfolio(qty, portfolio.prices, cash).weights()


def step(cfg: RebalanceConfig, state: State, snap: Snapshot) -> Step:
    """Decide what to do now. Pure: same inputs, same outputs. Nothing while an order is open
    or before the first buy; otherwise the function of the phase the portfolio is in answers
    (``_phase_move``)."""
    if snap.busy or snap.first_buy is None:
        return Step(state, {})
    return _phase_move(state, snap)(cfg, state, snap)


Move = Callable[[RebalanceConfig, State, Snapshot], Step]


def _phase_move(state: State, snap: Snapshot) -> Move:
    """Which function answers now: a withdrawal or a rebalance under way goes on first; an idle
    portfolio serves a withdrawal, then a deposit, before its trigger is asked."""
    if state.phase == "withdrawing":
        return _finish_withdrawal
    if state.phase == "selling":
        return _buy
    if snap.withdraw > 0:
        return _withdraw
    if snap.deposit > 0:
        return _invest_deposit
    return _rebalance


def _orders(legs: tuple[Leg, ...]) -> dict[str, Leg]:
    return {leg.coin: leg for leg in legs}


def _event(
    kind: EventKind,
    cfg: RebalanceConfig,
    snap: Snapshot,
    legs: tuple[Leg, ...] = (),
    skipped: tuple[SkippedLeg, ...] = (),
    *,
    filled: tuple[Leg, ...] | None = None,
    message: str | None = None,
    amount: float = 0.0,
    hint: str | None = None,
) -> Event:
    """An event of this step: its time, drift and weights before come from the snapshot; the
    weights after are those once ``filled`` (default: ``legs``, the orders placed) has filled at
    the snapshot's prices (unchanged without a leg)."""
    pf = snap.portfolio
    before = pf.weights()
    done = legs if filled is None else filled
    return Event(
        kind=kind,
        time=snap.now,
        drift=max_drift(pf, cfg.weights, cfg.relative),
        weights_before=before,
        weights_after=projected_weights(pf, done, snap.fee) if done else before,
        legs=legs,
        skipped=skipped,
        message=message,
        amount=amount,
        hint=hint,
        relative=cfg.relative,
    )


def _finish_withdrawal(cfg: RebalanceConfig, state: State, snap: Snapshot) -> Step:
    """``withdrawing``: the sells have filled; the cash they freed leaves the portfolio."""
    freed = max(0.0, snap.portfolio.cash - (state.cash_before or 0.0))
    event = _event("withdrawn", cfg, snap, amount=freed)
    return Step(replace(state, phase="idle", cash_before=None), {}, (event,), freed)


def _withdraw(cfg: RebalanceConfig, state: State, snap: Snapshot) -> Step:
    """A withdrawal asked for: each coin sells its target share of it (``plan_withdrawal``)."""
    pf = snap.portfolio
    out = plan_withdrawal(pf, cfg.weights, snap.withdraw, snap.rules, snap.fee)
    message = None if out.sells else SKIP_MESSAGE
    event = _event(
        "withdrawal", cfg, snap, out.sells, out.skipped, message=message, amount=snap.withdraw
    )
    if not out.sells:
        return Step(state, {}, (event,))
    new = replace(state, phase="withdrawing", cash_before=pf.cash)
    return Step(new, _orders(out.sells), (event,))


def _invest_deposit(cfg: RebalanceConfig, state: State, snap: Snapshot) -> Step:
    """An auto-invest deposit: it buys the underweight coins first, selling nothing."""
    out = plan_cash_flow(snap.portfolio, cfg.weights, snap.deposit, snap.rules, snap.fee)
    message = None if out.buys else DEPOSIT_KEPT
    event = _event(
        "deposit", cfg, snap, out.buys, out.skipped, message=message, amount=snap.deposit
    )
    return Step(state, _orders(out.buys), (event,))


def _buy(cfg: RebalanceConfig, state: State, snap: Snapshot) -> Step:
    """``selling``: the sells have filled; the buys are sized with the cash actually there."""
    pf = snap.portfolio
    # A coin that stopped trading since the sells (``halts.py``) has no price here: no buy.
    pending = {c: v for c, v in state.pending_buys.items() if c in pf.prices}
    buys, skipped = size_buys(pending, pf.prices, pf.cash, snap.rules, snap.fee)
    new = replace(state, phase="idle", pending_buys={}, last_rebalance=snap.now)
    return Step(new, _orders(buys), (_event("buys", cfg, snap, buys, skipped),))


def _rebalance(cfg: RebalanceConfig, state: State, snap: Snapshot) -> Step:
    """``idle``: when the trigger wants it (or the rebalance is forced), plan the legs."""
    if not snap.force:
        state, due = _ask_trigger(cfg, state, snap)
        if not due:
            return Step(state, {})
    # A forced rebalance (funds added, coins changed) goes to the targets whatever rebalance_to
    # says: new money or a new allocation is put at its weights.
    band = None if snap.force else band_for(cfg)
    plan = plan_rebalance(snap.portfolio, cfg.weights, snap.rules, snap.fee, band)
    if not plan.legs and not plan.skipped:
        return Step(state, {})  # forced, but already at the targets
    if plan.message:
        return _skip(cfg, state, snap, plan)
    return _place(cfg, replace(state, skipping=None), snap, plan)


def _ask_trigger(cfg: RebalanceConfig, state: State, snap: Snapshot) -> tuple[State, bool]:
    """Whether the trigger wants a rebalance now, and the state with the check noted (an
    interval trigger remembers its last check; a threshold trigger checks every time)."""
    trigger = _trigger(cfg)
    assert snap.first_buy is not None  # step() answers before the first buy
    if not trigger.check_due(snap.now, snap.first_buy, state.last_check):
        return state, False
    if isinstance(trigger, IntervalTrigger):
        state = replace(state, last_check=snap.now)
    if trigger.wants(max_drift(snap.portfolio, cfg.weights, cfg.relative)):
        return state, True
    return replace(state, skipping=None), False  # the episode is over: a new one is said again


def _skip(cfg: RebalanceConfig, state: State, snap: Snapshot, plan: RebalancePlan) -> Step:
    """No leg can trade: said once per episode (the same legs), with what would unblock it."""
    signature = skip_signature(plan.skipped)
    if state.skipping == signature:  # the same legs are still too small: said already
        return Step(state, {})
    hint = unblock_hint(plan.skipped, snap.portfolio, snap.rules, cfg.stake_currency)
    event = _event("skipped", cfg, snap, (), plan.skipped, message=plan.message, hint=hint)
    new = replace(state, skipped_rebalances=state.skipped_rebalances + 1, skipping=signature)
    return Step(new, {}, (event,))


def _place(cfg: RebalanceConfig, state: State, snap: Snapshot, plan: RebalancePlan) -> Step:
    """Sells first: the buys wait in ``pending_buys`` and are sized (their skipped legs
    reported) once the sells have filled; with nothing to sell, the buys go now."""
    if plan.sells:
        placed = plan.sells
        skipped = tuple(s for s in plan.skipped if s.side == "sell")
        new = replace(
            state,
            phase="selling",
            pending_buys=dict(plan.buy_values),
            rebalances=state.rebalances + 1,
        )
    else:
        placed, skipped = plan.buys, plan.skipped
        new = replace(state, last_rebalance=snap.now, rebalances=state.rebalances + 1)
    event = _event("rebalance", cfg, snap, placed, skipped, filled=plan.legs)
    return Step(new, _orders(placed), (event,))


__all__ = ["Snapshot", "State", "Event", "Step", "step", "drift_points"]
