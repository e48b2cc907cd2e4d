# pragma pylint: disable=missing-docstring, invalid-name, pointless-string-statement
"""
RebalanceStrategy: keeps a portfolio of 2-10 coins at target weights.

The portfolio is configured in the ``rebalance`` section of config.json (coins and weights,
investment, trigger). ``exchange.pair_whitelist`` must list exactly the coins' pairs (checked at
start-up, with an error naming any difference).

    freqtrade backtesting --config config.json --strategy RebalanceStrategy

The strategy buys every coin once (``weight x investment``), never exits on ROI, stop-loss or
signals, and rebalances through ``adjust_trade_position``. Every callback below is a short
delegation to ``self.rb`` (``rebalance_plugin.ft.plugin.RebalancePlugin``), which makes the
decisions with the pure core (``rebalance_plugin.core``).

Hyperopt: ``RebalanceMixin`` declares the trigger as parameters of the ``buy`` space
(``trigger``, ``threshold``, ``interval``, ``interval_min_drift``; defaults from config.json's
rebalance section), judged by the portfolio's own loss
(docs/backtesting.md#hyperopt-tuning-the-trigger)::

    freqtrade hyperopt --config config.json --spaces buy --hyperopt-loss RebalancePortfolioLoss
"""

from datetime import datetime

from freqtrade.persistence import Trade
from freqtrade.strategy import IStrategy
from pandas import DataFrame

from rebalance_plugin.ft import RebalanceMixin
from rebalance_plugin.ft.chart import PLOT_CONFIG
from rebalance_plugin.ft.fastpath import NoTradeCopyMixin


class RebalanceStrategy(RebalanceMixin, NoTradeCopyMixin, IStrategy):
    # Strategy interface version.
    INTERFACE_VERSION = 3

    # Candle size: the rebalancer looks at the portfolio once per candle in a backtest (live:
    # every loop). Interval checks (rebalance.interval) are counted in real time.
    timeframe = "1h"

    can_short = False

    # Never exit on ROI or stop-loss: the portfolio is held and rebalanced, not traded.
    minimal_roi: dict = {}
    stoploss = -1.0
    trailing_stop = False
    use_exit_signal = False

    # Rebalancing is done by adjusting the position of each coin's single trade.
    position_adjustment_enable = True
    max_entry_position_adjustment = -1

    process_only_new_candles = True
    # The rebalancer needs no history; 1 (not 0) so that `freqtrade recursive-analysis` runs.
    startup_candle_count: int = 1

    # Orders (docs/how-it-works.md#orders): a limit Immediate-Or-Cancel order at the best price
    # (config.json prices entries and exits on the "other" side of the book); what it leaves
    # unfilled is sent at market on the next loop (rebalance_plugin.ft.orders switches these per
    # order). On an exchange where Freqtrade has no IOC (okx, htx...) the limit order is GTC,
    # cancelled after unfilledtimeout (rebalance_plugin.ft.ordertypes sets this at start-up).
    order_types = {
        "entry": "limit",
        "exit": "limit",
        "stoploss": "market",
        "stoploss_on_exchange": False,
    }
    order_time_in_force = {"entry": "IOC", "exit": "IOC"}

    # FreqUI and plot-dataframe, on every pair's chart: the coin's weight against its target
    # and the threshold band, and the portfolio's value against buy-and-hold of the starting
    # allocation (columns rb_*, from the orders filled up to each candle and its close).
    plot_config = PLOT_CONFIG

    def bot_start(self, **kwargs) -> None:
        # Every coin has a market, the investment clears the minimums; dry/live restores the
        # portfolio's record from Freqtrade's database.
        self.rb.start()

    def bot_loop_start(self, current_time: datetime, **kwargs) -> None:
        # Once per candle (backtest) or loop (live): commands, orders in flight, first buys,
        # config changes, stop levels, then the rebalance itself.
        self.rb.loop(current_time)

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        # A backtest keeps each candle's open: the price the rebalance decides and fills at.
        self.rb.remember_opens(dataframe, metadata["pair"])
        # Dry/live and FreqUI's backtest view: the portfolio's columns of plot_config.
        return self.rb.chart.populate(dataframe, metadata["pair"])

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        # Buy each coin of the portfolio once (confirm_trade_entry lets through only the first
        # buys, after trigger_price, and coins new to the allocation). A backtest signals on
        # every candle; dry/live and the charts of a backtest mark only the real first buys.
        dataframe["enter_long"] = self.rb.chart.entry_signal(dataframe, metadata["pair"])
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["exit_long"] = 0
        return dataframe

    def confirm_trade_entry(
        self,
        pair: str,
        order_type: str,
        amount: float,
        rate: float,
        time_in_force: str,
        current_time: datetime,
        entry_tag: str | None,
        side: str,
        **kwargs,
    ) -> bool:
        return self.rb.confirm_entry(pair, amount)

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
        return self.rb.entry_stake(pair, current_rate)

    def confirm_trade_exit(
        self,
        pair: str,
        trade: Trade,
        order_type: str,
        amount: float,
        rate: float,
        time_in_force: str,
        exit_reason: str,
        current_time: datetime,
        **kwargs,
    ) -> bool:
        # A user /forceexit (FreqUI's "Force exit") stops the portfolio.
        return self.rb.confirm_exit(pair, exit_reason, current_time)

    def adjust_trade_position(
        self,
        trade: Trade,
        current_time: datetime,
        current_rate: float,
        current_profit: float,
        min_stake: float | None,
        max_stake: float,
        current_entry_rate: float,
        current_exit_rate: float,
        current_entry_profit: float,
        current_exit_profit: float,
        **kwargs,
    ) -> tuple[float, str] | None:
        # This coin's share of the current rebalance, as Freqtrade's stake.
        return self.rb.order_for(trade, current_rate)
