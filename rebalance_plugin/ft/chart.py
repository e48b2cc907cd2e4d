"""FreqUI's charts of the portfolio: the strategy's ``plot_config``, the portfolio's columns on
every pair's analysed dataframe (computed in ``rebalance_plugin.report.columns``) and the entry
signal.

Where the columns come from, by run mode:

- dry/live (FreqUI's live chart, ``/api/v1/pair_candles``): the bot's database, every filled
  order of its trades (open and closed), anchored at the open trades' amounts and the
  portfolio's own cash now, with its record's starting allocation and money moved in or out;
  the candles Freqtrade keeps of every coin. Computed when Freqtrade analyses a new candle
  (vectorised: a few milliseconds for a thousand candles).
- ``freqtrade webserver`` (FreqUI's backtest view, ``/api/v1/pair_history``) and
  ``plot-dataframe``: Freqtrade analyses the strategy over the backtest's range afresh, without
  any trade, so the columns come from the backtest's result: the newest result of this strategy,
  timeframe and timerange (FreqUI asks with the result's own ``timerange``), among the backtest
  this webserver ran last (kept in memory by Freqtrade) and the result files.
- backtesting, hyperopt, lookahead/recursive analysis: none. Freqtrade analyses the dataframe
  *before* the backtest trades, so nothing is known yet, and every backtest would pay for them.

The entry signal (``enter_long``): FreqUI marks every candle whose signal is 1 as an entry.

- backtest-like modes: 1 on every candle, as always: the backtest opens a coin's trade on it
  when ``confirm_trade_entry`` allows (the first buys), so no result changes;
- dry/live and the viewers: 1 only on the candle whose signal opened a trade (the last candle
  closed before it opened: Freqtrade enters on the candle after the signal), i.e. the real first
  buys. Live, Freqtrade takes a new trade's signal from ``IStrategy.get_entry_signal`` on the
  latest candle; ``RebalanceMixin.get_entry_signal`` answers it as before (the latest candle
  signals, ``confirm_trade_entry`` decides), so no first buy waits. That override relies on
  Freqtrade's code, checked by :func:`signal_override_verified` (after an upgrade that changes
  it, the latest candle is marked in the dataframe instead, as before this change, and
  ``tests/unit/test_ft_chart.py`` fails).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
from freqtrade.exchange import timeframe_to_seconds
from freqtrade.persistence import Trade

from ..core.config import ConfigError, RebalanceConfig, parse_rebalance_config
from ..core.portfolio import Band
from ..report import columns
from ..report.columns import Ledger, Start
from .context import Context
from .reader import PortfolioReader
from .sourceguard import SourceGuard
from .store import StateStore

logger = logging.getLogger("rebalance_plugin.ft")

#: What the columns and signals are computed from: the ledger, the portfolio's config (targets,
#: trigger) and each pair's trade opening times.
Inputs = tuple[Ledger, RebalanceConfig, dict[str, list[pd.Timestamp]]]

#: What FreqUI (and ``plot-dataframe``) draws on every pair's chart: the coin's weight against
#: its target and the threshold band, and the portfolio's value against buy-and-hold.
PLOT_CONFIG: dict[str, Any] = {
    "main_plot": {},
    "subplots": {
        "Weight %": {
            columns.BAND_LOW: {
                "color": "rgba(255,152,0,0.5)",
                "fill_to": columns.BAND_HIGH,
                "fill_label": "threshold band",
                "fill_color": "rgba(255,152,0,0.15)",
            },
            columns.BAND_HIGH: {"color": "rgba(255,152,0,0.5)"},
            columns.TARGET: {"color": "#ff9800"},
            columns.WEIGHT: {"color": "#2962ff"},
        },
        "Portfolio value": {
            columns.VALUE: {"color": "#2962ff"},
            columns.BUY_HOLD: {"color": "#9e9e9e"},
        },
    },
}

#: sha256 of ``inspect.getsource(IStrategy.get_entry_signal)`` as of freqtrade==2026.9.
ENTRY_SIGNAL_SHA256 = "6a4fb8976862ca9da13ccb22f74911f4a245258e4c1bc5c5e73c8af380b15685"


def _signal_sites() -> dict[str, Any]:
    """The entry signal's method (hashed), and the bot's ``create_trade`` that must call it."""
    from freqtrade.freqtradebot import FreqtradeBot
    from freqtrade.strategy import IStrategy

    return {
        "IStrategy.get_entry_signal": IStrategy.get_entry_signal,
        "FreqtradeBot.create_trade": FreqtradeBot.create_trade,
    }


#: Freqtrade asks ``IStrategy.get_entry_signal`` for a new trade's signal, and that method is
#: the code the override was written against.
SIGNAL_GUARD = SourceGuard(
    _signal_sites,
    {"IStrategy.get_entry_signal": ENTRY_SIGNAL_SHA256},
    "the latest candle of every chart is marked as an entry (first buys are not delayed)",
    logger,
    calls={"FreqtradeBot.create_trade": "self.strategy.get_entry_signal("},
)


def signal_override_verified() -> bool:
    """True when the override of the entry signal may be used (``SIGNAL_GUARD``, checked
    once)."""
    return SIGNAL_GUARD.verified()


class Charts:
    """The portfolio's columns and entry signal of each pair's dataframe."""

    def __init__(self, ctx: Context, store: StateStore, reader: PortfolioReader) -> None:
        self.ctx = ctx
        self.store = store
        self.reader = reader
        self._result: Inputs | None = None
        self._looked = False
        self._last: tuple[str, Inputs | None] | None = None  # populate's, for entry_signal

    @property
    def trading(self) -> bool:
        return not self.ctx.backtest

    @property
    def timeframe(self) -> pd.Timedelta:
        tf = self.ctx.config.get("timeframe") or self.ctx.strategy.timeframe
        return pd.Timedelta(seconds=timeframe_to_seconds(tf))

    # ---- columns -----------------------------------------------------------------------------
    def populate(self, dataframe: pd.DataFrame, pair: str) -> pd.DataFrame:
        """``dataframe`` with the portfolio's columns (dry/live and the viewers; other modes:
        unchanged). Never stops the analysis: an error is logged, the columns left out."""
        if not (self.trading or self.ctx.viewer) or dataframe.empty:
            return dataframe
        try:
            found = self._inputs()
            self._last = (pair, found)
            if found is None:
                return dataframe
            ledger, cfg = found[0], found[1]
            return self._add(dataframe, pair, ledger, cfg)
        except Exception as err:  # a chart must never stop trading
            logger.warning(f"Portfolio chart columns of {pair} left out: {err}")
            return dataframe

    def _inputs(self) -> Inputs | None:
        if self.trading:
            return self._live()
        if not self._looked:  # a viewer analyses every pair from the same result
            self._looked = True
            self._result = self._from_result()
        return self._result

    def _add(
        self, dataframe: pd.DataFrame, pair: str, ledger: Ledger, cfg: RebalanceConfig
    ) -> pd.DataFrame:
        coin = cfg.coin_of(pair)
        coins = list(dict.fromkeys([*cfg.coin_names, *ledger.end_holdings, *ledger.orders["coin"]]))
        closes = self._closes(dataframe, pair, coins, cfg)
        frame = columns.portfolio_frame(closes, self.timeframe, ledger)
        target = cfg.weights.get(coin, 0.0)
        half = Band(cfg.drift_limit, cfg.relative).half(target)
        cols = columns.pair_columns(frame, coin, target, half)
        dates = columns.utc(dataframe["date"])
        cols = cols.reindex(dates)
        for name in columns.COLUMNS:
            dataframe[name] = cols[name].to_numpy()
        return dataframe

    def _closes(
        self, dataframe: pd.DataFrame, pair: str, coins: list[str], cfg: RebalanceConfig
    ) -> pd.DataFrame:
        """Each coin's candle closes by candle open time, on this pair's candles."""
        dates = columns.utc(dataframe["date"])
        out = {}
        tf = self.ctx.config.get("timeframe") or self.ctx.strategy.timeframe
        for coin in coins:
            other = cfg.pair(coin)
            if other == pair:
                out[coin] = pd.Series(dataframe["close"].to_numpy(), index=dates)
                continue
            df = self.ctx.dp.get_pair_dataframe(other, tf) if self.ctx.dp else None
            if df is None or df.empty:
                out[coin] = pd.Series(float("nan"), index=dates)
                continue
            series = pd.Series(df["close"].to_numpy(), index=columns.utc(df["date"]))
            series = series[~series.index.duplicated(keep="last")]
            out[coin] = series.reindex(series.index.union(dates)).ffill().reindex(dates)
        return pd.DataFrame(out, index=dates)

    # ---- dry/live: the bot's trades ----------------------------------------------------------
    def _live(self) -> Inputs:
        cfg = self.store.book.applied(self.ctx.cfg)
        trades = list(Trade.get_trades_proxy())
        rows = []
        opened: dict[str, list[pd.Timestamp]] = {}
        for trade in trades:
            coin = cfg.coin_of(trade.pair)
            opened.setdefault(trade.pair, []).append(pd.Timestamp(trade.open_date_utc))
            for order in trade.orders:
                side = order.ft_order_side
                filled = float(order.safe_filled or 0.0)
                if side not in ("buy", "sell") or filled <= 0:
                    continue
                when = order.order_filled_utc or order.order_date_utc
                buy = side == "buy"
                fee = float((trade.fee_open if buy else trade.fee_close) or 0.0)
                value = filled * float(order.safe_price)
                qty = float(order.safe_amount_after_fee) if buy else -filled
                cash = -value * (1.0 + fee) if buy else value * (1.0 - fee)
                rows.append((pd.Timestamp(when), coin, qty, cash))
        orders = pd.DataFrame(rows, columns=columns.ORDER_COLUMNS)
        open_trades = [t for t in trades if t.is_open]
        book = self.store.book
        start = None
        if book.start_time is not None and book.start_cash is not None:
            start = Start(
                pd.Timestamp(book.start_time, unit="s", tz="UTC"),
                dict(book.start_holdings),
                book.start_cash,
            )
        ledger = Ledger(
            orders,
            {cfg.coin_of(t.pair): float(t.amount) for t in open_trades},
            self.reader.own_cash(open_trades),
            tuple((pd.Timestamp(t, unit="s", tz="UTC"), a) for t, a in book.moves),
            start,
        )
        return ledger, cfg, opened

    # ---- the viewers: a backtest's result ----------------------------------------------------
    def _from_result(self) -> Inputs | None:
        from ..report.loading import orders_from_trades

        found = self._find_result()
        if found is None:
            logger.info(
                "No backtest result of this strategy, timeframe and timerange: the chart shows "
                "no portfolio"
            )
            return None
        trades, stored = found
        cfg = self.ctx.cfg
        section = stored.get("rebalance")
        if isinstance(section, dict):
            try:
                cfg = parse_rebalance_config(section, cfg.stake_currency)
            except ConfigError:
                pass
        orders = orders_from_trades(trades)
        buy = orders["side"] == "buy"
        value = orders["amount"] * orders["price"]
        qty = orders["amount"].where(buy, -orders["amount"])
        cash = (-value * (1.0 + orders["fee"])).where(buy, value * (1.0 - orders["fee"]))
        frame = pd.DataFrame({"time": orders["time"], "coin": orders["coin"], "qty": qty})
        frame["cash"] = cash
        first = orders[buy].groupby("coin", sort=False).head(1)
        start = None
        if len(first):
            cost = float((first["amount"] * first["price"] * (1.0 + first["fee"])).sum())
            start = Start(
                pd.Timestamp(first["time"].max()),
                dict(zip(first["coin"], first["amount"].astype(float))),
                cfg.investment - cost,
            )
        opened: dict[str, list[pd.Timestamp]] = {}
        for pair, ts in zip(trades["pair"], trades["open_timestamp"]):
            opened.setdefault(str(pair), []).append(pd.Timestamp(int(ts), unit="ms", tz="UTC"))
        return Ledger.forward(frame, cfg.investment, start), cfg, opened

    def _find_result(self) -> tuple[pd.DataFrame, dict[str, Any]] | None:
        """The trades and stored config of the newest result of this strategy, timeframe and
        timerange: the webserver's last backtest (in memory) or a result file."""
        from ..report.loading import find_result

        config = self.ctx.config
        name = self.ctx.strategy.get_strategy_name()
        timeframe = config.get("timeframe") or self.ctx.strategy.timeframe
        timerange = config.get("timerange")
        user_data = Path(config.get("user_data_dir") or "user_data")
        results = Path(config.get("exportdirectory") or user_data / "backtest_results")
        candidates: list[tuple[float, pd.DataFrame, dict[str, Any]]] = []
        memory = _webserver_result(name, timeframe, timerange)
        if memory is not None:
            candidates.append(memory)
        if results.is_dir():
            on_disk = find_result(results, name, timeframe, timerange)
            if on_disk is not None:
                candidates.append(on_disk)
        if not candidates:
            return None
        _, trades, stored = max(candidates, key=lambda c: c[0])
        return trades, stored

    # ---- entry signal ------------------------------------------------------------------------
    def entry_signal(self, dataframe: pd.DataFrame, pair: str) -> Any:
        """``enter_long``: 1 everywhere in backtest-like modes; the real first buys otherwise
        (module docstring)."""
        if not (self.trading or self.ctx.viewer):
            return 1
        opened: list[pd.Timestamp] = []
        try:
            last = self._last
            found = last[1] if last is not None and last[0] == pair else self._inputs()
            self._last = None
            if found is not None:
                opened = found[2].get(pair, [])
        except Exception as err:
            logger.warning(f"First buys of {pair} not marked: {err}")
        marks = columns.entry_marks(dataframe["date"], opened, self.timeframe)
        if self.trading and not signal_override_verified() and len(marks):
            marks.iloc[-1] = 1  # the latest candle signals, as before
        return marks


def _webserver_result(
    strategy: str, timeframe: str, timerange: str | None
) -> tuple[float, pd.DataFrame, dict[str, Any]] | None:
    """The backtest this ``freqtrade webserver`` ran last (FreqUI's "Run backtest"), if it is
    of this strategy, timeframe and timerange: (run time, trades, {})."""
    try:
        from freqtrade.rpc.api_server.webserver_bgwork import ApiBG

        backtesting = ApiBG.bt.get("bt")
        results = getattr(backtesting, "results", None) or {}
        stats = (results.get("strategy") or {}).get(strategy)
    except Exception:  # not a webserver, or Freqtrade keeps it elsewhere now
        return None
    if not stats or stats.get("timeframe") != timeframe:
        return None
    if timerange and stats.get("timerange") != timerange:
        return None
    trades = pd.DataFrame(stats.get("trades") or [])
    if trades.empty:
        return None
    return float(stats.get("backtest_run_start_ts") or 0), trades, {}
