"""Tests of the synthetic (seeded random walk) market generator used by the demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rebalance_plugin.marketdata.synthetic import (
    BANNER,
    COINS,
    candle_dates,
    coin_params,
    generate_market,
    generate_ohlcv,
    main,
    timeframe_seconds,
)
from tests.helpers.paths import ROOT as REPO

START, END = "2021-01-01", "2021-01-08"  # one week
# Hand-computed candle counts for one week: 7 days * candles per day.
WEEK_COUNTS = {"5m": 7 * 24 * 12, "1h": 7 * 24, "4h": 7 * 6, "1d": 7}


def _load(datadir: Path, pair: str, timeframe: str, **kwargs) -> pd.DataFrame:
    from freqtrade.data.history import load_pair_history

    return load_pair_history(
        pair=pair, timeframe=timeframe, datadir=datadir, data_format="feather", **kwargs
    )


def test_candle_count_by_hand():
    assert WEEK_COUNTS == {"5m": 2016, "1h": 168, "4h": 42, "1d": 7}
    for timeframe, expected in WEEK_COUNTS.items():
        dates = candle_dates(timeframe, START, END)
        assert len(dates) == expected
        assert dates[0] == pd.Timestamp("2021-01-01", tz="UTC")
        # [start, end): the last candle opens one timeframe before the end.
        last = pd.Timestamp(END, tz="UTC") - pd.Timedelta(seconds=timeframe_seconds(timeframe))
        assert dates[-1] == last
        assert str(dates.dtype) == "datetime64[ms, UTC]"


def test_unaligned_start_is_aligned_up_to_timeframe():
    dates = candle_dates("4h", "2021-01-01 01:30", "2021-01-02")
    assert dates[0] == pd.Timestamp("2021-01-01 04:00", tz="UTC")
    assert len(dates) == 5  # 04, 08, 12, 16, 20


@pytest.mark.parametrize("timeframe", sorted(WEEK_COUNTS))
def test_files_load_with_freqtrade_without_gaps(tmp_path, timeframe):
    pairs = ["BTC/USDT", "ETH/USDT"]
    paths = generate_market(tmp_path, pairs, timeframe=timeframe, start=START, end=END, seed=7)
    assert paths == [
        tmp_path / f"BTC_USDT-{timeframe}.feather",
        tmp_path / f"ETH_USDT-{timeframe}.feather",
    ]
    expected_dates = pd.date_range(
        START,
        END,
        freq=pd.Timedelta(seconds=timeframe_seconds(timeframe)),
        inclusive="left",
        tz="UTC",
    )
    assert len(expected_dates) == WEEK_COUNTS[timeframe]

    for pair, path in zip(pairs, paths):
        raw = pd.read_feather(path)
        # Exactly Freqtrade's on-disk layout.
        assert list(raw.columns) == ["date", "open", "high", "low", "close", "volume"]
        assert str(raw["date"].dtype) == "datetime64[ms, UTC]"
        assert all(
            raw[col].dtype == np.float64 for col in ["open", "high", "low", "close", "volume"]
        )
        assert raw["date"].is_monotonic_increasing and raw["date"].is_unique
        assert (raw["date"].to_numpy() == expected_dates.as_unit("ms").to_numpy()).all()

        # Freqtrade reads it back unchanged, without gap filling ...
        loaded = _load(tmp_path, pair, timeframe, fill_up_missing=False)
        assert len(loaded) == WEEK_COUNTS[timeframe]
        pd.testing.assert_frame_equal(loaded.reset_index(drop=True), raw)
        # ... and gap filling has nothing to add.
        filled = _load(tmp_path, pair, timeframe)
        assert len(filled) == WEEK_COUNTS[timeframe]
        assert not filled[["open", "high", "low", "close", "volume"]].isna().any().any()


def test_load_with_freqtrade_timerange(tmp_path):
    from freqtrade.configuration import TimeRange

    generate_market(tmp_path, ["SOL/USDT"], timeframe="1h", start="2021-01-01", end="2021-02-01")
    loaded = _load(
        tmp_path, "SOL/USDT", "1h", timerange=TimeRange.parse_timerange("20210105-20210110")
    )
    # Freqtrade's trim keeps open times in [start, stop] - inclusive on both sides.
    assert len(loaded) == 5 * 24 + 1
    assert loaded["date"].iloc[0] == pd.Timestamp("2021-01-05", tz="UTC")
    assert loaded["date"].diff().dropna().eq(pd.Timedelta(hours=1)).all()


def test_ohlc_consistency():
    pairs = list(COINS) + ["FOO/USDT", "ETH/BTC", "USDC/USDT"]
    pairs = [p if "/" in p else f"{p}/USDT" for p in pairs]
    frames = generate_ohlcv(pairs, timeframe="1h", start="2021-01-01", end="2021-04-01", seed=3)
    assert list(frames) == pairs
    for pair, df in frames.items():
        o, h, lo, c, v = (df[col].to_numpy() for col in ["open", "high", "low", "close", "volume"])
        assert np.isfinite(df[["open", "high", "low", "close", "volume"]].to_numpy()).all(), pair
        assert (lo > 0).all(), pair
        assert (h >= np.maximum(o, c)).all(), pair
        assert (lo <= np.minimum(o, c)).all(), pair
        assert (h >= lo).all(), pair
        assert (v > 0).all(), pair
        # A candle opens exactly at the previous close.
        assert (o[1:] == c[:-1]).all(), pair
    # The first candle opens at the coin's start price.
    assert frames["BTC/USDT"]["open"].iloc[0] == pytest.approx(COINS["BTC"].start_price)
    assert frames["DOGE/USDT"]["open"].iloc[0] == pytest.approx(COINS["DOGE"].start_price)
    # Stablecoin against stablecoin stays at 1.
    assert (frames["USDC/USDT"][["open", "high", "low", "close"]].to_numpy() == 1.0).all()


def test_cross_rates_are_consistent():
    frames = generate_ohlcv(["ETH/USDT", "BTC/USDT", "ETH/BTC"], "4h", START, END, seed=1)
    ratio = frames["ETH/USDT"]["close"] / frames["BTC/USDT"]["close"]
    np.testing.assert_allclose(frames["ETH/BTC"]["close"], ratio, rtol=1e-12)


def test_same_seed_identical_different_seed_different(tmp_path):
    pairs = ["BTC/USDT", "ETH/USDT", "ADA/USDT"]
    first = generate_market(tmp_path / "a", pairs, "1h", START, END, seed=42)
    second = generate_market(tmp_path / "b", pairs, "1h", START, END, seed=42)
    other = generate_market(tmp_path / "c", pairs, "1h", START, END, seed=43)
    for p1, p2, p3 in zip(first, second, other):
        df1, df2, df3 = (pd.read_feather(p) for p in (p1, p2, p3))
        pd.testing.assert_frame_equal(df1, df2)
        assert (df1["date"] == df3["date"]).all()
        assert not np.allclose(df1["close"], df3["close"])
        assert not np.allclose(df1["volume"], df3["volume"])


def test_adding_or_reordering_pairs_does_not_change_a_series():
    alone = generate_ohlcv(["ETH/USDT"], "1h", START, END, seed=5)["ETH/USDT"]
    crowd = generate_ohlcv(
        ["SOL/USDT", "NEWCOIN/USDT", "ETH/USDT", "BTC/USDT"], "1h", START, END, seed=5
    )
    pd.testing.assert_frame_equal(alone, crowd["ETH/USDT"])


def test_extending_end_only_appends():
    short = generate_ohlcv(["BTC/USDT", "XRP/USDT"], "1h", START, END, seed=9)
    long = generate_ohlcv(["BTC/USDT", "XRP/USDT"], "1h", START, "2021-01-20", seed=9)
    for pair, df in short.items():
        pd.testing.assert_frame_equal(df, long[pair].iloc[: len(df)])


def test_deterministic_across_processes_and_import_is_cheap():
    """Streams must not depend on Python's salted hash(); importing must not pull in freqtrade."""
    code = (
        "import sys, json\n"
        "import rebalance_plugin.marketdata.synthetic as s\n"
        "assert 'freqtrade' not in sys.modules, 'freqtrade imported eagerly'\n"
        "f = s.generate_ohlcv(['BTC/USDT', 'SOMECOIN/USDT'], '1h', '2021-01-01', '2021-01-02',"
        " seed=11)\n"
        "print(json.dumps({k: v['close'].tolist() + v['volume'].tolist() for k, v in f.items()}))\n"
    )
    outputs = []
    for hashseed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hashseed}
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        outputs.append(json.loads(result.stdout))
    assert outputs[0] == outputs[1]
    here = generate_ohlcv(["BTC/USDT", "SOMECOIN/USDT"], "1h", "2021-01-01", "2021-01-02", seed=11)
    some = here["SOMECOIN/USDT"]
    assert outputs[0]["SOMECOIN/USDT"] == some["close"].tolist() + some["volume"].tolist()


def test_unknown_coin_gets_deterministic_plausible_default():
    first, again, other = coin_params("MYSTERY"), coin_params("mystery"), coin_params("OTHERCOIN")
    assert first == again
    assert first != other
    for params in (first, other):
        assert params.start_price > 0
        assert 0.5 <= params.vol <= 2.0
        assert 0.0 <= params.beta <= 1.0
        assert params.daily_volume_usd > 0
    assert coin_params("BTC").start_price == pytest.approx(30000)
    assert coin_params("BTC").vol == pytest.approx(0.60)


def test_statistics_are_plausible():
    """Annualised volatility close to the coin's parameter, coins positively correlated."""
    frames = generate_ohlcv(
        ["BTC/USDT", "ETH/USDT", "DOGE/USDT"], "1h", "2021-01-01", "2022-01-01", seed=42
    )
    returns = pd.DataFrame(
        {pair: np.log(df["close"]).diff() for pair, df in frames.items()}
    ).dropna()
    annual_vol = returns.std() * np.sqrt(365 * 24)
    assert annual_vol["BTC/USDT"] == pytest.approx(COINS["BTC"].vol, rel=0.05)
    assert annual_vol["DOGE/USDT"] == pytest.approx(COINS["DOGE"].vol, rel=0.05)
    corr = returns.corr()
    expected = COINS["BTC"].beta * COINS["ETH"].beta
    assert corr.loc["BTC/USDT", "ETH/USDT"] == pytest.approx(expected, abs=0.05)
    assert corr.loc["BTC/USDT", "DOGE/USDT"] > 0.3


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timeframe": "1w"},
        {"timeframe": "1M"},
        {"timeframe": "hourly"},
        {"start": "2021-01-08", "end": "2021-01-01"},
        {"start": "2021-01-01", "end": "2021-01-01"},
        {"pairs": ["BTCUSDT"]},
        {"pairs": []},
    ],
)
def test_invalid_arguments_are_refused(kwargs):
    args = {"pairs": ["BTC/USDT"], "timeframe": "1h", "start": START, "end": END, **kwargs}
    with pytest.raises(ValueError):
        generate_ohlcv(**args)


def test_cli_writes_files_and_says_synthetic(tmp_path, capsys):
    rc = main(
        [
            "--datadir",
            str(tmp_path),
            "--pairs",
            "BTC/USDT",
            "ETH/USDT",
            "--timeframe",
            "1h",
            "--start",
            START,
            "--end",
            END,
            "--seed",
            "42",
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out.splitlines()
    assert "SYNTHETIC DATA (seeded random walk, not real prices)" in out[0]
    assert BANNER in out[0]
    assert sum("BTC_USDT-1h.feather" in line and "168 candles" in line for line in out) == 1
    assert sum("ETH_USDT-1h.feather" in line for line in out) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "BTC_USDT-1h.feather",
        "ETH_USDT-1h.feather",
    ]
