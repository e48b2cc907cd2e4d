"""Baseline for `make bench`: buys the portfolio's coins once (same first buys as
RebalanceStrategy) and never adjusts or exits. Not a product strategy."""

from datetime import datetime

from freqtrade.strategy import IStrategy
from pandas import DataFrame


class BuyAndHoldStrategy(IStrategy):
    INTERFACE_VERSION = 3
    timeframe = "1h"
    can_short = False
    minimal_roi = {}
    stoploss = -1.0
    use_exit_signal = False
    position_adjustment_enable = False
    process_only_new_candles = True
    startup_candle_count: int = 0

    def custom_stake_amount(
        self,
        pair: str,
        current_time: datetime,
        current_rate: float,
        proposed_stake: float,
        min_stake: float | None,
        max_stake: float,
        leverage: float,
        entry_tag: str | None,
        side: str,
        **kwargs,
    ) -> float:
        reb = self.config["rebalance"]
        weight = reb["coins"][pair.split("/")[0]] / 100.0
        return weight * reb["investment"] / (1.0 + self.config.get("fee", 0.001))

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["enter_long"] = 1
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["exit_long"] = 0
        return dataframe
