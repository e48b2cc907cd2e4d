"""Flat candles for the stand-in's tests: every price constant, so each answer's numbers are
known in advance."""

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
