"""What every glue object reads: the strategy (Freqtrade sets its ``dp`` and ``wallets`` after
``__init__``, so they are read when needed), the live config, and the run mode.

The live config (``cfg``) is the one config every glue object reads, and the strategy's
``rebalance`` shows: config.json's ``rebalance`` section as parsed at start-up (``section``,
never rewritten), with a simulated run's trigger values (``params.run_config``) or, after a
refused ``/reload_config``, the last good portfolio of the record (``startup.last_good``).

Freqtrade's run modes, decided here and nowhere else:

- ``dry_run`` and ``live`` (``freqtrade trade``): a bot with its trade database, the ticker,
  Telegram and FreqUI; the portfolio's record lives in the database.
- ``backtest``: one loop per candle, fills at the candle's open, no database; the rebalance
  events go to the journal.
- ``hyperopt``: one backtest per epoch, each with that epoch's trigger values (``params.py``),
  often in worker processes side by side: no journal (the last backtest's is left alone), and
  the rebalance events are logged at debug level only.
- every other mode that loads a strategy (``lookahead-analysis`` and ``recursive-analysis``,
  which run backtests of their own; ``plot-dataframe``; the webserver behind FreqUI's backtest
  tab and its charts): simulated like a backtest, with no database and no journal (the last
  backtest's journal is left alone). ``plot-dataframe`` and the webserver's charts
  (``viewer``) show a backtest's result: its portfolio columns and first buys (``chart.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from freqtrade.enums import RunMode

from ..core.config import RebalanceConfig

#: Run modes with a trading bot and its database.
TRADING = (RunMode.DRY_RUN, RunMode.LIVE)
#: Run modes whose rebalance events are journalled.
JOURNALLED = (RunMode.BACKTEST,)
#: Run modes that only show a strategy's dataframe (FreqUI's charts of a backtest through
#: ``freqtrade webserver``, ``plot-dataframe``): no backtest runs on its signals.
VIEWERS = (RunMode.WEBSERVER, RunMode.PLOT)


@dataclass
class Context:
    strategy: Any  # the IStrategy this plugin is mixed into
    cfg: RebalanceConfig  # the live config
    backtest: bool  # simulated: any run mode without a trading bot (no database, no messages)
    journal: bool = False  # a backtest: rebalance events go to the journal
    hyperopt: bool = False  # one backtest per hyperopt epoch
    viewer: bool = False  # a chart of a backtest's result (VIEWERS)
    section: RebalanceConfig = field(init=False)  # config.json's, as parsed: never rewritten

    def __post_init__(self) -> None:
        self.section = self.cfg

    @classmethod
    def of(cls, strategy: Any, cfg: RebalanceConfig, config: dict[str, Any]) -> Context:
        mode = config.get("runmode")
        return cls(
            strategy,
            cfg,
            mode not in TRADING,
            mode in JOURNALLED,
            mode == RunMode.HYPEROPT,
            mode in VIEWERS,
        )

    @property
    def checked(self) -> bool:
        """The Freqtrade settings are checked at start-up: a bot, a backtest or hyperopt (the
        analysis commands set exit settings for themselves)."""
        return self.journal or self.hyperopt or not self.backtest

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
