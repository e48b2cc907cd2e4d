"""SYNTHETIC market data - a seeded random walk, NOT real prices. For demos and tests only.

When no real candles are available, the demo backtests on a market generated here. Nothing
produced by this module says anything about how a real portfolio would have performed:
the prices are a correlated geometric Brownian motion whose parameters were merely chosen to
look plausible (start price, drift and volatility per coin). Anything shown from it must be
labelled as synthetic.

Model, per candle of length ``dt`` (in years, 365-day year, crypto trades 24/7):

* Each coin has a USD price following a geometric Brownian motion
  ``log S[t] - log S[t-1] = (mu - sigma**2 / 2) * dt + sigma * sqrt(dt) * Z[t]`` with
  ``Z[t] = b * M[t] + sqrt(1 - b**2) * E[t]``
  where ``M`` is one market factor shared by all coins, ``E`` the coin's own noise (both
  standard normal) and ``b`` the coin's loading on the market (correlation of two coins is
  ``b_i * b_j``). USD stablecoins are fixed at 1.
* A pair's close is ``base_usd / quote_usd``, so cross rates are consistent (ETH/BTC equals
  ETH/USDT divided by BTC/USDT).
* A candle's open is the previous candle's close (the first opens at the start price).
  High and low are drawn from the exact distribution of the maximum / minimum of a Brownian
  bridge between open and close, then clamped so ``high >= max(open, close)`` and
  ``low <= min(open, close)`` hold exactly.
* Volume (in base currency) is the coin's typical daily USD turnover, scaled to the candle,
  with log-normal noise and more volume on bigger moves, divided by the base coin's price.

Determinism: every random stream is derived from ``seed`` plus a stable hash (BLAKE2b, not
Python's salted ``hash()``) of what it belongs to - the market factor from the seed alone, a
coin's own noise from the coin's name, a pair's wicks and volume from the pair's name. Hence
the same arguments always give the same files, adding or removing a pair never changes
another pair's series, and extending ``end`` only appends candles (the streams are read
sequentially). Changing ``start``, ``timeframe`` or ``seed`` gives a different market.

Candles cover the half-open range ``[start, end)``: candle open times are aligned to the
timeframe (as on exchanges), the first is the first aligned time ``>= start`` and the last
the last one ``< end``. 2021-01-01 -> 2021-01-08 at 1h is 7 * 24 = 168 candles.

Files are written in Freqtrade's feather layout with Freqtrade's own data handler:
``<datadir>/<BASE>_<QUOTE>-<timeframe>.feather``, columns ``date`` (datetime64[ms, UTC],
candle open time), ``open``, ``high``, ``low``, ``close``, ``volume`` (float64).

CLI::

    python -m rebalance_plugin.marketdata.synthetic --datadir DIR --pairs BTC/USDT ETH/USDT \\
        --timeframe 1h --start 2021-01-01 --end 2026-01-01 --seed 42
"""

from __future__ import annotations

import argparse
import hashlib
import math
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

BANNER = "SYNTHETIC DATA (seeded random walk, not real prices) - for demos and tests only"

DEFAULT_PAIRS: tuple[str, ...] = (
    "BTC/USDT",
    "ETH/USDT",
    "BNB/USDT",
    "SOL/USDT",
    "XRP/USDT",
    "ADA/USDT",
    "DOGE/USDT",
    "LINK/USDT",
    "LTC/USDT",
    "TRX/USDT",
    "AVAX/USDT",
    "DOT/USDT",
)

OHLCV_COLUMNS = ["date", "open", "high", "low", "close", "volume"]

_SECONDS_PER_YEAR = 365 * 86400
_TIMEFRAME_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_TIMEFRAME_RE = re.compile(r"^([1-9][0-9]*)([smhd])$")


@dataclass(frozen=True)
class CoinParams:
    """Parameters of one coin's USD price process."""

    start_price: float  # USD price at ``start``
    drift: float  # annual drift ``mu`` of the GBM (arithmetic)
    vol: float  # annual volatility ``sigma``
    beta: float  # loading on the market factor, in [0, 1]
    daily_volume_usd: float  # typical daily turnover, in USD


#: Plausible parameters for well-known coins (start prices roughly those of early 2021,
#: volatilities close to the realised 2021-2025 hourly volatilities).
COINS: dict[str, CoinParams] = {
    "BTC": CoinParams(30000.0, 0.35, 0.60, 0.90, 1.8e9),
    "ETH": CoinParams(1000.0, 0.45, 0.80, 0.88, 9.0e8),
    "BNB": CoinParams(40.0, 0.50, 0.80, 0.75, 1.7e8),
    "SOL": CoinParams(2.0, 0.95, 1.20, 0.75, 2.5e8),
    "XRP": CoinParams(0.2, 0.55, 1.00, 0.70, 2.0e8),
    "ADA": CoinParams(0.2, 0.50, 1.00, 0.80, 7.0e7),
    "DOGE": CoinParams(0.005, 0.85, 1.30, 0.65, 1.1e8),
    "LINK": CoinParams(10.0, 0.55, 1.05, 0.80, 5.0e7),
    "LTC": CoinParams(100.0, 0.40, 0.95, 0.82, 4.5e7),
    "TRX": CoinParams(0.03, 0.40, 0.75, 0.55, 5.0e7),
    "AVAX": CoinParams(10.0, 0.75, 1.20, 0.78, 5.0e7),
    "DOT": CoinParams(5.0, 0.50, 1.05, 0.80, 3.5e7),
}

#: USD stablecoins: price fixed at exactly 1 USD.
STABLECOINS = frozenset({"USD", "USDT", "USDC", "BUSD", "FDUSD", "TUSD", "DAI", "USDP", "USDE"})

# Stream ids, first word of every SeedSequence spawn key (keys have a fixed length of 3).
_STREAM_MARKET = 0
_STREAM_COIN = 1
_STREAM_HIGH = 2
_STREAM_LOW = 3
_STREAM_VOLUME = 4
_STREAM_DEFAULT_PARAMS = 5


def _stable_hash(name: str) -> tuple[int, int]:
    """64-bit BLAKE2b hash of ``name`` as two 32-bit words (stable across runs/processes)."""
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value & 0xFFFFFFFF, value >> 32


def _rng(seed: int | None, stream: int, name: str = "") -> np.random.Generator:
    """Independent generator for (seed, stream, name). ``seed=None`` only for name-only streams."""
    h0, h1 = _stable_hash(name) if name else (0, 0)
    entropy = seed if seed is not None else 0
    seq = np.random.SeedSequence(entropy=entropy, spawn_key=(stream, h0, h1))
    return np.random.default_rng(seq)


def coin_params(coin: str) -> CoinParams:
    """Parameters for ``coin``: the table entry, or a default derived deterministically from the
    name alone (independent of the seed) for coins not in :data:`COINS`."""
    coin = coin.upper()
    if coin in STABLECOINS:
        return CoinParams(1.0, 0.0, 0.0, 0.0, 1.0e8)
    if coin in COINS:
        return COINS[coin]
    rng = _rng(None, _STREAM_DEFAULT_PARAMS, coin)
    vol = float(rng.uniform(0.8, 1.4))
    log_drift = float(rng.uniform(-0.1, 0.2))  # median growth of log-price per year
    return CoinParams(
        start_price=float(10.0 ** rng.uniform(-2.5, 2.0)),
        drift=log_drift + vol * vol / 2.0,
        vol=vol,
        beta=float(rng.uniform(0.5, 0.8)),
        daily_volume_usd=float(10.0 ** rng.uniform(7.0, 8.0)),
    )


def timeframe_seconds(timeframe: str) -> int:
    """Length of ``timeframe`` ("5m", "1h", "4h", "1d", ...) in seconds.

    Weekly and monthly timeframes are refused: exchanges do not align them to the epoch.
    """
    match = _TIMEFRAME_RE.match(timeframe)
    if not match:
        raise ValueError(
            f"Unsupported timeframe {timeframe!r}: "
            "use <n>s, <n>m, <n>h or <n>d (e.g. 5m, 1h, 4h, 1d)"
        )
    return int(match.group(1)) * _TIMEFRAME_UNITS[match.group(2)]


def _to_utc(value: str | datetime | pd.Timestamp, what: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Invalid {what} date {value!r}: {exc}") from exc
    if ts is pd.NaT:
        raise ValueError(f"Invalid {what} date {value!r}")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def candle_dates(
    timeframe: str, start: str | datetime | pd.Timestamp, end: str | datetime | pd.Timestamp
) -> pd.DatetimeIndex:
    """Open times of the candles in ``[start, end)``, aligned to the timeframe,
    as a ``datetime64[ms, UTC]`` index."""
    tf_ms = timeframe_seconds(timeframe) * 1000
    start_ts, end_ts = _to_utc(start, "start"), _to_utc(end, "end")
    if end_ts <= start_ts:
        raise ValueError(f"end ({end_ts}) must be after start ({start_ts})")
    start_ms = math.ceil(start_ts.value / 1_000_000)  # .value is in ns
    end_ms = math.ceil(end_ts.value / 1_000_000)
    first = -(-start_ms // tf_ms) * tf_ms  # align up to the timeframe
    count = max(0, -(-(end_ms - first) // tf_ms))
    if count == 0:
        raise ValueError(f"No {timeframe} candle opens in [{start_ts}, {end_ts})")
    stamps = (first + tf_ms * np.arange(count, dtype=np.int64)).astype("datetime64[ms]")
    return pd.DatetimeIndex(stamps).tz_localize("UTC")


def _split_pair(pair: str) -> tuple[str, str]:
    if not isinstance(pair, str) or pair.count("/") != 1:
        raise ValueError(f"Invalid pair {pair!r}: expected BASE/QUOTE, e.g. BTC/USDT")
    base, quote = pair.upper().split("/")
    quote = quote.split(":")[0]  # BTC/USDT:USDT -> settle currency is not part of the price
    if not base or not quote:
        raise ValueError(f"Invalid pair {pair!r}: expected BASE/QUOTE, e.g. BTC/USDT")
    return base, quote


def _coin_log_returns(
    coin: str, params: CoinParams, market: np.ndarray, seed: int, dt: float
) -> np.ndarray:
    """Per-candle log returns of ``coin``'s USD price (zeros for stablecoins)."""
    if coin in STABLECOINS or params.vol == 0.0:
        return np.zeros_like(market)
    own = _rng(seed, _STREAM_COIN, coin).standard_normal(market.shape[0])
    beta = params.beta
    shock = beta * market + math.sqrt(max(0.0, 1.0 - beta * beta)) * own
    return (params.drift - 0.5 * params.vol**2) * dt + params.vol * math.sqrt(dt) * shock


def _pair_variance_per_candle(base: CoinParams, quote: CoinParams, dt: float) -> float:
    """Variance of the pair's per-candle log return (base/quote of two factor-model GBMs)."""
    cov = base.beta * quote.beta * base.vol * quote.vol
    return max(0.0, base.vol**2 + quote.vol**2 - 2.0 * cov) * dt


def generate_ohlcv(
    pairs: Iterable[str],
    timeframe: str = "1h",
    start: str | datetime | pd.Timestamp = "2021-01-01",
    end: str | datetime | pd.Timestamp = "2026-01-01",
    seed: int = 42,
) -> dict[str, pd.DataFrame]:
    """Generate synthetic OHLCV frames in memory, one per pair (see the module docstring).

    :return: ``{pair: DataFrame}`` with columns date (datetime64[ms, UTC]), open, high, low,
             close, volume (float64), in the order the pairs were given (duplicates dropped).
    """
    seed = int(seed)
    pair_list = list(dict.fromkeys(pairs))
    if not pair_list:
        raise ValueError("No pairs given")
    split = {pair: _split_pair(pair) for pair in pair_list}

    dates = candle_dates(timeframe, start, end)
    n = len(dates)
    dt = timeframe_seconds(timeframe) / _SECONDS_PER_YEAR
    candles_per_day = 86400 / timeframe_seconds(timeframe)

    market = _rng(seed, _STREAM_MARKET).standard_normal(n)
    coins = {coin for base_quote in split.values() for coin in base_quote}
    params = {coin: coin_params(coin) for coin in coins}
    # Cumulative log return of each coin's USD price at each candle close.
    cum_log = {
        coin: np.cumsum(_coin_log_returns(coin, params[coin], market, seed, dt)) for coin in coins
    }

    frames: dict[str, pd.DataFrame] = {}
    for pair in pair_list:
        base, quote = split[pair]
        pb, pq = params[base], params[quote]
        pair_key = f"{base}/{quote}"

        log_start = math.log(pb.start_price) - math.log(pq.start_price)
        log_close = log_start + cum_log[base] - cum_log[quote]
        close = np.exp(log_close)
        open_ = np.empty(n)
        open_[0] = math.exp(log_start)
        open_[1:] = close[:-1]
        x = np.log(close / open_)  # this candle's log return

        # Max / min of a Brownian bridge from 0 to x with variance v:
        # P(max > m) = exp(-2 m (m - x) / v) for m >= max(0, x)  ->  inverse-CDF sampling.
        var = _pair_variance_per_candle(pb, pq, dt)
        u_high = 1.0 - _rng(seed, _STREAM_HIGH, pair_key).random(n)  # in (0, 1]
        u_low = 1.0 - _rng(seed, _STREAM_LOW, pair_key).random(n)
        up = 0.5 * (x + np.sqrt(x * x - 2.0 * var * np.log(u_high)))
        down = 0.5 * (x - np.sqrt(x * x - 2.0 * var * np.log(u_low)))
        high = np.maximum(open_ * np.exp(up), np.maximum(open_, close))
        low = np.minimum(open_ * np.exp(down), np.minimum(open_, close))

        # Volume in base currency: USD turnover with log-normal noise, more on bigger moves.
        noise = _rng(seed, _STREAM_VOLUME, pair_key).standard_normal(n)
        move = np.abs(x) / math.sqrt(var) if var > 0 else np.zeros(n)
        turnover_usd = (
            pb.daily_volume_usd
            / candles_per_day
            * np.exp(0.5 * noise - 0.125)  # mean 1
            * (0.5 + 0.625 * move)  # mean ~1 (E|Z| = 0.8)
        )
        base_usd = pb.start_price * np.exp(cum_log[base])
        volume = np.maximum(turnover_usd / base_usd, np.finfo(float).tiny)

        frames[pair] = pd.DataFrame(
            {
                "date": dates,
                "open": open_,
                "high": high,
                "low": low,
                "close": close,
                "volume": volume,
            }
        )
    return frames


def generate_market(
    datadir: str | Path,
    pairs: Sequence[str],
    timeframe: str = "1h",
    start: str | datetime | pd.Timestamp = "2021-01-01",
    end: str | datetime | pd.Timestamp = "2026-01-01",
    seed: int = 42,
) -> list[Path]:
    """Write one SYNTHETIC OHLCV feather file per pair into ``datadir`` (created if missing),
    in Freqtrade's layout ``<datadir>/<BASE>_<QUOTE>-<timeframe>.feather``, using Freqtrade's
    own FeatherDataHandler. Existing files for the same pair/timeframe are overwritten.

    Candles cover ``[start, end)``; see the module docstring for the model and guarantees.

    :return: the written file paths, in the order of ``pairs`` (duplicates dropped).
    """
    # Lazy: importing freqtrade is slow and not needed to import this module.
    from freqtrade.data.history.datahandlers.featherdatahandler import FeatherDataHandler
    from freqtrade.enums import CandleType

    frames = generate_ohlcv(pairs, timeframe=timeframe, start=start, end=end, seed=seed)
    datadir = Path(datadir)
    datadir.mkdir(parents=True, exist_ok=True)
    handler = FeatherDataHandler(datadir)
    written: list[Path] = []
    for pair, frame in frames.items():
        handler.ohlcv_store(pair, timeframe, frame, candle_type=CandleType.SPOT)
        path = handler._pair_data_filename(datadir, pair, timeframe, CandleType.SPOT)
        if not path.is_file():  # pragma: no cover - would mean Freqtrade changed its layout
            raise RuntimeError(f"Freqtrade's writer did not create {path}")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rebalance_plugin.marketdata.synthetic",
        description=f"{BANNER}. Writes Freqtrade feather candle files.",
    )
    parser.add_argument("--datadir", required=True, type=Path, help="output directory")
    parser.add_argument(
        "--pairs", nargs="+", default=list(DEFAULT_PAIRS), help="pairs, e.g. BTC/USDT ETH/USDT"
    )
    parser.add_argument("--timeframe", default="1h", help="e.g. 5m, 1h, 4h, 1d (default 1h)")
    parser.add_argument("--start", default="2021-01-01", help="first candle, inclusive (UTC)")
    parser.add_argument("--end", default="2026-01-01", help="end, exclusive (UTC)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    args = parser.parse_args(argv)

    print(f"*** {BANNER} ***", flush=True)
    try:
        paths = generate_market(
            args.datadir, args.pairs, args.timeframe, args.start, args.end, args.seed
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path in paths:
        frame = pd.read_feather(path)
        first, last = frame["date"].iloc[0], frame["date"].iloc[-1]
        print(
            f"wrote {path}  {len(frame)} candles  "
            f"{first:%Y-%m-%d %H:%M} .. {last:%Y-%m-%d %H:%M} UTC  "
            f"close {frame['close'].iloc[0]:.6g} -> {frame['close'].iloc[-1]:.6g}"
        )
    print(
        f"*** {len(paths)} SYNTHETIC file(s), seed={args.seed}: not real prices, "
        f"do not use for any real decision ***"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
