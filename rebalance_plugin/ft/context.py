"""What every glue object reads: the strategy (Freqtrade sets its ``dp`` and ``wallets`` after
``__init__``, so they are read when needed), the parsed ``rebalance`` section, and the run mode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from freqtrade.enums import RunMode

from ..core.config import RebalanceConfig

#: Run modes that simulate: one loop per candle, fills at the candle's open, no database.
SIMULATED = (RunMode.BACKTEST, RunMode.HYPEROPT)


@dataclass
class Context:
    strategy: Any  # the IStrategy this plugin is mixed into
    cfg: RebalanceConfig
    backtest: bool

    @classmethod
    def of(cls, strategy: Any, cfg: RebalanceConfig, config: dict[str, Any]) -> Context:
        return cls(strategy, cfg, config.get("runmode") in SIMULATED)

    @property
    def dp(self) -> Any:
        return getattr(self.strategy, "dp", None)

    @property
    def wallets(self) -> Any:
        return getattr(self.strategy, "wallets", None)

    @property
    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = self.strategy.config
        return config

    @property
    def stake(self) -> str:
        return self.cfg.stake_currency
