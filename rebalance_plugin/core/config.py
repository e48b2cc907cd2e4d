"""The ``rebalance`` section of Freqtrade's config.json: parsing and validation.

Pure Python, no Freqtrade import. ``parse_rebalance_config`` either returns an immutable
``RebalanceConfig`` or raises ``ConfigError`` with a message that names the field and the value,
so a bad config is refused before any order is placed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from .autoinvest import AutoInvest, AutoInvestError, parse_auto_invest

#: Threshold trigger: allowed drift thresholds, in percentage points
#: (docs/configuration.md#the-rebalance-section).
THRESHOLDS: tuple[float, ...] = (0.5, 1, 2, 5, 10, 20, 30, 50)

#: Interval trigger: allowed check intervals and their length in seconds
#: (docs/configuration.md#the-rebalance-section).
INTERVALS: dict[str, int] = {
    "30m": 30 * 60,
    "1h": 3600,
    "4h": 4 * 3600,
    "8h": 8 * 3600,
    "12h": 12 * 3600,
    "1d": 86400,
    "3d": 3 * 86400,
    "7d": 7 * 86400,
    "14d": 14 * 86400,
    "28d": 28 * 86400,
}

TRIGGERS = ("threshold", "interval")
#: How drift is measured: ``absolute`` in percentage points of the portfolio, ``relative`` in
#: percent of the coin's own target (bt's RunIfOutOfBounds, Shrimpy)
#: (docs/configuration.md#relative-thresholds-and-band-rebalancing).
THRESHOLD_MODES = ("absolute", "relative")
#: Where a rebalance takes the coins: all the way to ``target``, or only back to the ``band``'s
#: edge (the offending coins only) (docs/configuration.md#relative-thresholds-and-band-rebalancing).
REBALANCE_TO = ("target", "band")

#: The keys of the section that make the trigger (``freqtrade hyperopt --spaces buy`` searches
#: them: ``rebalance_plugin.ft.params``).
TRIGGER_KEYS = ("trigger", "threshold", "interval", "interval_min_drift")
ON_STOP = ("sell_all", "keep")
MIN_COINS, MAX_COINS = 2, 10

#: Keys of the public contract (docs/configuration.md#the-rebalance-section). Unknown keys are
#: refused so a typo is not ignored.
KNOWN_KEYS = frozenset(
    {
        "coins",
        "investment",
        "trigger",
        "threshold",
        "interval",
        "interval_min_drift",
        "on_stop",
        "trigger_price",
        "stop_loss",
        "take_profit",
        "threshold_mode",
        "rebalance_to",
        "auto_invest",
    }
)

DEFAULTS: dict[str, Any] = {
    "trigger": "threshold",
    "threshold": 5,
    "interval": "7d",
    "interval_min_drift": 0.5,
    "on_stop": "keep",
    "trigger_price": None,
    "stop_loss": None,
    "take_profit": None,
    "threshold_mode": "absolute",
    "rebalance_to": "target",
    "auto_invest": None,
}

#: Ready-made allocations a user can start from (docs/configuration.md#templates).
TEMPLATES: dict[str, dict[str, float]] = {
    "blue-chip": {"BTC": 60, "ETH": 40},
    "balanced-growth": {"BTC": 40, "ETH": 30, "BNB": 15, "SOL": 15},
    "diversified": {
        "BTC": 30,
        "ETH": 25,
        "BNB": 10,
        "SOL": 10,
        "XRP": 5,
        "ADA": 5,
        "DOGE": 5,
        "LINK": 5,
        "LTC": 5,
    },
}

WEIGHT_SUM_TOLERANCE = 1e-6


class ConfigError(ValueError):
    """The ``rebalance`` section is invalid. The message names the field and the value."""


@dataclass(frozen=True)
class Level:
    """A price level of ``trigger_price``, ``stop_loss`` or ``take_profit``.

    ``coin`` None: the level is the portfolio's value in stake currency (coins at market plus
    the portfolio's cash). Otherwise it is that coin's price in stake currency.
    """

    value: float
    coin: str | None = None

    def measured_on(self, stake_currency: str = "USDT") -> str:
        if self.coin is None:
            return f"portfolio value {self.value:g} {stake_currency}"
        return f"{self.coin} price {self.value:g} {stake_currency}"


@dataclass(frozen=True)
class RebalanceConfig:
    """A validated ``rebalance`` section. Weights are percentages that sum to 100."""

    coins: tuple[tuple[str, float], ...]
    investment: float
    stake_currency: str = "USDT"
    trigger: str = "threshold"
    threshold: float = 5
    interval: str = "7d"
    interval_min_drift: float = 0.5
    on_stop: str = "keep"
    trigger_price: Level | None = None
    stop_loss: Level | None = None
    take_profit: Level | None = None
    threshold_mode: str = "absolute"
    rebalance_to: str = "target"
    auto_invest: AutoInvest | None = None  # deposits on a schedule (``core.autoinvest``)

    @property
    def weights(self) -> dict[str, float]:
        """Target weights as fractions of 1, by coin, in config order."""
        return {coin: pct / 100.0 for coin, pct in self.coins}

    @property
    def coin_names(self) -> tuple[str, ...]:
        return tuple(coin for coin, _ in self.coins)

    def pair(self, coin: str) -> str:
        return f"{coin}/{self.stake_currency}"

    @property
    def pairs(self) -> list[str]:
        """Freqtrade pairs of the coins, derived from the coins (never configured twice)."""
        return [self.pair(coin) for coin in self.coin_names]

    def coin_of(self, pair: str) -> str:
        return pair.split("/")[0]

    @property
    def interval_seconds(self) -> int:
        return INTERVALS[self.interval]

    @property
    def drift_limit(self) -> float:
        """Drift beyond which the active trigger rebalances, in the unit of ``threshold_mode``
        (percentage points, or percent of each coin's target); also the band's half-width."""
        return self.threshold if self.trigger == "threshold" else self.interval_min_drift

    @property
    def relative(self) -> bool:
        """Drift is measured in percent of each coin's target (``threshold_mode`` relative)."""
        return self.threshold_mode == "relative"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number(section: Mapping[str, Any], key: str, *, positive: bool = True) -> float:
    value = section[key]
    if not _is_number(value) or math.isnan(value) or math.isinf(value):
        raise ConfigError(f"rebalance.{key} must be a number, got {value!r}")
    if positive and value <= 0:
        raise ConfigError(f"rebalance.{key} must be greater than 0, got {value!r}")
    return float(value)


def _parse_coins(raw: Any, stake_currency: str) -> tuple[tuple[str, float], ...]:
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f'rebalance.coins must be an object of coin: weight, e.g. {{"BTC": 60, "ETH": 40}}, '
            f"got {raw!r}"
        )
    if not MIN_COINS <= len(raw) <= MAX_COINS:
        raise ConfigError(
            f"rebalance.coins must list {MIN_COINS} to {MAX_COINS} coins, got {len(raw)}: "
            f"{', '.join(map(str, raw)) or 'none'}"
        )
    coins: list[tuple[str, float]] = []
    seen: dict[str, str] = {}
    for name, weight in raw.items():
        if not isinstance(name, str) or not name.strip() or "/" in name:
            raise ConfigError(
                f"rebalance.coins: {name!r} is not a coin name (write BTC, not BTC/USDT)"
            )
        coin = name.strip().upper()
        if coin in seen:
            raise ConfigError(
                f"rebalance.coins: coin {coin} is listed twice ({seen[coin]!r} and {name!r})"
            )
        seen[coin] = name
        if coin == stake_currency.upper():
            raise ConfigError(
                f"rebalance.coins: {name!r} is the stake currency {stake_currency}; "
                f"list only the coins to hold"
            )
        if not _is_number(weight) or math.isnan(weight) or math.isinf(weight):
            raise ConfigError(f"rebalance.coins: weight of {coin} must be a number, got {weight!r}")
        if weight <= 0:
            raise ConfigError(
                f"rebalance.coins: weight of {coin} must be greater than 0, got {weight!r}"
            )
        coins.append((coin, float(weight)))
    total = math.fsum(w for _, w in coins)
    if abs(total - 100.0) > WEIGHT_SUM_TOLERANCE:
        detail = " + ".join(f"{c} {w:g}" for c, w in coins)
        # repr-exact total: 99.99999 must not be shown as "100" while being refused
        raise ConfigError(
            f"rebalance.coins: weights must sum to 100 (within {WEIGHT_SUM_TOLERANCE:g}), "
            f"got {total!r} ({detail})"
        )
    return tuple(coins)


def parse_rebalance_config(section: Any, stake_currency: str = "USDT") -> RebalanceConfig:
    """Validate the ``rebalance`` section of a Freqtrade config. Raises ``ConfigError``.

    The keys are checked in the order a user reads them (coins and investment, the trigger,
    on_stop, the price levels, auto-invest): the first fault found is the one reported."""
    merged = {**DEFAULTS, **_checked_section(section)}
    coins = _parse_coins(merged["coins"], stake_currency)
    investment = _number(merged, "investment")
    trigger = _parse_trigger(merged)
    on_stop = _choice(merged, "on_stop", ON_STOP)
    trigger_price, stop_loss, take_profit = _parse_levels(merged, coins, investment)
    try:
        auto_invest = parse_auto_invest(merged["auto_invest"])
    except AutoInvestError as err:
        raise ConfigError(str(err)) from err
    return RebalanceConfig(
        coins=coins,
        investment=investment,
        stake_currency=stake_currency,
        on_stop=on_stop,
        trigger_price=trigger_price,
        stop_loss=stop_loss,
        take_profit=take_profit,
        auto_invest=auto_invest,
        **trigger,
    )


def _checked_section(section: Any) -> Mapping[str, Any]:
    """The section itself, once it is an object of known keys with coins and investment."""
    if section is None:
        raise ConfigError(
            'config.json has no "rebalance" section: add one with the coins, their target '
            "weights and the investment (see docs/configuration.md)"
        )
    if not isinstance(section, Mapping):
        raise ConfigError(f'"rebalance" must be an object, got {section!r}')
    unknown = sorted(set(section) - KNOWN_KEYS)
    if unknown:
        raise ConfigError(
            f"rebalance: unknown key(s) {', '.join(unknown)}; known keys are "
            f"{', '.join(sorted(KNOWN_KEYS))}"
        )
    for key in ("coins", "investment"):
        if key not in section:
            raise ConfigError(f"rebalance.{key} is missing")
    return section


def _parse_trigger(merged: Mapping[str, Any]) -> dict[str, Any]:
    """The trigger's keys (``TRIGGER_KEYS``), ``threshold_mode`` and ``rebalance_to``, checked,
    by their ``RebalanceConfig`` field names; the unit of ``threshold`` and
    ``interval_min_drift`` follows ``threshold_mode``."""
    trigger = _choice(merged, "trigger", TRIGGERS)
    threshold_mode = _choice(merged, "threshold_mode", THRESHOLD_MODES)
    rebalance_to = _choice(merged, "rebalance_to", REBALANCE_TO)
    relative = threshold_mode == "relative"
    unit = "percent of each coin's target" if relative else "percentage points"
    threshold = _number(merged, "threshold")
    if threshold not in THRESHOLDS:
        raise ConfigError(
            f"rebalance.threshold must be one of {', '.join(f'{t:g}' for t in THRESHOLDS)} "
            f"({unit}), got {merged['threshold']!r}"
        )
    interval = merged["interval"]
    if not isinstance(interval, str) or interval not in INTERVALS:
        raise ConfigError(
            f"rebalance.interval must be one of {', '.join(INTERVALS)}, got {interval!r}"
        )
    min_drift = _number(merged, "interval_min_drift", positive=False)
    if not 0 <= min_drift < 100:
        why = (
            "percent of each coin's target, threshold_mode relative"
            if relative
            else "a drift in percentage points never exceeds 100"
        )
        raise ConfigError(
            f"rebalance.interval_min_drift must be at least 0 and below 100 ({why}), "
            f"got {min_drift!r}"
        )
    return {
        "trigger": trigger,
        "threshold": threshold,
        "interval": interval,
        "interval_min_drift": min_drift,
        "threshold_mode": threshold_mode,
        "rebalance_to": rebalance_to,
    }


def _parse_levels(
    merged: Mapping[str, Any], coins: tuple[tuple[str, float], ...], investment: float
) -> tuple[Level | None, Level | None, Level | None]:
    """``trigger_price``, ``stop_loss`` and ``take_profit``: a number for ``trigger_price`` is
    the price of the first coin listed (nothing is held yet, so there is no portfolio value to
    wait for); for ``stop_loss`` / ``take_profit`` it is the portfolio's value. Either may name a
    coin instead: {"BTC": 60000}."""
    names = tuple(coin for coin, _ in coins)
    trigger_price = _level(merged, "trigger_price", names, default_coin=names[0])
    stop_loss = _level(merged, "stop_loss", names, default_coin=None)
    take_profit = _level(merged, "take_profit", names, default_coin=None)
    _check_exits(stop_loss, take_profit, investment)
    return trigger_price, stop_loss, take_profit


def _check_exits(stop_loss: Level | None, take_profit: Level | None, investment: float) -> None:
    """A portfolio-value stop_loss below the investment, a take_profit above it, and the stop
    below the take-profit when both measure the same thing."""
    if stop_loss and stop_loss.coin is None and stop_loss.value >= investment:
        raise ConfigError(
            f"rebalance.stop_loss = {stop_loss.value:g} is a portfolio value and must be below "
            f"rebalance.investment = {investment:g}"
        )
    if take_profit and take_profit.coin is None and take_profit.value <= investment:
        raise ConfigError(
            f"rebalance.take_profit = {take_profit.value:g} is a portfolio value and must be "
            f"above rebalance.investment = {investment:g}"
        )
    if (
        stop_loss
        and take_profit
        and stop_loss.coin == take_profit.coin
        and stop_loss.value >= take_profit.value
    ):
        raise ConfigError(
            f"rebalance.stop_loss = {stop_loss.value:g} must be below rebalance.take_profit = "
            f"{take_profit.value:g}"
        )


def _choice(section: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    value = section[key]
    if not isinstance(value, str) or value not in allowed:
        raise ConfigError(f"rebalance.{key} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _level(
    section: Mapping[str, Any], key: str, coins: tuple[str, ...], default_coin: str | None
) -> Level | None:
    raw = section[key]
    if raw is None:
        return None
    where = "portfolio value" if default_coin is None else f"price of {default_coin}"
    if _is_number(raw):
        value = _number(section, key)
        return Level(value, default_coin)
    if isinstance(raw, Mapping) and len(raw) == 1:
        ((name, value),) = raw.items()
        coin = str(name).strip().upper()
        if coin not in coins:
            raise ConfigError(
                f"rebalance.{key}: {name!r} is not one of the portfolio's coins "
                f"({', '.join(coins)})"
            )
        return Level(_number({key: value}, key), coin)
    raise ConfigError(
        f'rebalance.{key} must be null, a number (the {where}) or {{"COIN": price}}, got {raw!r}'
    )


def check_investment_clears_minimums(
    cfg: RebalanceConfig, min_notional: Mapping[str, float]
) -> None:
    """Refuse an investment too small for every coin's first buy to clear the exchange minimum.

    ``min_notional`` maps coin to the smallest order value the exchange accepts for its pair.
    """
    # The smallest investment that clears every coin's minimum (the largest of the per-coin
    # figures), so that the message's number is the real one, not the first coin's.
    required = max(
        (min_notional.get(c, 0.0) * 100.0 / pct for c, pct in cfg.coins if pct > 0), default=0.0
    )
    for coin, pct in cfg.coins:
        need = min_notional.get(coin, 0.0)
        stake = cfg.investment * pct / 100.0
        if stake < need:
            raise ConfigError(
                f"rebalance.investment = {cfg.investment:g} is too small: {coin} gets "
                f"{pct:g}% = {stake:.2f} {cfg.stake_currency}, below the exchange minimum of "
                f"{need:.2f} {cfg.stake_currency} for {cfg.pair(coin)}; rebalance.investment "
                f"needs at least {required:.2f} {cfg.stake_currency} for every coin's first buy"
            )


def with_trigger(cfg: RebalanceConfig, values: Mapping[str, Any]) -> RebalanceConfig:
    """``cfg`` with the trigger keys in ``values`` (``TRIGGER_KEYS``) replaced, each checked by the
    section's own validation: raises ``ConfigError`` naming the key and the value. ``cfg`` itself
    when ``values`` changes nothing."""
    unknown = sorted(set(values) - set(TRIGGER_KEYS))
    if unknown:
        raise ConfigError(
            f"rebalance: {', '.join(unknown)} is not a trigger key ({', '.join(TRIGGER_KEYS)})"
        )
    if not values:
        return cfg
    current = {key: getattr(cfg, key) for key in TRIGGER_KEYS}
    section = {"coins": dict(cfg.coins), "investment": cfg.investment, **current, **values}
    parsed = parse_rebalance_config(section, cfg.stake_currency)
    trigger = {key: getattr(parsed, key) for key in TRIGGER_KEYS}
    return cfg if trigger == current else replace(cfg, **trigger)
