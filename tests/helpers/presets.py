"""Test data for the presets: CoinGecko stand-in coins and small daily-candle files."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from coingecko_standin import Coin

GECKO_COINS = [
    # id, symbol, name, price, supply -> market cap (hand-checked in the tests)
    Coin("bitcoin", "btc", "Bitcoin", 50_000.0, 20_000_000.0),  # 1.0e12
    Coin("ethereum", "eth", "Ethereum", 2_000.0, 150_000_000.0),  # 3.0e11
    Coin("tether", "usdt", "Tether", 1.0, 200_000_000_000.0),  # 2.0e11, stablecoin
    Coin("binancecoin", "bnb", "BNB", 500.0, 200_000_000.0),  # 1.0e11
    Coin("solana", "sol", "Solana", 100.0, 500_000_000.0),  # 5.0e10
    Coin("hyperliquid", "hype", "Hyperliquid", 30.0, 1_000_000_000.0),  # 3.0e10, no market
    Coin("ripple", "xrp", "XRP", 1.0, 25_000_000_000.0),  # 2.5e10
    Coin("wrapped-bitcoin", "wbtc", "Wrapped Bitcoin", 50_000.0, 150_000.0),  # 7.5e9, wrapped
]


def write_daily(datadir: Path, coin: str, first: date, closes: list[float]) -> None:
    """``COIN_USDT-1d.feather`` with one candle a day from ``first`` (open = high = low = close),
    written with Freqtrade's own data handler."""
    from freqtrade.data.history import get_datahandler
    from freqtrade.enums import CandleType

    dates = pd.to_datetime([first + timedelta(days=k) for k in range(len(closes))], utc=True)
    frame = pd.DataFrame(
        {"date": dates, "open": closes, "high": closes, "low": closes, "close": closes}
    )
    frame["volume"] = 1.0
    datadir.mkdir(parents=True, exist_ok=True)
    get_datahandler(datadir, "feather").ohlcv_store(f"{coin}/USDT", "1d", frame, CandleType.SPOT)
