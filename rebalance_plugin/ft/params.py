"""The trigger as Freqtrade hyperopt parameters: ``freqtrade hyperopt --spaces buy`` searches
``trigger``, ``threshold``, ``interval`` and ``interval_min_drift``, named as the keys of the
``rebalance`` section they stand for (a parameter file's ``buy`` values can be copied into the
section as they are).

Search space: exactly the values the section's validation allows (``core.config``): the
triggers, ``THRESHOLDS`` and ``INTERVALS``; ``interval_min_drift`` (validation: 0 to below 100
points) from 0 to ``MIN_DRIFT_MAX`` points in steps of 0.1, widened to the section's own value
when that is higher. No epoch can run a portfolio the section would refuse.

Defaults: Freqtrade's parameters are class attributes shared by every instance, and their
default is fixed when the class is defined, before any config exists. The class carries
declarations with the section's documented defaults (``core.config.DEFAULTS``; Freqtrade's
``list-strategies`` reads the class), and each strategy instance replaces them with its own
copies whose defaults are its config's ``rebalance`` section: hyperopt-show's "not optimized"
values and every run without a parameter file use the section.

Which values a run uses (``for_run``):

- ``hyperopt``: the epoch's values (Freqtrade sets the parameters before each epoch's backtest);
- ``backtesting`` and the other simulated modes: a value of the parameter file
  (``strategies/RebalanceStrategy.json``, written by hyperopt) wins over the section, as Freqtrade
  does for every strategy parameter, and the backtest says so in its log at the start;
- dry-run and live: the section only. A parameter file whose values differ from it is refused at
  start-up (``settings.py``): the section of config.json is a running bot's one source of truth.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from freqtrade.strategy import CategoricalParameter, DecimalParameter
from freqtrade.strategy.parameters import BaseParameter

from ..core import messages
from ..core.config import (
    INTERVALS,
    THRESHOLDS,
    TRIGGER_KEYS,
    TRIGGERS,
    ConfigError,
    RebalanceConfig,
    with_trigger,
)
from . import privates

logger = logging.getLogger("rebalance_plugin.ft")

#: Freqtrade's hyperopt space of the trigger parameters.
SPACE = "buy"
#: interval_min_drift is searched from 0 to this many percentage points in steps of 0.1: an
#: interval check that waits for more drift than this is close to a threshold trigger.
MIN_DRIFT_MAX = 10.0
MIN_DRIFT_DECIMALS = 1
#: The largest value validation allows below 100, at the search's precision.
_MIN_DRIFT_CEILING = 99.9

#: Where a run's trigger value came from (``for_run``).
FROM_CONFIG = "config.json"
FROM_FILE = "parameter file"
FROM_HYPEROPT = "hyperopt"


def _option(options: tuple[Any, ...], value: Any) -> Any:
    """The option equal to ``value`` as the list spells it (5.0 is shown as 5)."""
    return next((o for o in options if o == value), value)


def declare(values: Mapping[str, Any]) -> dict[str, BaseParameter]:
    """The four parameters, with ``values`` (one per key of ``TRIGGER_KEYS``) as defaults."""
    drift = float(values["interval_min_drift"])
    high = min(max(MIN_DRIFT_MAX, math.ceil(drift * 10) / 10), _MIN_DRIFT_CEILING)
    return {
        "trigger": CategoricalParameter(
            TRIGGERS, default=_option(TRIGGERS, values["trigger"]), space=SPACE
        ),
        "threshold": CategoricalParameter(
            THRESHOLDS, default=_option(THRESHOLDS, values["threshold"]), space=SPACE
        ),
        "interval": CategoricalParameter(tuple(INTERVALS), default=values["interval"], space=SPACE),
        "interval_min_drift": DecimalParameter(
            0.0, high, default=drift, decimals=MIN_DRIFT_DECIMALS, space=SPACE
        ),
    }


def of_config(cfg: RebalanceConfig) -> dict[str, BaseParameter]:
    """An instance's parameters: defaults from its config's ``rebalance`` section."""
    return declare({key: getattr(cfg, key) for key in TRIGGER_KEYS})


#: A strategy attribute: set by ``freqtrade-rebalance sweep``, whose grid gives every point's
#: trigger, so a parameter file's values must not replace them.
IGNORE_FILE = "rebalance_ignore_parameter_file"


def file_values(strategy: Any) -> dict[str, Any]:
    """The trigger values the parameter file sets (over the strategy's own ``buy_params``, as
    Freqtrade loads them), as written there."""
    if getattr(strategy, IGNORE_FILE, False):
        return {}
    own = getattr(strategy, f"{SPACE}_params", None) or {}
    loaded = privates.params_from_file(strategy).get(SPACE) or {}
    merged = {**own, **loaded}
    return {key: merged[key] for key in TRIGGER_KEYS if key in merged}


def searched_values(strategy: Any) -> dict[str, Any]:
    """Hyperopt: this epoch's value of every trigger parameter in the searched space."""
    found = {}
    for key in TRIGGER_KEYS:
        param = getattr(strategy, key, None)
        if isinstance(param, BaseParameter) and param.in_space and param.optimize:
            found[key] = param.value
    return found


def for_run(strategy: Any, hyperopt: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """The trigger values a simulated run uses over its config's section, and where each came
    from (``FROM_FILE``, ``FROM_HYPEROPT``; keys absent here come from the section)."""
    values = file_values(strategy)
    source = dict.fromkeys(values, FROM_FILE)
    if hyperopt:
        searched = searched_values(strategy)
        values.update(searched)
        source.update(dict.fromkeys(searched, FROM_HYPEROPT))
    return values, source


def file_name(strategy: Any) -> str:
    """The parameter file's name (``RebalanceStrategy.json``)."""
    return Path(getattr(strategy, "__file__", "") or "strategy.py").with_suffix(".json").name


def run_config(section: RebalanceConfig, strategy: Any, hyperopt: bool) -> RebalanceConfig:
    """A simulated run's config: ``section`` (config.json's) with the run's trigger values
    (``for_run``), said in a backtest's log when a parameter file set any. ``section`` itself
    when they change nothing, or when its validation refuses them (checked at bot_start: not
    expected here)."""
    values, source = for_run(strategy, hyperopt)
    try:
        cfg = with_trigger(section, values)
    except ConfigError as err:
        logger.error(f"Trigger values {values} refused ({err}); using config.json's")
        cfg = section
    if FROM_FILE in source.values() and not hyperopt:
        logger.warning(messages.trigger_sources(cfg, section, source, file_name(strategy)))
    return cfg
