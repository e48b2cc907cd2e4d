"""Candles for the stand-in's tests whose every number is known in advance: flat ones (every
price constant), or BTC's ramp (candle k opens at 40000 + 100 k), and the clock those tests
move by hand."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd


def write_flat_candles(
    folder: Path, prices: Mapping[str, float], days: int, volume: float, start: str = "2024-01-01"
) -> Path:
    """Hourly ``{COIN}_USDT-1h.feather`` candles from ``start`` for ``days`` days, each coin at
    its price in ``prices``; returns ``folder``."""
    dates = pd.date_range(start, periods=24 * days, freq="1h", tz="UTC")
    for coin, price in prices.items():
        pd.DataFrame(
            {
                "date": dates.astype("datetime64[ms, UTC]"),
                "open": price,
                "high": price,
                "low": price,
                "close": price,
                "volume": volume,
            }
        ).to_feather(folder / f"{coin}_USDT-1h.feather")
    return folder


def ramp_open(k: int) -> float:
    """The open of candle k of :func:`write_btc_ramp`."""
    return 40000.0 + 100.0 * k


def write_btc_ramp(folder: Path, hours: int) -> Path:
    """``BTC_USDT-1h.feather``: ``hours`` hourly candles from 2024-01-01 00:00, candle k opening
    at 40000 + 100 k and closing 100 higher, its high 150 over the open and its low 50 under it,
    volume 10; returns ``folder``."""
    opens = [ramp_open(k) for k in range(hours)]
    frame = pd.DataFrame(
        {
            "date": pd.date_range("2024-01-01", periods=hours, freq="1h", tz="UTC"),
            "open": opens,
            "high": [o + 150.0 for o in opens],
            "low": [o - 50.0 for o in opens],
            "close": [o + 100.0 for o in opens],
            "volume": [10.0] * hours,
        }
    )
    frame["date"] = frame["date"].astype("datetime64[ms, UTC]")
    frame.to_feather(folder / "BTC_USDT-1h.feather")
    return folder


class ManualClock:
    """A clock (milliseconds) the test sets: ``clock.now = ...``."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now
