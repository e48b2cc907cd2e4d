"""The candles of a backtest as numpy arrays, laid out as Freqtrade's backtest walks them.

Two views of the same candles, because Freqtrade has two:

- the *prices* the plugin decides on (``PortfolioReader.opens``: every open of the data loaded,
  the startup candle included, kept from ``populate_indicators``);
- the *rows* Freqtrade visits a pair on, where its orders fill: the data trimmed to the
  timerange (less the startup candle), less its first row (the signals are shifted by one).

``times`` are the backtest's loop times: from the first trimmed candle plus one timeframe to the
last (``Backtesting.time_pair_generator``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


def _seconds(dates: pd.Series) -> np.ndarray:
    return np.asarray(pd.DatetimeIndex(dates).as_unit("s").asi8, dtype=np.int64)


@dataclass(frozen=True)
class Candles:
    """``opens`` (decision prices), ``lows`` and ``highs`` (visited rows; NaN: the pair is not
    visited then), by loop time (rows) and pair (columns, whitelist order)."""

    pairs: tuple[str, ...]
    timeframe: int  # seconds
    times: np.ndarray  # int64 POSIX seconds
    opens: np.ndarray
    lows: np.ndarray
    highs: np.ndarray
    visit: np.ndarray  # bool: Freqtrade visits the pair at that time
    last_row: np.ndarray  # per pair: index in ``times`` of its last visited row (-1: none)
    start: int  # the backtest's start (first trimmed candle): its report starts there
    end: int  # its end (the last trimmed candle)

    @classmethod
    def build(
        cls,
        loaded: Mapping[str, pd.DataFrame],
        trimmed: Mapping[str, pd.DataFrame],
        pairs: Sequence[str],
        timeframe: int,
    ) -> Candles:
        """From the frames Freqtrade loads (``loaded``, with the startup candle) and trims
        (``trimmed``), columns ``date``, ``open``, ``high``, ``low``."""
        firsts = [_seconds(trimmed[p]["date"])[0] for p in pairs if len(trimmed.get(p, ()))]
        lasts = [_seconds(trimmed[p]["date"])[-1] for p in pairs if len(trimmed.get(p, ()))]
        if not firsts:
            raise ValueError("no candles left in the timerange")
        start, end = int(min(firsts)), int(max(lasts))
        times = np.arange(start + timeframe, end + 1, timeframe, dtype=np.int64)
        shape = (len(times), len(pairs))
        opens = np.full(shape, np.nan)
        lows = np.full(shape, np.nan)
        highs = np.full(shape, np.nan)
        last_row = np.full(len(pairs), -1, dtype=np.int64)
        for j, pair in enumerate(pairs):
            frame = loaded.get(pair)
            if frame is not None and len(frame):
                at = (_seconds(frame["date"]) - times[0]) // timeframe
                keep = (at >= 0) & (at < len(times))
                opens[at[keep], j] = frame["open"].to_numpy(float)[keep]
            rows = trimmed.get(pair)
            if rows is None or len(rows) < 2:
                continue
            rows = rows.iloc[1:]
            at = (_seconds(rows["date"]) - times[0]) // timeframe
            keep = (at >= 0) & (at < len(times))
            lows[at[keep], j] = rows["low"].to_numpy(float)[keep]
            highs[at[keep], j] = rows["high"].to_numpy(float)[keep]
            if keep.any():
                last_row[j] = int(at[keep][-1])
        visit = ~np.isnan(lows)
        return cls(tuple(pairs), timeframe, times, opens, lows, highs, visit, last_row, start, end)
