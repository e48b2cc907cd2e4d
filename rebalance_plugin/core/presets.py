"""Presets: portfolios weighted by market capitalisation (docs/presets.md#presets), and their
past returns (docs/presets.md#returns).

Pure Python: the glue (``rebalance_plugin.presets``) finds the coins, their market caps and their
daily closes; everything decided from them is here, on plain numbers, lists and dates.

**Which coins.** A coin can be in a preset when it has an active spot market in the stake
currency and daily candles, and is neither a stablecoin nor a wrapped or staked copy of another
coin (:func:`excluded_reason`). The eligible coins are ranked by market cap; a preset takes the
first 3, 5 or 10.

**Weights** (:func:`capped_weights`, :func:`round_weights`), in percent:

1. Each coin's score ``s_i`` is its market cap (``mcap``), the square root of it
   (``sqrt-mcap``) or 1 (``equal``).
2. *Proportional within bounds*: ``w_i = min(MAX_WEIGHT, max(MIN_WEIGHT, λ × s_i))`` (50 % and
   1 %), with the one scale ``λ`` that makes the weights sum to 100. In words: a coin that
   would get more than 50 gets 50 and the excess is shared by the others in proportion to
   their scores; a coin that would get less than 1 gets 1, paid for by the others in
   proportion, repeatedly, until every coin is within bounds. The sum is piecewise linear in
   ``λ``, so ``λ`` is solved exactly on the piece where it reaches 100.
3. *Rounding* to ``WEIGHT_DECIMALS`` (0.01 %) by largest remainder: each weight is rounded
   down to a hundredth, and the hundredths missing to reach exactly 100.00 go one each to the
   largest remainders (never to a coin at the cap). The weights then sum to exactly 100, as
   ``parse_rebalance_config`` requires.

Why 1 %: it is the smallest weight the bot can trade on the shipped 1000 USDT investment
(10 USDT, above Binance's 5 USDT minimum order times Freqtrade's 1.5 first-buy reserve, plus
the fee). A smaller investment is checked by ``freqtrade-rebalance init`` against the
exchange's minimums before anything is written.

**Returns** (:func:`period_return`): over the N daily closes ending at ``as_of`` (N + 1 closes:
``as_of − N`` … ``as_of``), with weights ``w_i`` as fractions of 1, rebalanced every day::

    r_t = Σ_i w_i × close_i,t / close_i,t−1 − 1
    R   = Π_t (1 + r_t) − 1
    simple annualised   = R × 365 / N
    compound annualised = (1 + R) ** (365 / N) − 1

No fees. N = 7, 30 and 180.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

#: Largest and smallest weight a preset gives a coin, in percent (see the module's docstring).
MAX_WEIGHT = 50.0
MIN_WEIGHT = 1.0
#: Weights are written with this many decimals (0.01 %).
WEIGHT_DECIMALS = 2
#: Return periods, in days (docs/presets.md#returns).
PERIODS: tuple[int, ...] = (7, 30, 180)
YEAR_DAYS = 365

#: Coins pegged to a fiat currency: no rebalancing gain, excluded from presets.
STABLECOINS = frozenset(
    {
        "USDT", "USDC", "FDUSD", "DAI", "TUSD", "BUSD", "USDP", "PAX", "PYUSD", "USDD", "USDE",
        "USDS", "USD1", "RLUSD", "GUSD", "FRAX", "LUSD", "SUSD", "USDJ", "USTC", "UST", "USDB",
        "USD0", "SUSDE", "CRVUSD", "GHO", "EURC", "EURT", "EURI", "AEUR", "EUR", "BFUSD", "USDX",
        "XUSD", "USDG", "USDTB", "BUIDL", "USYC", "PAXG", "XAUT",
    }
)  # fmt: skip
#: Wrapped, bridged or liquid-staking copies of another coin: they would count it twice.
WRAPPED = frozenset(
    {
        "WBTC", "WETH", "WBETH", "STETH", "WSTETH", "RETH", "CBETH", "CBBTC", "WEETH", "EETH",
        "METH", "EZETH", "RSETH", "SWETH", "OSETH", "SFRXETH", "FRXETH", "ANKRETH", "BETH",
        "BTCB", "TBTC", "RENBTC", "HBTC", "LBTC", "SOLVBTC", "FBTC", "WBNB", "BNSOL", "JITOSOL",
        "MSOL", "BSOL", "JUPSOL", "WSOL", "STSOL", "WTRX", "WAVAX", "SAVAX", "WMATIC", "STMATIC",
        "WEWETH", "WHYPE", "KHYPE", "STHYPE", "CMETH", "LSETH", "TETH", "PUFETH", "SUPEROETHB",
    }
)  # fmt: skip


class PresetError(ValueError):
    """A preset cannot be built (too few coins). The message says which and why."""


@dataclass(frozen=True)
class PresetRule:
    """How a preset is built: the top ``top`` eligible coins, scored by ``weighting``."""

    name: str
    top: int
    weighting: str  # "mcap", "sqrt-mcap" or "equal"

    @property
    def description(self) -> str:
        how = {
            "mcap": "weighted by market cap",
            "sqrt-mcap": "weighted by the square root of market cap",
            "equal": "equal weights",
        }[self.weighting]
        return f"top {self.top} coins by market cap, {how}"


PRESETS: tuple[PresetRule, ...] = (
    PresetRule("top3-mcap", 3, "mcap"),
    PresetRule("top5-mcap", 5, "mcap"),
    PresetRule("top10-mcap", 10, "mcap"),
    PresetRule("top10-sqrt-mcap", 10, "sqrt-mcap"),
    PresetRule("top10-equal", 10, "equal"),
)
PRESET_NAMES: tuple[str, ...] = tuple(rule.name for rule in PRESETS)


def preset_rule(name: str) -> PresetRule:
    for rule in PRESETS:
        if rule.name == name:
            return rule
    raise PresetError(f"unknown preset {name!r}; the presets are {', '.join(PRESET_NAMES)}")


def excluded_reason(coin: str) -> str | None:
    """Why ``coin`` can never be in a preset ("stablecoin", "wrapped or staked"), or None."""
    c = coin.upper()
    if c in STABLECOINS:
        return "stablecoin"
    if c in WRAPPED:
        return "wrapped or staked copy of another coin"
    return None


def rank_by_market_cap(market_caps: Mapping[str, float]) -> list[tuple[str, float]]:
    """(coin, market cap), largest first; ties by name. Non-positive caps are dropped."""
    ranked = [(c.upper(), float(v)) for c, v in market_caps.items() if v and v > 0]
    return sorted(ranked, key=lambda cv: (-cv[1], cv[0]))


def scores(weighting: str, caps: Sequence[float]) -> list[float]:
    if weighting == "mcap":
        return [float(c) for c in caps]
    if weighting == "sqrt-mcap":
        return [math.sqrt(c) for c in caps]
    if weighting == "equal":
        return [1.0 for _ in caps]
    raise PresetError(f"unknown weighting {weighting!r} (mcap, sqrt-mcap or equal)")


def capped_weights(
    raw: Sequence[float], cap: float = MAX_WEIGHT, floor: float = MIN_WEIGHT
) -> list[float]:
    """Weights in percent proportional to ``raw``, each within [``floor``, ``cap``], summing to
    100 (unrounded). The algorithm is in the module's docstring."""
    n = len(raw)
    if n == 0:
        return []
    if any(s <= 0 or math.isnan(s) for s in raw):
        raise PresetError(f"scores must be positive numbers, got {list(raw)}")
    if n * cap < 100.0 or n * floor > 100.0:
        raise PresetError(f"{n} coins cannot each get between {floor:g}% and {cap:g}% of 100%")

    def clipped(lam: float) -> list[float]:
        return [min(cap, max(floor, lam * x)) for x in raw]

    # f(λ) = Σ clip(λ s_i) is continuous, non-decreasing and linear between the points where
    # a coin reaches the floor (floor / s_i) or the cap (cap / s_i): find the piece where it
    # reaches 100 and solve that piece's linear equation exactly.
    points = sorted({b for x in raw for b in (floor / x, cap / x)})
    low = 0.0
    for high in points:
        if math.fsum(clipped(high)) >= 100.0:
            break
        low = high
    mid = (low + high) / 2
    at_floor = [x for x in raw if mid * x <= floor]
    at_cap = [x for x in raw if mid * x >= cap]
    free = math.fsum(x for x in raw if floor < mid * x < cap)
    if free == 0:  # 100 is reached exactly at a point (e.g. two coins at 50)
        return clipped(high)
    lam = (100.0 - len(at_floor) * floor - len(at_cap) * cap) / free
    return clipped(lam)


def round_weights(
    weights: Sequence[float],
    decimals: int = WEIGHT_DECIMALS,
    cap: float = MAX_WEIGHT,
    floor: float = MIN_WEIGHT,
) -> list[float]:
    """Round to ``decimals`` by largest remainder so that the result sums to exactly 100."""
    scale = 10**decimals
    units = [w * scale for w in weights]
    whole = [math.floor(u + 1e-9) for u in units]
    rest = [u - w for u, w in zip(units, whole)]
    missing = 100 * scale - sum(whole)
    cap_units = round(cap * scale)
    if missing > 0:
        order = sorted(range(len(units)), key=lambda i: (-rest[i], i))
        order = [i for i in order if whole[i] < cap_units]
        for i in order[:missing]:
            whole[i] += 1
    elif missing < 0:  # float noise only: take from the smallest remainders
        floor_units = round(floor * scale)
        order = sorted(range(len(units)), key=lambda i: (rest[i], i))
        order = [i for i in order if whole[i] > floor_units]
        for i in order[:-missing]:
            whole[i] -= 1
    if sum(whole) != 100 * scale:
        raise PresetError(f"cannot round {list(weights)} to sum to 100")
    return [w / scale for w in whole]


@dataclass(frozen=True)
class Preset:
    """A preset's coins and weights (percent, in rank order), and the caps it was built from."""

    rule: PresetRule
    coins: tuple[tuple[str, float], ...]
    market_caps: tuple[tuple[str, float], ...]

    @property
    def weights(self) -> dict[str, float]:
        return dict(self.coins)

    @property
    def short(self) -> int:
        """How many coins fewer than the rule asks for were eligible."""
        return self.rule.top - len(self.coins)


def build_preset(rule: PresetRule, ranked: Sequence[tuple[str, float]]) -> Preset:
    """The preset of ``rule`` from eligible coins ranked by market cap (largest first).

    Fewer eligible coins than ``rule.top`` give a smaller preset (``Preset.short`` says how
    many are missing); fewer than 2 is refused."""
    top = list(ranked[: rule.top])
    if len(top) < 2:
        raise PresetError(
            f"preset {rule.name}: only {len(top)} eligible coin(s) "
            f"({', '.join(c for c, _ in top) or 'none'}); a portfolio needs at least 2"
        )
    raw = scores(rule.weighting, [cap for _, cap in top])
    weights = round_weights(capped_weights(raw))
    return Preset(
        rule=rule,
        coins=tuple((coin, w) for (coin, _), w in zip(top, weights)),
        market_caps=tuple(top),
    )


# ---- returns ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class History:
    """One coin's daily closes: ``dates`` (UTC days, ascending, unique) and ``closes``."""

    coin: str
    dates: tuple[date, ...]
    closes: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.dates) != len(self.closes):
            raise ValueError(f"{self.coin}: {len(self.dates)} dates, {len(self.closes)} closes")

    @property
    def first(self) -> date | None:
        return self.dates[0] if self.dates else None

    @property
    def last(self) -> date | None:
        return self.dates[-1] if self.dates else None

    def close_on(self) -> dict[date, float]:
        return dict(zip(self.dates, self.closes))


@dataclass(frozen=True)
class PeriodReturn:
    """The return of one period of ``days`` days: ``total`` R, and both annualisations."""

    days: int
    total: float
    simple: float
    compound: float


def daily_returns(
    weights: Mapping[str, float], closes: Mapping[str, Sequence[float]]
) -> list[float]:
    """``r_t = Σ_i w_i × close_i,t / close_i,t−1 − 1`` for t = 1 … len − 1.

    ``weights`` in percent (summing to 100); ``closes`` the same number of closes per coin."""
    lengths = {len(closes[c]) for c in weights}
    if len(lengths) != 1:
        raise ValueError(f"every coin needs the same number of closes, got {sorted(lengths)}")
    (length,) = lengths
    fractions = {c: w / 100.0 for c, w in weights.items()}
    return [
        math.fsum(f * closes[c][t] / closes[c][t - 1] for c, f in fractions.items()) - 1.0
        for t in range(1, length)
    ]


def annualise(total: float, days: int) -> tuple[float, float]:
    """(simple, compound) annualised: ``R × 365 / N`` and ``(1 + R)^(365/N) − 1``."""
    simple = total * YEAR_DAYS / days
    compound = (1.0 + total) ** (YEAR_DAYS / days) - 1.0 if total > -1.0 else -1.0
    return simple, compound


def period_return(
    weights: Mapping[str, float], closes: Mapping[str, Sequence[float]]
) -> PeriodReturn:
    """The return over the closes given (N + 1 closes per coin make N daily returns)."""
    rs = daily_returns(weights, closes)
    if not rs:
        raise ValueError("a return needs at least 2 closes per coin")
    total = math.prod(1.0 + r for r in rs) - 1.0
    simple, compound = annualise(total, len(rs))
    return PeriodReturn(days=len(rs), total=total, simple=simple, compound=compound)


def common_as_of(histories: Sequence[History]) -> date | None:
    """The latest day on which every coin has a close, or None if there is none."""
    if not histories:
        return None
    common = set(histories[0].dates)
    for h in histories[1:]:
        common &= set(h.dates)
    return max(common) if common else None


@dataclass(frozen=True)
class Returns:
    """A portfolio's returns per period, as of ``as_of``; a period that cannot be computed is
    None in ``by_days`` and explained in ``why``."""

    as_of: date | None
    by_days: tuple[tuple[int, PeriodReturn | None], ...]
    why: tuple[tuple[int, str], ...] = field(default=())

    def get(self, days: int) -> PeriodReturn | None:
        return dict(self.by_days).get(days)

    def reason(self, days: int) -> str | None:
        return dict(self.why).get(days)


def _missing(h: History, as_of: date, days: int) -> str | None:
    """Why ``h`` lacks the ``days + 1`` closes ``as_of − days`` … ``as_of``, or None."""
    start = as_of - timedelta(days=days)
    have = set(h.dates)
    if h.first is None:
        return f"{h.coin} has no daily candles"
    if h.first > start:
        count = sum(1 for d in h.dates if d <= as_of)
        return (
            f"{h.coin} has {count} daily closes up to {as_of.isoformat()} (first candle "
            f"{h.first.isoformat()}); {days + 1} are needed, from {start.isoformat()}"
        )
    gap = next(
        (
            start + timedelta(days=k)
            for k in range(days + 1)
            if start + timedelta(days=k) not in have
        ),
        None,
    )
    if gap is not None:
        return f"{h.coin} has no daily close on {gap.isoformat()}"
    return None


def portfolio_returns(
    weights: Mapping[str, float],
    histories: Mapping[str, History],
    periods: Sequence[int] = PERIODS,
) -> Returns:
    """The returns of ``weights`` (percent) over each period, ending at the latest day common
    to the coins' daily closes."""
    missing = [c for c in weights if c not in histories or not histories[c].dates]
    if missing:
        why = f"{', '.join(missing)}: no daily candles"
        return Returns(None, tuple((d, None) for d in periods), tuple((d, why) for d in periods))
    hs = [histories[c] for c in weights]
    as_of = common_as_of(hs)
    if as_of is None:
        why = "the coins' daily candles have no day in common"
        return Returns(None, tuple((d, None) for d in periods), tuple((d, why) for d in periods))
    on = {h.coin: h.close_on() for h in hs}
    by_days: list[tuple[int, PeriodReturn | None]] = []
    whys: list[tuple[int, str]] = []
    for days in periods:
        reasons = [r for h in hs if (r := _missing(h, as_of, days))]
        if reasons:
            by_days.append((days, None))
            whys.append((days, "; ".join(reasons)))
            continue
        start = as_of - timedelta(days=days)
        window = [start + timedelta(days=k) for k in range(days + 1)]
        closes = {h.coin: [on[h.coin][d] for d in window] for h in hs}
        by_days.append((days, period_return(weights, closes)))
    return Returns(as_of, tuple(by_days), tuple(whys))
