"""Auto-invest (docs/auto-invest.md): a fixed amount of stake currency joins the portfolio on a
schedule (Binance Auto-Invest's cycles) and buys the underweight coins first, selling nothing
(cash-flow rebalancing). Pure Python, no Freqtrade import.

- ``parse_auto_invest``: the ``rebalance.auto_invest`` key, validated (``ConfigError`` naming
  the key, the value and the fix);
- ``next_deposit``: the first scheduled time strictly after a time (UTC);
- ``deposit_times``: every scheduled time in a range;
- ``deposit_refusal``: why a deposit due now cannot be paid (the money is not there);
- ``cash_flow_values``: how a deposit is shared between the coins.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

#: Binance Auto-Invest's cycles: the fixed-length ones, in hours.
CYCLE_HOURS: dict[str, int] = {"hourly": 1, "4h": 4, "8h": 8, "12h": 12, "daily": 24}
EVERY = ("hourly", "4h", "8h", "12h", "daily", "weekly", "biweekly", "monthly")
WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
KEYS = ("amount", "every", "weekday", "day", "hour")
#: The example of docs/auto-invest.md and the messages.
EXAMPLE = '{"amount": 100, "every": "weekly", "weekday": "MON", "hour": 9}'


class AutoInvestError(ValueError):
    """A bad ``rebalance.auto_invest``; ``config.py`` turns it into a ``ConfigError``."""


@dataclass(frozen=True)
class AutoInvest:
    """A validated schedule: ``amount`` stake currency ``every`` cycle, at ``hour`` UTC (for
    4h/8h/12h the hour the cycles are counted from), on ``weekday`` (0 = Monday; weekly and
    biweekly) or ``day`` of the month (monthly)."""

    amount: float
    every: str
    hour: int = 0
    weekday: int | None = None
    day: int | None = None

    def describe(self) -> str:
        when = {
            "hourly": "every hour",
            "weekly": f"every {WEEKDAYS[self.weekday or 0]} at {self.hour:02d}:00 UTC",
            "biweekly": f"every other {WEEKDAYS[self.weekday or 0]} at {self.hour:02d}:00 UTC",
            "monthly": f"on day {self.day} of every month at {self.hour:02d}:00 UTC",
            "daily": f"every day at {self.hour:02d}:00 UTC",
        }.get(self.every, f"every {self.every} from {self.hour:02d}:00 UTC")
        return f"{self.amount:g} {when}"


def _fail(key: str, value: Any, fix: str) -> AutoInvestError:
    return AutoInvestError(f"rebalance.auto_invest.{key} = {value!r}: {fix}")


def _int_in(raw: Mapping[str, Any], key: str, low: int, high: int) -> int:
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise _fail(key, value, f"write a whole number from {low} to {high}")
    if not low <= value <= high:
        raise _fail(key, value, f"write a whole number from {low} to {high}")
    return int(value)


def parse_auto_invest(raw: Any) -> AutoInvest | None:
    """``rebalance.auto_invest``: null or absent is off. Raises ``AutoInvestError``. The keys
    are checked in ``KEYS`` order: the first fault found is the one reported."""
    if raw is None:
        return None
    _check_keys(raw)
    amount = raw["amount"]
    if (
        isinstance(amount, bool)
        or not isinstance(amount, (int, float))
        or not math.isfinite(amount)
        or amount <= 0
    ):
        raise _fail("amount", amount, "write the amount of stake currency, a number above 0")
    every = raw["every"]
    if every not in EVERY:
        raise _fail("every", every, f"write one of {', '.join(EVERY)}")
    weekday = _weekday(raw, every)
    day = _day(raw, every)
    hour = _hour(raw, every)
    return AutoInvest(float(amount), every, hour, weekday, day)


def _check_keys(raw: Any) -> None:
    """An object of known keys, with ``amount`` and ``every``."""
    if not isinstance(raw, Mapping):
        raise AutoInvestError(
            f"rebalance.auto_invest must be null (off) or an object such as {EXAMPLE}, got {raw!r}"
        )
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise AutoInvestError(
            f"rebalance.auto_invest: unknown key(s) {', '.join(map(str, unknown))}; known keys "
            f"are {', '.join(KEYS)}"
        )
    for key in ("amount", "every"):
        if key not in raw:
            raise AutoInvestError(f"rebalance.auto_invest.{key} is missing (e.g. {EXAMPLE})")


def _weekday(raw: Mapping[str, Any], every: str) -> int | None:
    """``weekday`` (0 = Monday): required by weekly and biweekly, refused otherwise."""
    weekly = every in ("weekly", "biweekly")
    if "weekday" not in raw:
        if weekly:
            raise AutoInvestError(
                f"rebalance.auto_invest.weekday is missing: {every} needs the day of the week, "
                f"one of {', '.join(WEEKDAYS)}"
            )
        return None
    value = raw["weekday"]
    if not weekly:
        raise _fail("weekday", value, f"weekday is for weekly and biweekly; remove it for {every}")
    name = value.strip().upper() if isinstance(value, str) else value
    if name not in WEEKDAYS:
        raise _fail("weekday", value, f"write one of {', '.join(WEEKDAYS)}")
    return WEEKDAYS.index(name)


def _day(raw: Mapping[str, Any], every: str) -> int | None:
    """``day`` of the month: required by monthly, refused otherwise."""
    if "day" not in raw:
        if every == "monthly":
            raise AutoInvestError(
                "rebalance.auto_invest.day is missing: monthly needs the day of the month, 1 to 28"
            )
        return None
    if every != "monthly":
        raise _fail("day", raw["day"], f"day is for monthly; remove it for {every}")
    return _int_in(raw, "day", 1, 28)


def _hour(raw: Mapping[str, Any], every: str) -> int:
    """``hour`` (UTC, default 0): refused for hourly deposits."""
    if "hour" not in raw:
        return 0
    if every == "hourly":
        raise _fail("hour", raw["hour"], "hourly deposits are made every hour; remove hour")
    return _int_in(raw, "hour", 0, 23)


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _month_slot(year: int, month: int, plan: AutoInvest) -> datetime:
    return datetime(year, month, plan.day or 1, plan.hour, tzinfo=UTC)


def next_deposit(plan: AutoInvest, after: float, anchor: float | None = None) -> float:
    """The first scheduled time strictly after ``after`` (POSIX seconds, UTC).

    Hourly and 4h/8h/12h cycles are on the full hours counted from ``hour`` (8h from 9: 01:00,
    09:00, 17:00); daily at ``hour``; weekly on ``weekday`` at ``hour``; monthly on ``day`` at
    ``hour``. Biweekly is every 14 days from the first slot after ``anchor`` (the portfolio's
    start), as Binance counts a plan's cycles from its creation; without an anchor, from the
    first slot after ``after``."""
    t = _utc(after)
    if plan.every in CYCLE_HOURS:
        step = CYCLE_HOURS[plan.every]
        base = t.replace(minute=0, second=0, microsecond=0)
        offset = (base.hour - plan.hour) % step
        slot = base - timedelta(hours=offset)
        while slot.timestamp() <= after:
            slot += timedelta(hours=step)
        return slot.timestamp()
    if plan.every == "monthly":
        year, month = t.year, t.month
        slot = _month_slot(year, month, plan)
        while slot.timestamp() <= after:
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
            slot = _month_slot(year, month, plan)
        return slot.timestamp()
    # weekly, biweekly
    day0 = t.replace(hour=plan.hour, minute=0, second=0, microsecond=0)
    slot = day0 + timedelta(days=((plan.weekday or 0) - t.weekday()) % 7)
    if slot.timestamp() <= after:
        slot += timedelta(days=7)
    if plan.every == "biweekly" and anchor is not None and anchor < after:
        first = next_deposit(plan, anchor)  # its first slot, on the same weekday
        weeks = round((slot.timestamp() - first) / (7 * 86400))
        if weeks % 2:
            slot += timedelta(days=7)
    return slot.timestamp()


def due_deposit(plan: AutoInvest, started: float, last: float | None, now: float) -> float | None:
    """The scheduled time of the deposit to make at ``now``, or None: the first slot after the
    last one handled (``last``; the portfolio's start before the first), when it has come. A
    slot missed while the bot was down is made once, at the next loop; the one after it is
    then due in turn."""
    slot = next_deposit(plan, started if last is None else last, started)
    return slot if slot <= now else None


#: A deposit fits ``available_capital`` when it passes it by at most this share of the deposit
#: (fee rounding).
CAPITAL_SLACK = 1e-6


def deposit_refusal(
    amount: float,
    funded: float,
    capital: float | None,
    spare: Callable[[], float | None],
    *,
    slack: float,
    wallet: str,
    stake: str,
) -> str | None:
    """Why a deposit of ``amount`` cannot be paid now (None: it can). Two limits, in turn:

    - ``capital`` (``available_capital``: this bot's share of an account several bots trade
      on; None: not set): the portfolio's money (``funded``) with the deposit may not pass it;
    - the money ``wallet`` holds beyond the portfolio's own cash (``spare()``, asked only when
      the first limit holds, since it may read the account; None: no wallet to ask) must cover
      the deposit, give or take ``slack``: the cash figure is Freqtrade's fee arithmetic and the
      exchange rounds its own way, so cents must not refuse a deposit (its buys are sized from
      the cash the wallet really has).

    The reason names the limit, the figures and the fix (``stake``: the stake currency)."""
    if capital is not None and funded + amount > capital + CAPITAL_SLACK * amount:
        return (
            f"available_capital = {capital:g} is this bot's share of the account and the "
            f"portfolio has {funded:g} {stake} of it; raise available_capital to make room "
            f"for the deposits"
        )
    free = spare()
    if free is None or free + slack >= amount:
        return None
    return f"{wallet} has {max(free, 0.0):.2f} {stake} beyond the portfolio's own money"


def deposit_times(
    plan: AutoInvest, start: float, end: float, anchor: float | None = None
) -> list[float]:
    """Every scheduled time ``t`` with ``start < t <= end``."""
    anchor = start if anchor is None else anchor
    times: list[float] = []
    t = next_deposit(plan, start, anchor)
    while t <= end:
        times.append(t)
        t = next_deposit(plan, t, anchor)
    return times


def cash_flow_values(
    values: Mapping[str, float],
    targets: Mapping[str, float],
    total: float,
    budget: float,
    excluded: frozenset[str] = frozenset(),
) -> dict[str, float]:
    """How ``budget`` (stake currency put into coins, fees aside) is shared: only buys, selling
    nothing, in the shares that bring the weights closest to the targets (least squares).

    After the buys the portfolio is worth ``total`` (``values``, the cash and the deposit):
    coin i is short ``d_i = target_i x total - value_i``. The buys ``b_i = max(0, d_i - lam)``,
    with ``lam`` such that they add up to ``budget``, minimise ``sum (d_i - b_i)^2``: the most
    underweight coin is topped up first, until it is as short as the next, then both, and so on
    ("water-filling"); an overweight coin gets nothing. ``excluded`` coins get nothing (their
    leg would be under the exchange's minimum)."""
    short = {c: t * total - values.get(c, 0.0) for c, t in targets.items() if c not in excluded}
    if budget <= 0 or not short:
        return {}
    ranked = sorted(short.values(), reverse=True)
    # lam solves sum over the k largest of (d - lam) = budget, for the k whose d all exceed lam
    lam = ranked[0] - budget
    running = 0.0
    for k, d in enumerate(ranked, start=1):
        running += d
        candidate = (running - budget) / k
        if k == len(ranked) or ranked[k] <= candidate:
            lam = candidate
            break
    return {c: d - lam for c, d in short.items() if d - lam > 0}
