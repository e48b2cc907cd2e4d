"""The rebalance plan: which coins to sell and buy, and how much. Pure Python.

A rebalance brings every coin back to its target weight trading only the difference (SPEC §2):
overweight coins are sold first and the proceeds buy the underweight ones. Fees are paid out of
the portfolio: the plan solves for the value the portfolio has *after* fees, so that every coin
can end at exactly its target share of it. Every leg is rounded down to the exchange's quantity
step and checked against its minimum quantity and minimum order value; a leg that cannot meet
them is skipped and reported (SPEC §4).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from .config import RebalanceConfig
from .messages import SKIP_MESSAGE
from .portfolio import Portfolio
from .rules import NO_RULES, MarketRules

Side = Literal["buy", "sell"]


@dataclass(frozen=True)
class Leg:
    """One order of a rebalance: ``qty`` coins at ``price`` (stake currency per coin)."""

    coin: str
    side: Side
    qty: float
    price: float

    @property
    def value(self) -> float:
        return self.qty * self.price


@dataclass(frozen=True)
class SkippedLeg:
    """A leg the exchange would refuse: what it wanted (value in stake currency) and why."""

    coin: str
    side: Side
    value: float
    reason: str


@dataclass(frozen=True)
class RebalancePlan:
    """Sells (executed first), buys, and the legs skipped under the exchange's rules.

    ``buy_values`` is the value each underweight coin should receive; when buys are executed
    after the sells have filled (later, at new prices) they are sized from it with
    ``size_buys``.
    """

    sells: tuple[Leg, ...] = ()
    buys: tuple[Leg, ...] = ()
    skipped: tuple[SkippedLeg, ...] = ()
    buy_values: Mapping[str, float] = field(default_factory=dict)

    @property
    def legs(self) -> tuple[Leg, ...]:
        return self.sells + self.buys

    @property
    def message(self) -> str | None:
        """SPEC §4's message when a rebalance was needed but no leg can trade."""
        if not self.legs and self.skipped:
            return SKIP_MESSAGE
        return None

    @property
    def turnover(self) -> float:
        return math.fsum(leg.value for leg in self.legs)


def post_fee_total(
    total: float, values: Mapping[str, float], targets: Mapping[str, float], fee: float
) -> float:
    """Value the portfolio has after a full rebalance that pays ``fee`` on every leg.

    Solves T' = total - fee * sum_i |w_i T' - V_i| (coins held but not targeted have w = 0).
    The right-hand side is a contraction with constant ``fee`` < 1, so iteration converges fast.
    """
    coins = set(values) | set(targets)
    t_after = total
    for _ in range(100):
        turnover = math.fsum(abs(targets.get(c, 0.0) * t_after - values.get(c, 0.0)) for c in coins)
        nxt = total - fee * turnover
        if abs(nxt - t_after) <= 1e-12 * max(1.0, abs(total)):
            return nxt
        t_after = nxt
    return t_after


def _rules(rules: Mapping[str, MarketRules], coin: str) -> MarketRules:
    return rules.get(coin, NO_RULES)


def size_buys(
    wanted: Mapping[str, float],
    prices: Mapping[str, float],
    budget: float,
    rules: Mapping[str, MarketRules],
    fee: float,
) -> tuple[tuple[Leg, ...], tuple[SkippedLeg, ...]]:
    """Buy legs for ``wanted`` values (stake currency, fee excluded), never costing more than
    ``budget`` fees included: scaled down pro rata when the budget is short, each quantity
    rounded down to the step, legs under the exchange minimums skipped."""
    wanted = {c: v for c, v in wanted.items() if v > 0}
    cost = math.fsum(wanted.values()) * (1.0 + fee)
    scale = 1.0 if cost <= budget else max(budget, 0.0) / cost
    legs: list[Leg] = []
    skipped: list[SkippedLeg] = []
    for coin, value in wanted.items():
        price = prices[coin]
        rule = _rules(rules, coin)
        qty = rule.floor_qty(value * scale / price)
        reason = rule.refusal(qty, price)
        if reason:
            skipped.append(SkippedLeg(coin, "buy", value * scale, reason))
        else:
            legs.append(Leg(coin, "buy", qty, price))
    return tuple(legs), tuple(skipped)


def _sell_leg(
    coin: str, value: float, held: float, price: float, rule: MarketRules
) -> Leg | SkippedLeg:
    qty = min(rule.floor_qty(min(value / price, held)), held)
    reason = rule.refusal(qty, price)
    if reason:
        return SkippedLeg(coin, "sell", value, reason)
    return Leg(coin, "sell", qty, price)


def plan_rebalance(
    portfolio: Portfolio,
    targets: Mapping[str, float],
    rules: Mapping[str, MarketRules] | None = None,
    fee: float = 0.0,
) -> RebalancePlan:
    """Plan the trades that bring every coin to its target weight (fractions summing to 1).

    Coins held but absent from ``targets`` are sold entirely; the portfolio's cash is invested.
    """
    rules = rules or {}
    values = portfolio.values
    prices = portfolio.prices
    t_after = post_fee_total(portfolio.total, values, targets, fee)
    sells: list[Leg] = []
    skipped: list[SkippedLeg] = []
    buy_values: dict[str, float] = {}
    for coin in list(targets) + [c for c in values if c not in targets]:
        delta = targets.get(coin, 0.0) * t_after - values.get(coin, 0.0)
        if delta > 0:
            buy_values[coin] = delta
        elif delta < 0:
            leg = _sell_leg(
                coin, -delta, portfolio.quantities[coin], prices[coin], _rules(rules, coin)
            )
            if isinstance(leg, Leg):
                sells.append(leg)
            else:
                skipped.append(leg)
    budget = portfolio.cash + math.fsum(leg.value for leg in sells) * (1.0 - fee)
    buys, skipped_buys = size_buys(buy_values, prices, budget, rules, fee)
    return RebalancePlan(tuple(sells), buys, tuple(skipped) + skipped_buys, buy_values)


def plan_deposit(
    portfolio: Portfolio,
    targets: Mapping[str, float],
    amount: float,
    rules: Mapping[str, MarketRules] | None = None,
    fee: float = 0.0,
) -> RebalancePlan:
    """Add ``amount`` of stake currency and rebalance so every coin ends at its target (SPEC §3)."""
    grown = Portfolio(portfolio.quantities, portfolio.prices, portfolio.cash + amount)
    return plan_rebalance(grown, targets, rules, fee)


def plan_withdrawal(
    portfolio: Portfolio,
    targets: Mapping[str, float],
    amount: float,
    rules: Mapping[str, MarketRules] | None = None,
    fee: float = 0.0,
) -> RebalancePlan:
    """Sell each coin for ``target weight × amount`` (SPEC §3). Legs under the exchange minimum
    are skipped, so less than ``amount`` may be freed: ``freed(plan, fee)`` tells how much."""
    rules = rules or {}
    sells: list[Leg] = []
    skipped: list[SkippedLeg] = []
    for coin, weight in targets.items():
        held = portfolio.quantities.get(coin, 0.0)
        if held <= 0:
            continue
        leg = _sell_leg(coin, weight * amount, held, portfolio.prices[coin], _rules(rules, coin))
        if isinstance(leg, Leg):
            sells.append(leg)
        else:
            skipped.append(leg)
    return RebalancePlan(tuple(sells), (), tuple(skipped))


def freed(plan: RebalancePlan, fee: float = 0.0) -> float:
    """Stake currency the plan's sells free, net of fees."""
    return math.fsum(leg.value for leg in plan.sells) * (1.0 - fee)


def skip_risk(cfg: RebalanceConfig, min_order: Mapping[str, float]) -> str | None:
    """A warning when the investment and the drift limit make skipped rebalances likely: a
    rebalance at the limit moves about ``investment x limit / 100`` out of one coin, shared
    by the others, so a leg is about that divided by (coins - 1). None when legs clear the
    largest minimum order."""
    n = len(cfg.coins)
    need = max(min_order.values(), default=0.0)
    limit = cfg.drift_limit
    if n < 2 or need <= 0 or limit <= 0:
        return None
    leg = cfg.investment * limit / 100.0 / (n - 1)
    if leg >= need:
        return None
    stake = cfg.stake_currency
    key = "rebalance.threshold" if cfg.trigger == "threshold" else "rebalance.interval_min_drift"
    investment = need * 100.0 * (n - 1) / limit
    drift = need * 100.0 * (n - 1) / cfg.investment
    fix = f"raise rebalance.investment to about {investment:.0f} {stake}"
    if drift <= 50:
        fix += f" or {key} to about {drift:.1f}"
    return (
        f"Skipped rebalances are likely: with rebalance.investment = {cfg.investment:g} and "
        f"{key} = {limit:g}, a rebalance leg is about {leg:.2f} {stake}, under the exchange "
        f"minimum order of {need:.2f} {stake}; {fix}"
    )
