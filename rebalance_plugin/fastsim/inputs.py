"""The harness's inputs read the way Freqtrade's backtest reads them, with Freqtrade's own
functions (imported here only): the candles (``history.load_data`` with the strategy's startup
candle, missing candles filled, then ``trim_dataframes``), the exchange's markets (the exchange
object Freqtrade builds, offline), and the price precision of a month
(``get_tick_size_over_time``, computed for the months trades open in, when they do).
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

import pandas as pd

from .candles import Candles
from .setup import Setup, Unsupported

#: RebalanceStrategy's ``startup_candle_count``: the candle Freqtrade loads before the range.
STARTUP_CANDLES = 1
_UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


def check_supported(config: dict[str, Any]) -> None:
    """Refuse what the harness does not model (run those with ``--engine freqtrade``)."""
    if config.get("timeframe_detail"):
        raise Unsupported("--timeframe-detail")
    if config.get("available_capital") is not None:
        raise Unsupported("available_capital")
    if config.get("trading_mode", "spot") != "spot":
        raise Unsupported("a trading mode other than spot")


def _exit_timeout(config: dict[str, Any]) -> float:
    timeout = config.get("unfilledtimeout") or {}
    unit = _UNIT_SECONDS.get(str(timeout.get("unit", "minutes")), 60)
    return float(timeout.get("exit", 10)) * unit


_MARKETS: dict[str, tuple[dict[str, Any], int, int]] = {}


def exchange_markets(config: dict[str, Any]) -> tuple[dict[str, Any], int, int]:
    """The markets, amount precision mode and price precision mode of the exchange Freqtrade
    builds for this config (the offline markets, as the sweep's backtests use); built once per
    exchange and process."""
    name = str(config.get("exchange", {}).get("name", ""))
    if name not in _MARKETS:
        _MARKETS[name] = _build_markets(config)
    return _MARKETS[name]


def _build_markets(config: dict[str, Any]) -> tuple[dict[str, Any], int, int]:
    from freqtrade.resolvers import ExchangeResolver

    from ..marketdata.offline import install_offline_markets

    install_offline_markets()
    exchange = ExchangeResolver.load_exchange(copy.deepcopy(config), validate=False)
    markets = dict(exchange.markets)
    return markets, int(exchange.precisionMode), int(exchange.precision_mode_price)


class MonthTicks:
    """``Backtesting.get_pair_precision``: the price precision of a trade's opening month,
    Freqtrade's ``get_tick_size_over_time`` on the loaded candles of that month."""

    def __init__(self, loaded: dict[str, pd.DataFrame]) -> None:
        self.loaded = loaded
        self.tick = lru_cache(maxsize=None)(self._tick)

    def __call__(self, pair: str, ts: float) -> float | None:
        month = pd.Timestamp(ts, unit="s").to_period("M")
        return self.tick(pair, str(month))

    def _tick(self, pair: str, month: str) -> float | None:
        from freqtrade.data.btanalysis.historic_precision import get_tick_size_over_time

        frame = self.loaded.get(pair)
        if frame is None or not len(frame):
            return None
        period = pd.Period(month, "M")
        start = period.start_time.tz_localize("UTC")
        end = (period + 1).start_time.tz_localize("UTC")
        rows = frame[(frame["date"] >= start) & (frame["date"] < end)]
        if not len(rows):
            return None
        series = get_tick_size_over_time(rows.copy())
        value = series.dropna()
        return float(value.iloc[-1]) if len(value) else None


def load(config: dict[str, Any]) -> Setup:
    """Everything a point of this config needs but its ``rebalance`` section."""
    from freqtrade.configuration import TimeRange
    from freqtrade.data import history
    from freqtrade.data.converter import trim_dataframes
    from freqtrade.exchange import timeframe_to_seconds

    check_supported(config)
    pairs = list(config["exchange"]["pair_whitelist"])
    timeframe = config["timeframe"]
    timerange = TimeRange.parse_timerange(config.get("timerange"))
    loaded = history.load_data(
        datadir=config["datadir"],
        pairs=pairs,
        timeframe=timeframe,
        timerange=timerange,
        startup_candles=STARTUP_CANDLES,
        fail_without_data=True,
        data_format=config.get("dataformat_ohlcv", "feather"),
    )
    seconds = timeframe_to_seconds(timeframe)
    min_date, _ = history.get_timerange(loaded)
    timerange.adjust_start_if_necessary(seconds, STARTUP_CANDLES, min_date)
    trimmed = trim_dataframes(loaded, timerange, STARTUP_CANDLES)
    candles = Candles.build(loaded, trimmed, pairs, seconds)
    markets, mode, price_mode = exchange_markets(config)
    fee = config.get("fee")
    if fee is None:
        fee = markets[pairs[0]].get("taker") or 0.001
    return Setup(
        candles=candles,
        markets={p: markets[p] for p in pairs if p in markets},
        precision_mode=mode,
        price_mode=price_mode,
        fee=float(fee),
        dry_run_wallet=float(config.get("dry_run_wallet", 1000)),
        tradable_ratio=float(config.get("tradable_balance_ratio", 1.0)),
        stake_amount=config.get("stake_amount", "unlimited"),
        max_open_trades=_max_open(config, pairs),
        amount_reserve=float(config.get("amount_reserve_percent", 0.05)),
        exit_timeout=_exit_timeout(config),
        stake=str(config.get("stake_currency", "USDT")),
        month_tick=MonthTicks(loaded),
    )


def _max_open(config: dict[str, Any], pairs: list[str]) -> int:
    mot = config.get("max_open_trades")
    if mot is None or mot == -1 or mot == float("inf"):
        return len(pairs)
    return int(mot)
