"""Fixtures of the command-line tests: the command run in-process, the CoinGecko stand-in,
and small daily-candle directories written for a test."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from coingecko_standin import Coin, CoinGeckoServer, start_server
from rebalance_plugin.cli import main
from tests.helpers.paths import ROOT


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """``freqtrade-rebalance ARGS...`` in-process: exit code, stdout, stderr."""

    def run(*args: object) -> Result:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def config_copy(tmp_path: Path) -> Path:
    """A copy of the repository's config.json (the template users start from)."""
    path = tmp_path / "config.json"
    shutil.copy(ROOT / "config.json", path)
    return path


@pytest.fixture
def gecko() -> Iterator[CoinGeckoServer]:
    """The CoinGecko stand-in on 127.0.0.1 (coins set by the test: ``gecko.coins = [...]``)."""
    server = start_server([])
    yield server
    server.shutdown()
    server.server_close()


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
