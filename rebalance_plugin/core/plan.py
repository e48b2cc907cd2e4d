"""The rebalance plan: which coins to sell and buy, and how much. Pure Python.

A rebalance brings every coin back to its target weight trading only the difference
(docs/how-it-works.md#the-plan):
overweight coins are sold first and the proceeds buy the underweight ones. Fees are paid out of
the portfolio: the plan solves for the value the portfolio has *after* fees, so that every coin
can end at exactly its target share of it. Every leg is rounded down to the exchange's quantity
step and checked against its minimum quantity and minimum order value; a leg that cannot meet
them is skipped and reported (docs/how-it-works.md#exchange-rules).

With a ``Band`` (``rebalance_to`` band) only the coins off by more than the band's width trade
to its edge, and the money they free or need is balanced by the coins furthest from their
targets (``band_values``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from .autoinvest import cash_flow_values
from .config import RebalanceConfig
from .portfolio import Band, Portfolio
from .rules import NO_RULES, MarketRules
from .texts import SKIP_MESSAGE

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
        """The skip message (docs/how-it-works.md#exchange-rules) when a rebalance was needed but no
        leg can trade."""
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


#: A coin is off its band when its drift exceeds the width by more than this (the triggers'
#: ``DRIFT_EPSILON``: a coin exactly at the edge is in the band).
BAND_EPSILON = 1e-9
#: A balancing leg counts as reaching ``min_leg`` within this relative float error.
MIN_LEG_SLACK = 1e-9


@dataclass(frozen=True)
class BandLimits:
    """What the exchange's rules ask of a band rebalance, in stake currency (``band_limits``);
    all zero without rules.

    - ``min_trade``: an offending coin trades at least this much (further inside its band);
    - ``min_leg``: a balancing leg smaller than this is not planned;
    - ``step``: per coin, the value of one quantity step: an offending coin aims that much
      inside its edge, so that its order, rounded down to the step, ends inside the band
      (rounded down from the edge itself it would end just outside, and the next candle would
      trigger again).
    """

    min_trade: float = 0.0
    min_leg: float = 0.0
    step: Mapping[str, float] = field(default_factory=dict)


def band_values(
    values: Mapping[str, float],
    targets: Mapping[str, float],
    total: float,
    t_after: float,
    band: Band,
    limits: BandLimits = BandLimits(),
) -> dict[str, float]:
    """Value of every coin after a band rebalance, the portfolio being worth ``t_after``.

    1. A coin off by more than the band's width (measured on the weights before trading,
       ``value / total``) goes to the band's nearest edge, one quantity step inside it: an
       overweight coin is sold down to ``(target + half) x t_after - step``, an underweight
       one bought up to ``(target - half) x t_after + step``; it trades at least
       ``min_trade`` (further inside the band), but never past its target. Coins held but not
       targeted are sold entirely. Every other coin stays.
    2. The rest, ``t_after`` minus those values (money freed, or missing, plus the cash), is
       balanced by the coins on its side of their targets, furthest first (drift before
       trading, in the band's unit; ties in config order), each at most to its target: money
       over buys the coins furthest below target, money short is raised by selling the coins
       furthest above. A balancing leg is at least ``min_leg``: a coin with less room than
       that is passed over, a sale smaller than that is raised to it (the surplus stays
       cash), money over that is less than it stays cash. No coin crosses its target or
       leaves the band.
    """
    end, drift = _band_edges(values, targets, total, t_after, band, limits)
    for coin in values:
        if coin not in targets:
            end[coin] = 0.0
    return _balance_rest(end, drift, targets, t_after, limits.min_leg)


def _band_edges(
    values: Mapping[str, float],
    targets: Mapping[str, float],
    total: float,
    t_after: float,
    band: Band,
    limits: BandLimits,
) -> tuple[dict[str, float], dict[str, float]]:
    """Step 1 of ``band_values``: each targeted coin's value once the coins off their band are
    at its edge (the others stay), and every coin's drift before trading, in the band's unit."""
    end: dict[str, float] = {}
    drift: dict[str, float] = {}
    for coin, target in targets.items():
        value = values.get(coin, 0.0)
        half = band.half(target)
        step = limits.step.get(coin, 0.0)
        at_target = target * t_after
        drift[coin] = band.drift(value / total if total > 0 else 0.0, target)
        if drift[coin] > band.width + BAND_EPSILON:  # over: sell, never past the target
            edge = min(value, (target + half) * t_after - step, value - limits.min_trade)
            end[coin] = max(edge, min(value, at_target))
        elif drift[coin] < -band.width - BAND_EPSILON:  # under: buy, never past the target
            edge = max(value, (target - half) * t_after + step, value + limits.min_trade)
            end[coin] = min(edge, max(value, at_target))
        else:
            end[coin] = value
    return end, drift


def _balance_rest(
    edges: Mapping[str, float],
    drift: Mapping[str, float],
    targets: Mapping[str, float],
    t_after: float,
    min_leg: float,
) -> dict[str, float]:
    """Step 2 of ``band_values``: the money over (or short) after ``edges`` buys the coins
    furthest below their targets (or is raised by selling those furthest above), each leg at
    least ``min_leg``, no coin past its target."""
    end = dict(edges)
    least = min_leg * (1.0 - MIN_LEG_SLACK)
    rest = t_after - math.fsum(end.values())
    if rest > 0:
        below = [c for c in targets if end[c] < targets[c] * t_after]
        for coin in sorted(below, key=lambda c: drift[c]):
            take = min(targets[coin] * t_after - end[coin], rest)
            if take < least or take <= 0:
                continue  # too little room, or too little money: the next coin, or cash
            end[coin] += take
            rest -= take
    elif rest < 0:
        above = [c for c in targets if end[c] > targets[c] * t_after]
        for coin in sorted(above, key=lambda c: -drift[c]):
            if rest >= 0:
                break
            give = min(end[coin] - targets[coin] * t_after, max(-rest, min_leg))
            if give < least or give <= 0:
                continue  # too little above its target: the next coin
            end[coin] -= give
            rest += give  # a sale raised to min_leg leaves its surplus as cash
    return end


def post_fee_band_values(
    total: float,
    values: Mapping[str, float],
    targets: Mapping[str, float],
    band: Band,
    fee: float,
    limits: BandLimits = BandLimits(),
) -> dict[str, float]:
    """``band_values`` at the value the portfolio has after paying ``fee`` on every leg:
    T' = total - fee x sum_i |end_i(T') - V_i| (a contraction, as in ``post_fee_total``)."""
    t_after = total
    for _ in range(100):
        end = band_values(values, targets, total, t_after, band, limits)
        turnover = math.fsum(abs(end[c] - values.get(c, 0.0)) for c in end)
        nxt = total - fee * turnover
        if abs(nxt - t_after) <= 1e-12 * max(1.0, abs(total)):
            break
        t_after = nxt
    return band_values(values, targets, total, t_after, band, limits)


def band_limits(
    coins: Iterable[str],
    prices: Mapping[str, float],
    rules: Mapping[str, MarketRules],
    fee: float,
) -> BandLimits:
    """The ``BandLimits`` of the portfolio's coins from the exchange's rules: ``least``, the
    largest minimum order (its value, or its minimum quantity at the price), and ``step``, the
    largest quantity step's value.

    - ``min_leg = least + step``: a leg of that value, rounded down to its step, still clears
      every coin's minimum.
    - ``min_trade = (least + 2 step) x (1 + fee) / (1 - fee)``: an offending coin's sale of
      that much, rounded down, pays (after both fees) for a buy that still clears
      ``min_leg``; the same holds for its buy and the sale that pays for it.

    Without them a band rebalance leaves the coin at the edge, and the next tick past it asks
    for a leg of cents: a skipped rebalance at every wiggle."""
    least = largest_step = 0.0
    steps: dict[str, float] = {}
    for coin in coins:
        rule = _rules(rules, coin)
        price = prices[coin]
        least = max(least, rule.min_notional, rule.min_qty * price)
        steps[coin] = rule.qty_step * price
        largest_step = max(largest_step, steps[coin])
    return BandLimits(
        min_trade=(least + 2.0 * largest_step) * (1.0 + fee) / (1.0 - fee),
        min_leg=least + largest_step,
        step=steps,
    )


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
    band: Band | None = None,
) -> RebalancePlan:
    """Plan the trades that bring every coin to its target weight (fractions summing to 1),
    or, with a ``band``, only the coins off it back to its edge (``band_values``).

    Coins held but absent from ``targets`` are sold entirely; the portfolio's cash is invested.
    """
    rules = rules or {}
    values = portfolio.values
    prices = portfolio.prices
    if band is None:
        t_after = post_fee_total(portfolio.total, values, targets, fee)
        ends = {c: targets.get(c, 0.0) * t_after for c in list(targets) + list(values)}
    else:
        limits = band_limits([c for c in targets if c in prices], prices, rules, fee)
        ends = post_fee_band_values(portfolio.total, values, targets, band, fee, limits)
    sells: list[Leg] = []
    skipped: list[SkippedLeg] = []
    buy_values: dict[str, float] = {}
    for coin in list(targets) + [c for c in values if c not in targets]:
        delta = ends[coin] - values.get(coin, 0.0)
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
    """Add ``amount`` of stake currency and rebalance so every coin ends at its target
    (docs/how-it-works.md#worked-examples)."""
    grown = Portfolio(portfolio.quantities, portfolio.prices, portfolio.cash + amount)
    return plan_rebalance(grown, targets, rules, fee)


def plan_withdrawal(
    portfolio: Portfolio,
    targets: Mapping[str, float],
    amount: float,
    rules: Mapping[str, MarketRules] | None = None,
    fee: float = 0.0,
) -> RebalancePlan:
    """Sell each coin for ``target weight × amount`` (docs/how-it-works.md#worked-examples). Legs
    under the exchange minimum are skipped, so less than ``amount`` may be freed:
    ``freed(plan, fee)`` tells how much."""
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
    by the others, so a leg is about that divided by (coins - 1). With ``threshold_mode``
    relative the limit in points is ``limit x target`` of the smallest target (the coin whose
    band is narrowest). None when legs clear the largest minimum order."""
    n = len(cfg.coins)
    need = max(min_order.values(), default=0.0)
    limit = cfg.drift_limit
    if n < 2 or need <= 0 or limit <= 0:
        return None
    # points per unit of the limit: 1, or the smallest target as a fraction (relative)
    per_unit = min(w for _, w in cfg.coins) / 100.0 if cfg.relative else 1.0
    leg = cfg.investment * limit * per_unit / 100.0 / (n - 1)
    if leg >= need:
        return None
    stake = cfg.stake_currency
    key = "rebalance.threshold" if cfg.trigger == "threshold" else "rebalance.interval_min_drift"
    investment = need * 100.0 * (n - 1) / (limit * per_unit)
    drift = need * 100.0 * (n - 1) / cfg.investment / per_unit
    unit = " (% of target, threshold_mode relative)" if cfg.relative else ""
    fix = f"raise rebalance.investment to about {investment:.0f} {stake}"
    if drift <= 50:
        fix += f" or {key} to about {drift:.1f}"
    return (
        f"Skipped rebalances are likely: with rebalance.investment = {cfg.investment:g} and "
        f"{key} = {limit:g}{unit}, a rebalance leg is about {leg:.2f} {stake}, under the exchange "
        f"minimum order of {need:.2f} {stake}; {fix}"
    )


def plan_cash_flow(
    portfolio: Portfolio,
    targets: Mapping[str, float],
    amount: float,
    rules: Mapping[str, MarketRules] | None = None,
    fee: float = 0.0,
) -> RebalancePlan:
    """Invest a deposit of ``amount`` (already in ``portfolio.cash``) selling nothing: the
    underweight coins are bought first, in the shares that bring the weights closest to the
    targets (``autoinvest.cash_flow_values``). A leg the exchange would refuse is left out and
    its money shared by the other coins; when no leg can trade, all are reported skipped."""
    rules = rules or {}
    spend = max(0.0, min(amount, portfolio.cash))
    budget = spend / (1.0 + fee)  # the coins' value bought, the fee paid on top
    total = portfolio.total - fee * budget  # the portfolio's value after the buys
    values = portfolio.values
    prices = portfolio.prices
    excluded: frozenset[str] = frozenset()
    previous: RebalancePlan | None = None
    while True:
        wanted = cash_flow_values(values, targets, total, budget, excluded)
        buys: list[Leg] = []
        refused: list[SkippedLeg] = []
        for coin, value in wanted.items():
            leg = _buy_leg(coin, value, prices[coin], _rules(rules, coin))
            if isinstance(leg, Leg):
                buys.append(leg)
            else:
                refused.append(leg)
        if not refused:
            return RebalancePlan((), tuple(buys), (), wanted)
        if not buys:  # nothing more can trade: the last sharing that could, or all skipped
            return previous or RebalancePlan((), (), tuple(refused), wanted)
        previous = RebalancePlan((), tuple(buys), tuple(refused), wanted)
        excluded = excluded | {leg.coin for leg in refused}


def _buy_leg(coin: str, value: float, price: float, rule: MarketRules) -> Leg | SkippedLeg:
    qty = rule.floor_qty(value / price)
    reason = rule.refusal(qty, price)
    if reason:
        return SkippedLeg(coin, "buy", value, reason)
    return Leg(coin, "buy", qty, price)
