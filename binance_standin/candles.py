"""Market data: history replayed in the present.

``--datadir`` holds Freqtrade feather candles ``{BASE}_{QUOTE}-{timeframe}.feather``; the
:class:`Replay` shifts them by a whole number of days onto the wall clock, gives the price
model (open -> close interpolation inside the ``--timeframe`` candle) and serves ``klines``
up to and including the current, partial candle (see the package docstring).

Accelerated replay (``--speed N``): history runs N times faster than the wall clock from the
start-up moment, while every time the stand-in serves stays on the wall clock. A real bot
judges candles by its own clock (Freqtrade refreshes a pair when the wall clock enters a new
candle and warns of "Outdated history" when the last candle is two candles old) and signs its
requests with it (checked against ``recvWindow``), so candles dated N times ahead would be
"in the future" and never refreshed. The klines are therefore re-dated onto the wall clock's
grid: the candle holding the replay's "now" carries the open time of the wall clock's current
candle, the ones before it the candle times before that. The price path (tickers, book,
fills) follows the replay; a bot sees its prices move N times faster, and candles that always
end at its own "now".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from binance_standin.common import (
    DAY,
    DEFAULT_START_BEFORE_END,
    INTERVALS,
    WEEK_ORIGIN,
    iso,
    to_ms,
)
from binance_standin.errors import BinanceError

log = logging.getLogger(__name__)

#: A kline before formatting: open time (wall ms), open, high, low, close, volume.
Row = tuple[int, float, float, float, float, float]
#: A last say over each kline before it is served: (symbol, row, its size in ms, now) -> row
#: (the market's price overrides: :meth:`binance_standin.market.Market.kline`).
Adjust = Callable[[str, Row, int, int], Row]


@dataclass
class Candles:
    """One symbol's candles of one timeframe in *historical* time: numpy arrays, ms."""

    tf_ms: int
    ts: np.ndarray
    o: np.ndarray
    h: np.ndarray
    l: np.ndarray  # noqa: E741 - OHLC naming
    c: np.ndarray
    v: np.ndarray

    @classmethod
    def read(cls, path: Path, tf_ms: int) -> Candles:
        df = pd.read_feather(path, columns=["date", "open", "high", "low", "close", "volume"])
        dates = pd.to_datetime(df["date"], utc=True)
        df = df.assign(date=dates).sort_values("date").drop_duplicates("date", keep="last")
        ts = df["date"].dt.tz_localize(None).to_numpy("datetime64[ms]").astype(np.int64)
        col = lambda name: df[name].to_numpy(np.float64)  # noqa: E731
        return cls(tf_ms, ts, col("open"), col("high"), col("low"), col("close"), col("volume"))

    def __len__(self) -> int:
        return len(self.ts)

    def index_at(self, t: int) -> int:
        """Index of the candle containing ``t``, or -1 (before the data, in a gap, after)."""
        i = int(np.searchsorted(self.ts, t, side="right")) - 1
        return i if i >= 0 and t < self.ts[i] + self.tf_ms else -1

    def price_at(self, t: int) -> float:
        """The price model: open -> close linearly across the candle containing ``t``;
        in a gap or after the data the last close, before the data the first open."""
        if not len(self):
            return float("nan")
        i = int(np.searchsorted(self.ts, t, side="right")) - 1
        if i < 0:
            return float(self.o[0])
        if t < self.ts[i] + self.tf_ms:
            frac = (t - self.ts[i]) / self.tf_ms
            return float(self.o[i] + (self.c[i] - self.o[i]) * frac)
        return float(self.c[i])

    def price_before(self, t: int) -> float:
        """The price model just before ``t``: at a candle's close time, that candle's close
        (not the next one's open, which :meth:`price_at` gives)."""
        if not len(self):
            return float("nan")
        i = int(np.searchsorted(self.ts, t, side="left")) - 1
        if i < 0:
            return float(self.o[0])
        if t <= self.ts[i] + self.tf_ms:
            frac = (t - self.ts[i]) / self.tf_ms
            return float(self.o[i] + (self.c[i] - self.o[i]) * frac)
        return float(self.c[i])

    def path_range(self, a: int, b: int) -> tuple[float, float]:
        """(high, low) of the price model from ``a`` to just before ``b`` (``a < b``): the path
        at both ends and at every candle boundary between them, and the real high and low of
        the candles wholly inside."""
        values = [self.price_at(a), self.price_before(b)]
        i0 = int(np.searchsorted(self.ts, a, side="left"))
        i1 = int(np.searchsorted(self.ts, b, side="left"))
        for i in range(i0, i1):  # candles opening in [a, b)
            if self.ts[i] > a:
                values += [float(self.o[i]), self.price_before(int(self.ts[i]))]
            if self.ts[i] + self.tf_ms <= b:
                values += [float(self.h[i]), float(self.l[i])]
        return max(values), min(values)

    def split(self, tf_ms: int) -> Candles:
        """Finer candles (``tf_ms`` divides this timeframe) along the price model's path:
        each candle's open -> close in equal steps, its volume shared equally. Synthetic: a
        finer candle's high and low are those of the straight path, not the market's."""
        n = self.tf_ms // tf_ms
        k = np.tile(np.arange(n), len(self))
        o, c = np.repeat(self.o, n), np.repeat(self.c, n)
        opens = o + (c - o) * k / n
        closes = o + (c - o) * (k + 1) / n
        return Candles(
            tf_ms,
            (np.repeat(self.ts, n) + k * tf_ms).astype(np.int64),
            opens,
            np.maximum(opens, closes),
            np.minimum(opens, closes),
            closes,
            np.repeat(self.v, n) / n,
        )

    def resample(self, tf_ms: int, origin: int) -> Candles:
        """Coarser candles whose buckets are ``origin + k * tf_ms`` (historical ms)."""
        if not len(self):
            return Candles(tf_ms, *(np.array([]) for _ in range(6)))
        keys = (self.ts - origin) // tf_ms
        uniq, first = np.unique(keys, return_index=True)
        last = np.r_[first[1:] - 1, len(self) - 1]
        return Candles(
            tf_ms,
            (uniq * tf_ms + origin).astype(np.int64),
            self.o[first],
            np.maximum.reduceat(self.h, first),
            np.minimum.reduceat(self.l, first),
            self.c[last],
            np.add.reduceat(self.v, first),
        )


class CandleStore:
    """The candle files of a Freqtrade datadir, loaded lazily (call under the sim's lock)."""

    FILE_RE = re.compile(r"^([A-Z0-9]+)_([A-Z0-9]+)-(\d+[smhdw])\.feather$")

    def __init__(self, datadir: str | Path) -> None:
        self.datadir = Path(datadir)
        if not self.datadir.is_dir():
            raise FileNotFoundError(f"sim: datadir {self.datadir} does not exist")
        self.files: dict[tuple[str, str], Path] = {}
        self.assets: dict[str, tuple[str, str]] = {}
        for path in sorted(self.datadir.glob("*.feather")):
            match = self.FILE_RE.match(path.name)
            if not match or match.group(3) not in INTERVALS:
                continue
            base, quote, tf = match.groups()
            self.files[(base + quote, tf)] = path
            self.assets[base + quote] = (base, quote)
        self._cache: dict[tuple[str, str], Candles] = {}

    def timeframes(self, symbol: str) -> list[str]:
        """On-disk timeframes of ``symbol``, finest first."""
        return sorted((tf for sym, tf in self.files if sym == symbol), key=INTERVALS.__getitem__)

    def get(self, symbol: str, tf: str) -> Candles:
        key = (symbol, tf)
        if key not in self._cache:
            self._cache[key] = Candles.read(self.files[key], INTERVALS[tf])
        return self._cache[key]


def kline_row(row: Row, size: int) -> list[Any]:
    """One Binance kline (``GET /api/v3/klines`` entry) from a row of ``size`` ms."""
    open_time, o, h, l, c, v = row  # noqa: E741 - OHLC naming
    quote_volume = v * (o + c) / 2
    trades = 0 if v <= 0 else 1 + int(quote_volume // 1000)
    return [
        open_time,
        f"{o:.8f}",
        f"{h:.8f}",
        f"{l:.8f}",
        f"{c:.8f}",
        f"{v:.8f}",
        open_time + size - 1,
        f"{quote_volume:.8f}",
        trades,
        f"{v / 2:.8f}",
        f"{quote_volume / 2:.8f}",
        "0",
    ]


class Replay:
    """The candles of the served symbols replayed in wall-clock time (call under the sim's
    lock): historical time = replay time - ``offset_ms``, a whole number of days that maps
    ``start`` onto the moment of construction.

    Replay time is the time axis of the price path: the wall clock at ``speed`` 1; at ``speed``
    N it runs N times faster than the wall clock from the moment of construction
    (:meth:`replay_ms`). Every ``now`` and ``t`` below is replay time, except the klines'
    open times and their ``start``/``end``, which are served on the wall clock's grid (see the
    module docstring).

    :param symbols: the symbols to serve; those whose price candles are empty are dropped
        (they are missing from ``price_tf`` afterwards).
    :param timeframe: candles whose open->close path gives the price (the finest on disk
        for a symbol that lacks it).
    :param start: historical date at start-up (default: 30 days before the earliest last
        candle of the symbols).
    :param clock: the wall clock (ms).
    :param speed: replay time per wall time (>= 1): 3600 plays an hour of history per second.
    """

    def __init__(
        self,
        store: CandleStore,
        symbols: Iterable[str],
        timeframe: str,
        start: str | int | None,
        clock: Callable[[], int],
        speed: float = 1.0,
    ) -> None:
        if not speed >= 1:  # also refuses NaN
            raise ValueError(f"sim: speed must be >= 1, not {speed}")
        self.store, self.clock, self.speed = store, clock, float(speed)
        # price source per symbol: ``timeframe`` if on disk, else the finest on disk
        self.price_tf = {
            sym: (timeframe if timeframe in store.timeframes(sym) else store.timeframes(sym)[0])
            for sym in symbols
        }
        self.price_candles = {sym: store.get(sym, tf) for sym, tf in self.price_tf.items()}
        for sym in [s for s, c in self.price_candles.items() if not len(c)]:
            log.warning("%s: empty candle file, not served", sym)
            del self.price_tf[sym], self.price_candles[sym]
        self.ends = {sym: int(c.ts[-1]) + c.tf_ms for sym, c in self.price_candles.items()}
        if not self.ends:
            raise ValueError(f"sim: the candle files in {store.datadir} are empty")
        self.started_ms = int(clock())
        self.start_ms = (
            to_ms(start)
            if start is not None
            else min(self.ends.values()) - DEFAULT_START_BEFORE_END
        )
        # whole days: candle boundaries stay where Binance has them
        self.offset_ms = ((self.started_ms - self.start_ms) // DAY) * DAY
        self._series_cache: dict[tuple[str, str], Candles] = {}

    def warn_short_data(self) -> None:
        """Log the symbols whose data ends within 30 days of the history at start-up."""
        hist_start = self.hist_ms(self.started_ms)
        for sym, end in sorted(self.ends.items()):
            if end < hist_start + DEFAULT_START_BEFORE_END:
                log.warning(
                    "%s: %s candles end %s (history now %s): its price stays flat at "
                    "the last close from then on",
                    sym,
                    self.price_tf[sym],
                    iso(end),
                    iso(hist_start),
                )

    def wall_ms(self) -> int:
        """The wall clock: the time of order times, signatures and served candle dates."""
        return int(self.clock())

    def replay_ms(self, wall: int) -> int:
        """Replay time at wall time ``wall``: ``speed`` times the wall time since start-up."""
        if self.speed == 1:
            return wall
        return self.started_ms + int((wall - self.started_ms) * self.speed)

    def now_ms(self) -> int:
        """Replay time now (the wall clock at speed 1)."""
        return self.replay_ms(self.wall_ms())

    def hist_ms(self, now: int | None = None) -> int:
        """Historical time shown at replay time ``now``."""
        return (self.now_ms() if now is None else now) - self.offset_ms

    def served_shift(self, wall: int, now: int, size: int, origin: int = 0) -> int:
        """What to add to a candle's replay time to serve it on the wall clock's grid: the
        candle of replay time ``now`` gets the open time of wall time ``wall``'s candle
        (``size`` ms, buckets ``origin + k * size``). 0 at speed 1."""
        if self.speed == 1:
            return 0
        return ((wall - origin) // size - (now - origin) // size) * size

    def candle_price(self, symbol: str, now: int | None = None) -> float:
        """The price the candles give (no override), unrounded."""
        return self.price_candles[symbol].price_at(self.hist_ms(now))

    def candle_price_before(self, symbol: str, t: int) -> float:
        """The candles' price just before wall time ``t`` (no override), unrounded: a closing
        candle's close."""
        return self.price_candles[symbol].price_before(self.hist_ms(t))

    def path_range(self, symbol: str, a: int, b: int) -> tuple[float, float]:
        """(high, low) of the candles' price (no override) from wall time ``a`` to just
        before ``b``."""
        return self.price_candles[symbol].path_range(self.hist_ms(a), self.hist_ms(b))

    def series(self, symbol: str, interval: str) -> Candles:
        """Candles of ``interval`` in historical time: on disk, resampled from a finer one,
        or split from a coarser one along the price path (1m from 5m: e2e tests that wait for
        a candle to close wait a minute, not five)."""
        key = (symbol, interval)
        if key in self._series_cache:
            return self._series_cache[key]
        on_disk = self.store.timeframes(symbol)
        size = INTERVALS.get(interval, 0)
        if interval in on_disk:
            series = self.store.get(symbol, interval)
        elif sources := [
            tf for tf in on_disk if size and INTERVALS[tf] < size and size % INTERVALS[tf] == 0
        ]:
            origin = (WEEK_ORIGIN if interval == "1w" else 0) - self.offset_ms
            series = self.store.get(symbol, sources[-1]).resample(size, origin)
        elif coarser := [
            tf for tf in on_disk if size and INTERVALS[tf] > size and INTERVALS[tf] % size == 0
        ]:
            series = self.store.get(symbol, coarser[0]).split(size)
        else:
            raise BinanceError(-1120, "Invalid interval.")
        self._series_cache[key] = series
        return series

    def klines(
        self,
        symbol: str,
        interval: str,
        start: int | None,
        end: int | None,
        limit: int,
        price: Callable[[], Decimal],
        adjust: Adjust | None = None,
    ) -> list[list[Any]]:
        """Binance klines in wall-clock time, the last one partial (see the package doc);
        ``price`` gives the current price (overrides included), ``adjust`` has the last say
        over every row (the price path's overrides, closed candles included)."""
        if interval not in INTERVALS:
            raise BinanceError(-1120, "Invalid interval.")
        series = self.series(symbol, interval)
        size, off = INTERVALS[interval], self.offset_ms
        wall_now = self.wall_ms()
        now = self.replay_ms(wall_now)
        limit = max(1, min(int(limit), 1000))
        origin = WEEK_ORIGIN if interval == "1w" else 0
        current = (now - origin) // size * size + origin
        # the client's start/end are on the wall clock's grid, served times go back onto it
        shift = self.served_shift(wall_now, now, size, origin)
        hi = current if end is None else min(end - shift, current)
        lo = None if start is None else start - shift
        at = series.ts + off  # the candles' open times in replay time
        i0 = int(np.searchsorted(at, lo, side="left")) if lo is not None else 0
        i1 = int(np.searchsorted(at, hi, side="right"))
        real = range(i0, max(i0, i1))  # sliced lazily below
        # flat candles after the end of the data, up to the current one
        v_first = int(at[-1]) + size if len(series) else current
        if lo is not None and lo > v_first:
            v_first = v_first + -(-(lo - v_first) // size) * size
        n_virtual = max(0, (hi - v_first) // size + 1) if hi >= v_first else 0
        if lo is not None:  # first `limit` from lo
            real = real[:limit]
            n_v = min(n_virtual, limit - len(real))
            virtual = [v_first + k * size for k in range(n_v)]
        else:  # last `limit` up to hi
            n_v = min(n_virtual, limit)
            virtual = [v_first + k * size for k in range(n_virtual - n_v, n_virtual)]
            real = real[max(0, len(real) - (limit - n_v)) :]
        last_close = float(series.c[-1]) if len(series) else float(price())
        rows: list[Row] = [
            (
                int(at[i]),
                float(series.o[i]),
                float(series.h[i]),
                float(series.l[i]),
                float(series.c[i]),
                float(series.v[i]),
            )
            for i in real
        ]
        rows += [(t, last_close, last_close, last_close, last_close, 0.0) for t in virtual]
        out = []
        for row in rows:
            if row[0] == current:
                row = self._partial_candle(symbol, row, size, now, float(price()))
            if adjust is not None:
                row = adjust(symbol, row, size, now)
            out.append(kline_row((row[0] + shift, *row[1:]), size))
        return out

    def _partial_candle(self, symbol: str, row: Row, size: int, now: int, p: float) -> Row:
        """The current candle so far: close = ``p``, high/low = the path so far."""
        open_time, o, h, l, c, v = row  # noqa: E741 - OHLC naming
        pc = self.price_candles[symbol]
        if size % pc.tf_ms == 0:  # aggregate the price candles of this bucket so far
            h_now, h_open = self.hist_ms(now), open_time - self.offset_ms
            i0 = int(np.searchsorted(pc.ts, h_open, side="left"))
            i1 = int(np.searchsorted(pc.ts, h_now, side="right"))
            if i1 > i0:
                done = [i for i in range(i0, i1) if pc.ts[i] + pc.tf_ms <= h_now]
                cur = [i for i in range(i0, i1) if pc.ts[i] + pc.tf_ms > h_now]
                o = float(pc.o[i0])
                highs = [o, p] + [float(pc.h[i]) for i in done]
                lows = [o, p] + [float(pc.l[i]) for i in done]
                vol = float(sum(pc.v[i] for i in done))
                for i in cur:
                    highs.append(float(pc.o[i]))
                    lows.append(float(pc.o[i]))
                    vol += float(pc.v[i]) * (h_now - pc.ts[i]) / pc.tf_ms
                return open_time, o, max(highs), min(lows), p, vol
            return open_time, o, max(o, p), min(o, p), p, 0.0
        frac = min(1.0, max(0.0, (now - open_time) / size))
        return open_time, o, max(o, p), min(o, p), p, v * frac

    def day_window(self, symbol: str, now: int) -> tuple[list[float], list[float], float, float]:
        """The last 24 h of ``symbol``'s price candles: highs and lows of the complete ones,
        volume and quote volume (the current candle pro rata)."""
        h_now = self.hist_ms(now)
        pc = self.price_candles[symbol]
        i0 = int(np.searchsorted(pc.ts, h_now - DAY, side="left"))
        i1 = int(np.searchsorted(pc.ts, h_now, side="right"))
        highs: list[float] = []
        lows: list[float] = []
        volume = quote_volume = 0.0
        for i in range(i0, i1):
            frac = min(1.0, (h_now - pc.ts[i]) / pc.tf_ms)
            if frac >= 1.0:
                highs.append(float(pc.h[i]))
                lows.append(float(pc.l[i]))
            volume += float(pc.v[i]) * frac
            quote_volume += float(pc.v[i]) * frac * float(pc.o[i] + pc.c[i]) / 2
        return highs, lows, volume, quote_volume
