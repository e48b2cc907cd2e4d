"""``freqtrade plot-dataframe -p BTC/USDT``, Freqtrade's documented way to plot one pair, plots
that pair with the portfolio's columns; ``-p`` on a backtest is still refused.

``-p`` replaces ``exchange.pair_whitelist``, which the start-up check wants equal to the coins'
pairs. The analysis commands load the whole portfolio anyway (rebalance_plugin/ft/startup.py),
and plot only the pair asked for. The commands run as a user runs them (the unchanged Freqtrade
CLI, offline markets) on the real candles; the chart's figures are worked out here from the
backtest's result file and the candle files, with pandas alone.
"""

from __future__ import annotations

import base64
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.helpers.ftrun import NO_SHARED_DATA, SHARED_DATA, freqtrade, make_config
from tests.helpers.ftrun import cli_output as log

pytestmark = pytest.mark.skipif(not SHARED_DATA.exists(), reason=NO_SHARED_DATA)
RANGE = "20240101-20240110"
WEIGHTS = {"BTC": 40, "ETH": 30, "BNB": 15, "SOL": 15}  # config.json's portfolio
INVESTMENT = 1000.0
THRESHOLD = 2


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config and its backtest's result, which plot-dataframe draws the portfolio from (a
    2-point threshold: the portfolio rebalances in these nine days)."""
    config = make_config(tmp_path_factory.mktemp("plot_one_pair"), threshold=THRESHOLD)
    result = freqtrade(config, "backtesting", "--timerange", RANGE, "--export", "trades")
    assert result.returncode == 0, log(result)[-3000:]
    return config


def user_data(config: Path) -> Path:
    return Path(json.loads(config.read_text())["user_data_dir"])


def traces(page: Path) -> dict[str, pd.Series]:
    """The lines of a plotly page by name, indexed by candle time (UTC)."""
    html = page.read_text()
    start = html.index("[", html.index("Plotly.newPlot("))
    data, _ = json.JSONDecoder().raw_decode(html, start)
    out = {}
    for trace in data:
        y = trace.get("y")
        if not trace.get("name") or y is None or "x" not in trace:
            continue
        if isinstance(y, dict):  # plotly's typed array: {"dtype": "f8", "bdata": base64}
            y = np.frombuffer(base64.b64decode(y["bdata"]), dtype=np.dtype(y["dtype"]))
        out[trace["name"]] = pd.Series(
            np.asarray(y, dtype=float), index=pd.to_datetime(trace["x"], utc=True)
        )
    return out


def result_orders(config: Path) -> list[tuple[pd.Timestamp, str, float, float]]:
    """(fill time, coin, signed coins, signed cash with the fee) of every filled order, read
    from the result zip with zipfile/json."""
    (path,) = (user_data(config) / "backtest_results").glob("*.zip")
    with zipfile.ZipFile(path) as zf:
        (name,) = [
            n for n in zf.namelist() if re.fullmatch(r"backtest-result-[^_]+_[^_]+\.json", n)
        ]
        stats = json.loads(zf.read(name))["strategy"]["RebalanceStrategy"]
    rows = []
    for trade in stats["trades"]:
        coin = trade["pair"].split("/")[0]
        for o in trade["orders"]:
            if not o.get("order_filled_timestamp") or not o["amount"]:
                continue
            value = o["amount"] * o["safe_price"]
            buy = o["ft_is_entry"]
            fee = trade["fee_open"] if buy else trade["fee_close"]
            when = pd.Timestamp(o["order_filled_timestamp"], unit="ms", tz="UTC")
            qty = o["amount"] if buy else -o["amount"]
            cash = -value * (1 + fee) if buy else value * (1 - fee)
            rows.append((when, coin, qty, cash))
    return rows


def closes(coin: str) -> pd.Series:
    df = pd.read_feather(SHARED_DATA / f"{coin}_USDT-1h.feather")
    return df.set_index("date")["close"]


def test_plot_dataframe_of_one_pair_draws_the_portfolio_on_it(workdir):
    result = freqtrade(workdir, "plot-dataframe", "--timerange", RANGE, "-p", "BTC/USDT")
    out = log(result)
    assert result.returncode == 0, out[-3000:]
    assert "Traceback" not in out and "pair_whitelist must list exactly" not in out
    plots = user_data(workdir) / "plot"
    assert sorted(p.name for p in plots.iterdir()) == ["freqtrade-plot-BTC_USDT-1h.html"]
    lines = traces(plots / "freqtrade-plot-BTC_USDT-1h.html")
    for name in ("rb_weight", "rb_target", "rb_band_low", "rb_band_high", "rb_value"):
        assert name in lines, sorted(lines)
    # BTC's target is 40%, the threshold 2 points: the band is 38-42 on every candle.
    assert set(lines["rb_target"]) == {40.0}
    assert set(lines["rb_band_low"]) == {38.0} and set(lines["rb_band_high"]) == {42.0}
    # At a candle's close the portfolio holds what the orders filled before that close added
    # up to, and 1000 USDT less what they paid (fees included); its value is the coins at the
    # candle's close plus that cash, BTC's weight its share of it. Both need every coin's
    # candles, not only BTC's: the whole portfolio was loaded.
    orders = result_orders(workdir)
    assert {coin for _, coin, _, _ in orders} == set(WEIGHTS)
    end = pd.Timestamp("2024-01-10", tz="UTC")  # the closing sales of the backtest's end
    assert len([o for o in orders if o[0] < end]) > len(WEIGHTS)  # rebalance orders too
    checked = 0
    for when in pd.to_datetime(
        ["2024-01-03 00:00", "2024-01-06 12:00", "2024-01-09 20:00"], utc=True
    ):
        done = [o for o in orders if o[0] < when + pd.Timedelta(hours=1)]
        held = {c: sum(q for _, k, q, _ in done if k == c) for c in WEIGHTS}
        cash = INVESTMENT + sum(c for *_, c in done)
        value = sum(held[c] * closes(c)[when] for c in WEIGHTS) + cash
        weight = 100 * held["BTC"] * closes("BTC")[when] / value
        assert lines["rb_value"][when] == pytest.approx(value, rel=1e-9), when
        assert lines["rb_weight"][when] == pytest.approx(weight, rel=1e-9), when
        checked += 1
    assert checked == 3


def test_a_backtest_of_one_pair_is_still_refused(workdir):
    # A backtest trades: one coin is not the portfolio, so -p stays refused, by name.
    results = user_data(workdir) / "backtest_results"
    before = sorted(p.name for p in results.iterdir())
    result = freqtrade(workdir, "backtesting", "--timerange", RANGE, "-p", "BTC/USDT")
    out = log(result)
    assert result.returncode != 0
    assert (
        "Invalid rebalance config: exchange.pair_whitelist must list exactly the pairs of "
        "rebalance.coins: BTC/USDT, ETH/USDT, BNB/USDT, SOL/USDT. Missing: ETH/USDT, BNB/USDT, "
        "SOL/USDT." in out
    ), out[-3000:]
    assert sorted(p.name for p in results.iterdir()) == before  # no result written
