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
(``ft/orders.py``). In live trading it is the next loop after the sells filled.

Two requests come from outside the trigger (a config change applied by the adapter):

- ``Snapshot.force``: rebalance now whatever the trigger says (funds added, coins changed);
- ``Snapshot.withdraw``: remove that much stake currency (SPEC §3): each coin sells its target
  share; once the sells have filled, ``Step.withdrawn`` is the cash they actually freed, which
  leaves the portfolio.
- ``Snapshot.deposit``: an auto-invest deposit of that much has joined the portfolio's cash
  (SPEC §7): it buys the underweight coins first and sells nothing (``plan_cash_flow``); the
  trigger is asked again on the next loop, with the deposit invested.

``State`` is plain data (``to_dict``/``from_dict``) so that the adapter can persist it and a
restart resumes a half-done rebalance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from typing import Any, Literal

from .config import RebalanceConfig
from .messages import DEPOSIT_KEPT, SKIP_MESSAGE
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
from .triggers import IntervalTrigger, band_for, trigger_for

_trigger = lru_cache(maxsize=16)(trigger_for)

Phase = Literal["idle", "selling", "withdrawing"]


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

    kind: Literal["rebalance", "buys", "skipped", "withdrawal", "withdrawn", "deposit"]
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
    """Decide what to do now. Pure: same inputs, same outputs."""
    if snap.busy or snap.first_buy is None:
        return Step(state, {})
    targets = cfg.weights
    pf = snap.portfolio
    rel = cfg.relative  # drift in percent of the targets (threshold_mode relative)
    if state.phase == "withdrawing":
        freed_cash = max(0.0, pf.cash - (state.cash_before or 0.0))
        event = Event(
            "withdrawn",
            snap.now,
            max_drift(pf, targets, rel),
            pf.weights(),
            pf.weights(),
            amount=freed_cash,
            relative=rel,
        )
        return Step(replace(state, phase="idle", cash_before=None), {}, (event,), freed_cash)
    if snap.withdraw > 0 and state.phase == "idle":
        out = plan_withdrawal(pf, targets, snap.withdraw, snap.rules, snap.fee)
        before = pf.weights()
        event = Event(
            "withdrawal",
            snap.now,
            max_drift(pf, targets, rel),
            before,
            projected_weights(pf, out.sells, snap.fee),
            out.sells,
            out.skipped,
            None if out.sells else SKIP_MESSAGE,
            amount=snap.withdraw,
            relative=rel,
        )
        if not out.sells:
            return Step(state, {}, (event,))
        new = replace(state, phase="withdrawing", cash_before=pf.cash)
        return Step(new, {leg.coin: leg for leg in out.sells}, (event,))
    if snap.deposit > 0 and state.phase == "idle":
        out = plan_cash_flow(pf, targets, snap.deposit, snap.rules, snap.fee)
        event = Event(
            "deposit",
            snap.now,
            max_drift(pf, targets, rel),
            pf.weights(),
            projected_weights(pf, out.buys, snap.fee),
            out.buys,
            out.skipped,
            None if out.buys else DEPOSIT_KEPT,
            amount=snap.deposit,
            relative=rel,
        )
        return Step(state, {leg.coin: leg for leg in out.buys}, (event,))
    if state.phase == "selling":
        buys, skipped = size_buys(state.pending_buys, pf.prices, pf.cash, snap.rules, snap.fee)
        event = Event(
            "buys",
            snap.now,
            max_drift(pf, targets, rel),
            pf.weights(),
            projected_weights(pf, buys, snap.fee),
            buys,
            skipped,
            relative=rel,
        )
        new = replace(state, phase="idle", pending_buys={}, last_rebalance=snap.now)
        return Step(new, {leg.coin: leg for leg in buys}, (event,))

    trigger = _trigger(cfg)
    drift = max_drift(pf, targets, rel)
    if not snap.force:
        if not trigger.check_due(snap.now, snap.first_buy, state.last_check):
            return Step(state, {})
        if isinstance(trigger, IntervalTrigger):  # a threshold trigger checks every time
            state = replace(state, last_check=snap.now)
        if not trigger.wants(drift):
            if state.skipping is not None:  # the episode is over: a new one is said again
                state = replace(state, skipping=None)
            return Step(state, {})
    # A forced rebalance (funds added, coins changed) goes to the targets whatever rebalance_to
    # says: new money or a new allocation is put at its weights.
    band = None if snap.force else band_for(cfg)
    plan: RebalancePlan = plan_rebalance(pf, targets, snap.rules, snap.fee, band)
    before = pf.weights()
    if not plan.legs and not plan.skipped:
        return Step(state, {})  # forced, but already at the targets
    if plan.message:
        signature = skip_signature(plan.skipped)
        if state.skipping == signature:  # the same legs are still too small: said already
            return Step(state, {})
        hint = unblock_hint(plan.skipped, pf, snap.rules, cfg.stake_currency)
        event = Event(
            "skipped",
            snap.now,
            drift,
            before,
            before,
            (),
            plan.skipped,
            plan.message,
            hint=hint,
            relative=rel,
        )
        new = replace(state, skipped_rebalances=state.skipped_rebalances + 1, skipping=signature)
        return Step(new, {}, (event,))
    if state.skipping is not None:
        state = replace(state, skipping=None)
    if plan.sells:
        # The buys are sized (and their skipped legs reported) once the sells have filled.
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
    event = Event(
        "rebalance",
        snap.now,
        drift,
        before,
        projected_weights(pf, plan.legs, snap.fee),
        placed,
        skipped,
        relative=rel,
    )
    return Step(new, {leg.coin: leg for leg in placed}, (event,))


__all__ = ["Snapshot", "State", "Event", "Step", "step", "drift_points"]
