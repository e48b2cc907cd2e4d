"""Daily closes from a Freqtrade data directory, with Freqtrade's own loader."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from ..core.presets import History

TIMEFRAME = "1d"


def candle_coins(datadir: Path, stake: str, data_format: str = "feather") -> set[str]:
    """The coins with daily spot candles against ``stake`` in ``datadir``."""
    from freqtrade.data.history import get_datahandler
    from freqtrade.enums import CandleType, TradingMode

    if not Path(datadir).is_dir():
        return set()
    handler = get_datahandler(Path(datadir), data_format)
    suffix = f"/{stake.upper()}"
    return {
        pair.split("/")[0]
        for pair, timeframe, candle_type in handler.ohlcv_get_available_data(
            Path(datadir), TradingMode.SPOT
        )
        if timeframe == TIMEFRAME and candle_type == CandleType.SPOT and pair.endswith(suffix)
    }


def load_history(
    datadir: Path,
    coin: str,
    stake: str,
    data_format: str = "feather",
    now: datetime | None = None,
) -> History:
    """The coin's daily closes, complete UTC days only (a candle opening at day D is complete
    once D + 1 day has begun). Candles are read as stored: no missing day is filled in."""
    from freqtrade.data.history import load_pair_history

    frame = load_pair_history(
        f"{coin}/{stake}",
        TIMEFRAME,
        Path(datadir),
        fill_up_missing=False,
        data_format=data_format,
    )
    now = now or datetime.now(UTC)
    dates: list[date] = []
    closes: list[float] = []
    if not frame.empty:
        for when, close in zip(frame["date"], frame["close"]):
            opened = when.to_pydatetime()
            if opened + timedelta(days=1) <= now and close == close:  # complete, not NaN
                dates.append(opened.date())
                closes.append(float(close))
    return History(coin=coin, dates=tuple(dates), closes=tuple(closes))
