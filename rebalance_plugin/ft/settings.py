"""Freqtrade settings that would take the portfolio out of the rebalancer's hands.

Freqtrade copies many settings from ``config.json`` over the strategy's own (``minimal_roi``,
``stoploss``, ``trailing_stop``, ``position_adjustment_enable``, ...), and loads a parameter
file written by ``freqtrade hyperopt`` (``strategies/RebalanceStrategy.json``: the roi,
stoploss, trailing and buy spaces) on every later run, live included. Any of them would sell
coins on a profit or a loss, or stop the rebalance orders. They are checked once Freqtrade has
applied them (``bot_start``, before any order), and every conflict is refused at once with the
setting, its value, where it came from and the fix.

The file ``hyperopt --spaces buy`` writes holds the strategy's own "never exit" values in its
roi, stoploss and trailing sections (``{}``, -1, false): accepted. Its buy section holds the
trigger (``params.py``): refused when the rebalance section would refuse the values, and in
dry-run and live when they differ from config.json's section.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from freqtrade.enums import RunMode

from ..core.config import TRIGGER_KEYS, ConfigError, RebalanceConfig, with_trigger
from ..core.messages import shown
from . import params, privates
from .context import TRADING
from .startup import Refusal

#: Settings a user may put in config.json that Freqtrade copies over the strategy's attributes.
OVERRIDABLE = (
    "minimal_roi",
    "stoploss",
    "trailing_stop",
    "position_adjustment_enable",
    "max_entry_position_adjustment",
)

#: The hyperopt space each strategy attribute is loaded from (strategies/<Strategy>.json).
PARAMS_SPACE = {"minimal_roi": "roi", "stoploss": "stoploss", "trailing_stop": "trailing"}
#: Hyperopt spaces that search exits (``default`` and ``all`` include roi and stoploss).
EXIT_SPACES = {"roi", "stoploss", "trailing", "default", "all"}


@dataclass(frozen=True)
class Rule:
    name: str  # the setting, as the user writes it
    ok: Callable[[Any], bool]
    why: str  # what Freqtrade would do with a bad value
    fix: str  # what to write instead


RULES = (
    Rule(
        "minimal_roi",
        lambda v: not v,
        "Freqtrade would sell a coin whenever its trade reaches that profit",
        'remove it, or set "minimal_roi": {}',
    ),
    Rule(
        "stoploss",
        lambda v: v is not None and float(v) <= -1.0,
        "Freqtrade would sell a coin whenever its trade loses that much",
        'remove it, or set "stoploss": -1 (use rebalance.stop_loss for the portfolio)',
    ),
    Rule(
        "trailing_stop",
        lambda v: not v,
        "Freqtrade would sell a coin on a trailing stop-loss",
        'remove it, or set "trailing_stop": false',
    ),
    Rule(
        "position_adjustment_enable",
        lambda v: v is True,
        "Freqtrade would place none of the rebalance orders",
        'remove it, or set "position_adjustment_enable": true',
    ),
    Rule(
        "max_entry_position_adjustment",
        lambda v: v == -1,
        "Freqtrade would stop the rebalance buys after that many (the sells would go on)",
        'remove it, or set "max_entry_position_adjustment": -1',
    ),
)

#: Settings that live only in config.json.
CONFIG_RULES = (
    Rule(
        "tradable_balance_ratio",
        lambda v: v is None or float(v) >= 1.0,
        "Freqtrade would let the bot spend only that share of its money, and the portfolio "
        "could not buy every coin",
        '"tradable_balance_ratio": 1 (the rebalancer spends only rebalance.investment; cap a '
        "bot's share of the account with available_capital)",
    ),
    Rule(
        "stake_amount",
        lambda v: v in (None, "unlimited"),
        "Freqtrade would refuse a coin's first buy once less than that is free",
        '"stake_amount": "unlimited" (each order is sized from rebalance.investment)',
    ),
    Rule(
        "trading_mode",
        lambda v: v in (None, "spot"),
        "the rebalancer holds coins on the spot market only",
        '"trading_mode": "spot"',
    ),
)


def user_settings(config: dict[str, Any]) -> frozenset[str]:
    """The overridable settings the user wrote in config.json (read before Freqtrade copies the
    strategy's own values into the config)."""
    return frozenset(k for k in OVERRIDABLE if k in config)


def _shown(value: Any) -> str:
    """As the user writes it in config.json."""
    try:
        return json.dumps(value)
    except TypeError:
        return repr(value)


def conflicts(strategy: Any, config: dict[str, Any], from_config: frozenset[str]) -> list[str]:
    """Every setting in force that conflicts with rebalancing, as one sentence each."""
    params = privates.params_from_file(strategy)
    params_file = Path(getattr(strategy, "__file__", "") or "strategy.py").with_suffix(".json")
    found = []
    for rule in RULES:
        value = getattr(strategy, rule.name, None)
        if rule.ok(value):
            continue
        if rule.name in from_config:
            where = "config.json"
        elif PARAMS_SPACE.get(rule.name) in params:
            where = f"{params_file.name} (written by freqtrade hyperopt; delete that file)"
        else:
            where = "the strategy"
        found.append(f"{rule.name} = {_shown(value)} in {where}: {rule.why}; fix: {rule.fix}")
    # A backtest switches stoploss_on_exchange off in the strategy: read the config too.
    order_types = {
        **(getattr(strategy, "order_types", None) or {}),
        **config.get("order_types", {}),
    }
    if order_types.get("stoploss_on_exchange"):
        found.append(
            "order_types.stoploss_on_exchange = true in config.json: Freqtrade would place "
            "stop-loss orders at the exchange; fix: set it to false"
        )
    spaces = {str(x) for x in config.get("spaces") or []} & EXIT_SPACES
    if spaces and config.get("runmode") == RunMode.HYPEROPT:
        found.append(
            f"freqtrade hyperopt --spaces {' '.join(sorted(spaces))}: it would search ROI and "
            "stop-loss exits, which the rebalancer refuses, and write them to "
            f"{params_file.name} for every later run; fix: leave these spaces out "
            "(--spaces buy searches the rebalance trigger)"
        )
    found += trigger_conflicts(strategy, config, params_file.name)
    for rule in CONFIG_RULES:
        value = config.get(rule.name)
        if not rule.ok(value):
            found.append(
                f"{rule.name} = {_shown(value)} in config.json: {rule.why}; fix: {rule.fix}"
            )
    return found


def trigger_conflicts(strategy: Any, config: dict[str, Any], file_name: str) -> list[str]:
    """The trigger values of a parameter file (its ``buy`` space): refused when the rebalance
    section would refuse them; in dry-run and live, refused when they differ from config.json's
    section, which is a running bot's one source of truth (a backtest runs on them and says so:
    ``params.py``)."""
    values = params.file_values(strategy)
    section = getattr(strategy, "rebalance", None)
    if not values or not isinstance(section, RebalanceConfig) or not section.coins:
        return []  # no file values, or a refused section (reported on its own)
    written = ", ".join(f'"{k}": {_shown(v)}' for k, v in values.items())
    try:
        cfg = with_trigger(section, values)
    except ConfigError as err:
        return [
            f"{written} in {file_name} (buy parameters, written by freqtrade hyperopt): {err}; "
            f"fix: correct or delete that file"
        ]
    if config.get("runmode") not in TRADING or cfg is section:
        return []
    differ = ", ".join(
        f"{k} = {shown(getattr(cfg, k))} (config.json: {shown(getattr(section, k))})"
        for k in TRIGGER_KEYS
        if getattr(cfg, k) != getattr(section, k)
    )
    return [
        f"{file_name} (written by freqtrade hyperopt) sets {differ}: a bot trades on "
        f"config.json's rebalance section only; fix: copy {written} into the rebalance section "
        f"of config.json, or delete {file_name}"
    ]


def check_settings(strategy: Any, config: dict[str, Any], from_config: frozenset[str]) -> None:
    """Refuse to start while any Freqtrade setting conflicts with rebalancing."""
    found = conflicts(strategy, config, from_config)
    if found:
        raise Refusal(
            "Refusing to start: these Freqtrade settings would take the portfolio out of the "
            "rebalancer's hands:\n- " + "\n- ".join(found)
        )
