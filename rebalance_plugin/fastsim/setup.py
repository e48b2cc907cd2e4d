"""What one simulated backtest needs besides the candles: the portfolio's config as the plugin
runs it, the exchange's rules as the plugin plans with them (``ft/markets.py``: Freqtrade's
reserves on the minimums) and as Freqtrade fills with them (:mod:`.market`), and the wallet
settings of Freqtrade's config."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..core.config import RebalanceConfig
from ..core.rules import TICK_SIZE, MarketRules
from .candles import Candles
from .market import DEFAULT_AMOUNT_RESERVE, PairMarket

#: Freqtrade sizes a first entry's minimum with a 1.5x stop-loss reserve (the plugin's
#: ``ft.markets.FIRST_BUY_RESERVE``): the plugin sells a whole position rather than leave less
#: than that, with the amount reserve, behind it.
FIRST_BUY_RESERVE = 1.5


class Unsupported(ValueError):
    """A backtest the harness does not model: run it with Freqtrade's own engine."""


@dataclass(frozen=True)
class Setup:
    """A backtest's fixed inputs: the candles, each pair's market, the wallet and fee."""

    candles: Candles
    markets: Mapping[str, Mapping[str, Any]]  # pair -> ccxt market (the exchange's)
    precision_mode: int = TICK_SIZE  # the exchange's ccxt precisionMode (amounts)
    price_mode: int = TICK_SIZE  # Freqtrade's precision_mode_price
    fee: float = 0.001
    dry_run_wallet: float = 1000.0
    tradable_ratio: float = 1.0
    stake_amount: float | str = "unlimited"
    max_open_trades: int | None = None
    amount_reserve: float = DEFAULT_AMOUNT_RESERVE
    exit_timeout: float = 600.0  # unfilledtimeout's exit, seconds
    stake: str = "USDT"
    # The price precision of the month a trade opens in (Freqtrade's get_tick_size_over_time):
    # (pair, time) -> tick; None: the market's own precision.
    month_tick: Callable[[str, float], float | None] | None = None
    frames: Mapping[str, Any] = field(default_factory=dict)  # for the figures: opens, closes

    def pair_market(self, pair: str) -> PairMarket:
        return PairMarket.from_ccxt(
            self.markets[pair], self.precision_mode, self.amount_reserve, price_mode=self.price_mode
        )


@dataclass(frozen=True)
class PlanRules:
    """The rules the plugin plans with, per coin (``ft.markets.Markets``): the exchange's
    steps and minimums with Freqtrade's amount reserve, and the smallest position a partial
    sell may leave (``keep_min``)."""

    rules: Mapping[str, MarketRules]
    keep_min: Mapping[str, float]


def plan_rules(setup: Setup, cfg: RebalanceConfig) -> PlanRules:
    """``Markets.add`` for every coin of ``cfg``."""
    reserve = 1.0 + setup.amount_reserve
    rules: dict[str, MarketRules] = {}
    keep: dict[str, float] = {}
    for coin in cfg.coin_names:
        market = setup.markets.get(cfg.pair(coin))
        if market is None:
            raise Unsupported(f"no market for {cfg.pair(coin)}")
        exchange = MarketRules.from_ccxt_market(market, setup.precision_mode)
        rules[coin] = replace(
            exchange,
            min_qty=exchange.min_qty * reserve,
            min_notional=exchange.min_notional * reserve,
        )
        keep[coin] = exchange.min_notional * FIRST_BUY_RESERVE * reserve
    return PlanRules(rules, keep)
