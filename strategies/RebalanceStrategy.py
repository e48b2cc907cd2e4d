# pragma pylint: disable=missing-docstring, invalid-name, pointless-string-statement
"""
RebalanceStrategy: keeps a portfolio of 2-10 coins at target weights.

The portfolio is configured in the ``rebalance`` section of config.json (coins and weights,
investment, trigger). ``exchange.pair_whitelist`` must list exactly the coins' pairs (checked at
start-up, with an error naming any difference).

    freqtrade backtesting --config config.json --strategy RebalanceStrategy

The strategy buys every coin once (``weight × investment``), never exits on ROI, stop-loss or
signals, and rebalances through ``adjust_trade_position``: the decisions are made by
``rebalance_plugin`` (pure Python core), this file only wires Freqtrade's callbacks to it.
"""

from datetime import datetime

from pandas import DataFrame

from freqtrade.persistence import Trade
from freqtrade.strategy import IStrategy

from rebalance_plugin.adapter import RebalanceMixin


class RebalanceStrategy(RebalanceMixin, IStrategy):
    # Strategy interface version.
    INTERFACE_VERSION = 3

    # Candle size: the rebalancer looks at the portfolio once per candle in a backtest (live:
    # every loop). Interval checks (rebalance.interval) are counted in real time.
    timeframe = "1h"

    can_short = False

    # Never exit on ROI or stop-loss: the portfolio is held and rebalanced, not traded.
    minimal_roi = {}
    stoploss = -1.0
    trailing_stop = False
    use_exit_signal = False

    # Rebalancing is done by adjusting the position of each coin's single trade.
    position_adjustment_enable = True
    max_entry_position_adjustment = -1

    process_only_new_candles = True
    startup_candle_count: int = 0

    # Orders (SPEC §4): a limit Immediate-Or-Cancel order at the best price (config.json prices
    # entries and exits on the "other" side of the book); what it leaves unfilled is sent at
    # market on the next loop (rebalance_plugin.adapter switches these per order).
    order_types = {
        "entry": "limit",
        "exit": "limit",
        "stoploss": "market",
        "stoploss_on_exchange": False,
    }
    order_time_in_force = {"entry": "IOC", "exit": "IOC"}

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        return self.rebalance_indicators(dataframe, metadata)

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        # Buy each coin of the portfolio once (confirm_trade_entry lets through only the first
        # buys, after trigger_price, and coins new to the allocation).
        dataframe["enter_long"] = 1
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["exit_long"] = 0
        return dataframe

    def adjust_trade_position(self, trade: Trade, current_time: datetime, current_rate: float,
                              current_profit: float, min_stake: float | None, max_stake: float,
                              current_entry_rate: float, current_exit_rate: float,
                              current_entry_profit: float, current_exit_profit: float,
                              **kwargs) -> tuple[float, str] | None:
        return self.rebalance_order(trade, current_rate)
