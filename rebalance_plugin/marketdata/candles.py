"""Where a portfolio's candles are: one search for every command that needs them.

The report, the demo, try-live and the presets each need the folder of Freqtrade candle files
of the portfolio's coins; they look in the same places in the same order, so the order is
written once here: the folder the user named (``--datadir``), the config's ``datadir``, the
user's own ``freqtrade download-data`` (``<user_data_dir>/data/<exchange>``), the real Binance
candles shared beside the checkout (``../shared/data/binance``) and, for the report, the
demo's generated market (``<user_data_dir>/data/synthetic``). Only file names are looked at
(Freqtrade's layout); nothing is read and Freqtrade is not imported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

#: The checkout holding rebalance_plugin/ (its sibling ``shared/`` may hold real candles).
ROOT = Path(__file__).resolve().parents[2]
#: Real Binance candles beside the checkout, shared by every clone on the machine.
SHARED_CANDLES = ROOT.parent / "shared" / "data" / "binance"
#: Freqtrade's ``dataformat_ohlcv`` -> its files' extension.
EXTENSIONS = {"feather": "feather", "parquet": "parquet", "json": "json", "jsongz": "json.gz"}


def has_candles(
    datadir: Path, pairs: Sequence[str], timeframe: str, data_format: str = "feather"
) -> bool:
    """True if ``datadir`` holds a candle file of every pair (Freqtrade's file layout)."""
    ext = EXTENSIONS.get(data_format, data_format)
    return all(
        (Path(datadir) / f"{p.replace('/', '_')}-{timeframe}.{ext}").is_file() for p in pairs
    )


def _under(base: Path | None, value: str) -> Path:
    """A path of the config: relative ones start at ``base`` (the config's folder), else at
    the working directory, as written."""
    path = Path(value)
    if base is None or path.is_absolute():
        return path
    return (base / path).resolve()


def candle_folders(
    config: Mapping[str, Any], *, base: Path | None = None, synthetic: bool = False
) -> list[Path]:
    """Where candles are looked for, in order: the config's ``datadir``, the user's own
    download, the shared real candles beside the checkout, and (``synthetic``) the demo's
    generated market."""
    user_data = _under(base, str(config.get("user_data_dir") or "user_data"))
    exchange = str((config.get("exchange") or {}).get("name") or "binance")
    folders = [_under(base, str(config["datadir"]))] if config.get("datadir") else []
    folders += [user_data / "data" / exchange, SHARED_CANDLES]
    if synthetic:
        folders.append(user_data / "data" / "synthetic")
    return folders


def find_candles(
    config: Mapping[str, Any],
    pairs: Sequence[str],
    *,
    given: Path | None = None,
    base: Path | None = None,
    synthetic: bool = False,
    accept: Callable[[Path], bool] | None = None,
) -> Path | None:
    """The folder of ``pairs``' candles: ``given`` as it is (the user named it: a command that
    must refuse a folder without them checks it itself), else the first of
    :func:`candle_folders` holding a file of every pair on the config's ``timeframe`` in its
    ``dataformat_ohlcv`` (or that ``accept`` takes: the demo wants enough days); None if none
    does. With no pairs, the first folder (the presets look for daily candles of any coin)."""
    if given is not None:
        return Path(given)
    timeframe = str(config.get("timeframe") or "1h")
    data_format = str(config.get("dataformat_ohlcv") or "feather")

    def holds(folder: Path) -> bool:
        return has_candles(folder, pairs, timeframe, data_format)

    test = accept or holds
    folders = candle_folders(config, base=base, synthetic=synthetic)
    return next((folder for folder in folders if test(folder)), None)
