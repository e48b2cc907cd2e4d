"""``freqtrade-rebalance sweep --threshold-modes absolute,relative --rebalance-to target,band``:
the grid once per threshold mode and rebalance target, each point a real Freqtrade backtest
with that ``threshold_mode`` and ``rebalance_to`` (the default grid: tests/backtest/test_sweep.py).

January 2024, 1h candles, Balanced growth at 10,000 USDT (a 2%-of-target band of a 15% coin is
0.3 point, 30 USDT: above the exchange's minimum order), threshold 2. The figures worked out
here: a relative/band point equals ``freqtrade backtesting`` run by hand with those settings,
and that backtest's first rebalance happens where the relative reading of the threshold says
(read from the result file and the candle files with pandas, not the plugin), and goes back to
the band's edge, not to the target.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers.ftrun import NO_SHARED_DATA, ROOT, SHARED_DATA, freqtrade, make_config

pytestmark = pytest.mark.skipif(not SHARED_DATA.exists(), reason=NO_SHARED_DATA)

TIMERANGE = "20240101-20240201"
THRESHOLD = 2
INVESTMENT = 10_000
WEIGHTS = {"BTC": 40, "ETH": 30, "BNB": 15, "SOL": 15}
LABELS = [
    "threshold 2",  # absolute/target, the defaults: no suffix
    "threshold 2 absolute/band",
    "threshold 2 relative/target",
    "threshold 2 relative/band",
]


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, dict[str, str]]]:
    """The sweep's printed output and its CSV rows by label."""
    tmp = tmp_path_factory.mktemp("sweep_options")
    config = make_config(tmp, investment=INVESTMENT, threshold=THRESHOLD)
    out = tmp / "out"
    run = subprocess.run(
        [sys.executable, "-m", "rebalance_plugin.cli", "sweep", "-c", str(config)]
        + ["--datadir", str(SHARED_DATA), "--timerange", TIMERANGE]
        + ["--thresholds", str(THRESHOLD), "--intervals", ""]
        + ["--threshold-modes", "absolute,relative", "--rebalance-to", "target,band"]
        + ["-j", "1", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    with (out / "sweep.csv").open() as fh:
        rows = {r["label"]: r for r in csv.DictReader(fh)}
    assert (out / "sweep.png").stat().st_size > 10_000
    return run.stdout, rows


def test_every_mode_and_target_is_a_row(swept):
    printed, rows = swept
    assert "Sweeping 4 points of BTC 40%, ETH 30%, BNB 15%, SOL 15%; 10000 USDT" in printed
    assert list(rows) == LABELS
    assert [rows[label]["group"] for label in LABELS] == [
        "threshold",
        "threshold absolute/band",
        "threshold relative/target",
        "threshold relative/band",
    ]
    # The table prints each row with the CSV's figures.
    for label in LABELS:
        line = next(x for x in printed.splitlines() if re.match(rf"{re.escape(label)}\s+\d", x))
        cells = line[len(label) :].split()
        assert cells[0] == f"{float(rows[label]['final_value']):,.2f}", line
        assert cells[5] == rows[label]["rebalances"], line
    # One buy-and-hold for all: the same first buys of the same portfolio.
    assert len({rows[label]["bh_final_value"] for label in LABELS}) == 1


def test_relative_fires_more_often_and_band_trades_less_per_rebalance(swept):
    _, rows = swept
    count = {label: int(rows[label]["rebalances"]) for label in LABELS}
    turnover = {label: float(rows[label]["turnover"]) for label in LABELS}
    # Relative 2 is 2% of the target: 0.8 point for BTC, 0.3 for the 15% coins, all inside the
    # absolute 2-point band, so the relative trigger fires far more often, to either target.
    assert count["threshold 2 relative/target"] > 2 * count["threshold 2"] > 0
    assert count["threshold 2 relative/band"] > 2 * count["threshold 2 absolute/band"] > 0
    # To the band's edge, a rebalance trades less than all the way back to the targets.
    for mode in ("absolute", "relative"):
        target = "threshold 2" if mode == "absolute" else "threshold 2 relative/target"
        band = f"threshold 2 {mode}/band"
        assert turnover[band] / count[band] < turnover[target] / count[target], mode


def result_of(config: Path) -> dict:
    (path,) = (config.parent / "user_data" / "backtest_results").glob("*.zip")
    with zipfile.ZipFile(path) as zf:
        (name,) = [n for n in zf.namelist() if re.fullmatch(r"backtest-result-[\d_-]+\.json", n)]
        return json.loads(zf.read(name))["strategy"]["RebalanceStrategy"]


def test_a_relative_band_point_is_freqtrade_backtesting_with_those_settings(swept, tmp_path):
    _, rows = swept
    row = rows["threshold 2 relative/band"]
    config = make_config(
        tmp_path,
        investment=INVESTMENT,
        threshold=THRESHOLD,
        threshold_mode="relative",
        rebalance_to="band",
    )
    run = freqtrade(
        config,
        "backtesting",
        "--timerange",
        TIMERANGE,
        "--cache",
        "none",
        "--export",
        "trades",
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    stats = result_of(config)
    orders = sorted(
        (
            (pd.Timestamp(o["order_filled_timestamp"], unit="ms", tz="UTC"), t["pair"][:-5], o, t)
            for t in stats["trades"]
            for o in t["orders"]
            if o.get("order_filled_timestamp") and o["amount"] > 0
        ),
        key=lambda x: (x[0], x[1]),
    )
    assert float(row["final_value"]) == pytest.approx(stats["final_balance"], abs=0.01)
    assert int(row["orders"]) == len(orders)

    # The portfolio after the first buys: their coins, and the cash they left (fee included).
    first = [(when, coin, o, t) for when, coin, o, t in orders if o["ft_order_tag"] == ""]
    assert sorted(c for _, c, _, _ in first) == sorted(WEIGHTS)
    held = {coin: o["amount"] for _, coin, o, _ in first}
    cash = INVESTMENT - sum(
        o["amount"] * o["safe_price"] * (1 + t["fee_open"]) for *_, o, t in first
    )
    opens = pd.DataFrame(
        {
            c: pd.read_feather(SHARED_DATA / f"{c}_USDT-1h.feather").set_index("date")["open"]
            for c in WEIGHTS
        }
    )

    def drift(when: pd.Timestamp, held: dict[str, float], cash: float) -> dict[str, float]:
        """Each coin's weight less its target at ``when``'s open, in points."""
        value = {c: held[c] * opens.at[when, c] for c in WEIGHTS}
        total = sum(value.values()) + cash
        return {c: 100 * value[c] / total - WEIGHTS[c] for c in WEIGHTS}

    # The rebalancer looks at every candle's open: the first rebalance is at the first candle
    # where a coin is off by more than 2% of its target, while no coin is off by 2 points.
    first_rebalance = next(
        when for when, _, o, _ in orders if o["ft_order_tag"].startswith("rebalance")
    )
    start = max(when for when, *_ in first) + pd.Timedelta(hours=1)
    for when in pd.date_range(start, first_rebalance, freq="1h", inclusive="left"):
        off = drift(when, held, cash)
        assert all(abs(off[c]) <= THRESHOLD / 100 * WEIGHTS[c] for c in WEIGHTS), (when, off)
    off = drift(first_rebalance, held, cash)
    offenders = {c for c in WEIGHTS if abs(off[c]) > THRESHOLD / 100 * WEIGHTS[c]}
    assert offenders and all(abs(d) < THRESHOLD for d in off.values()), off
    # Band: the coins off trade back to the band's edge, not to the target (that would leave
    # them about 0% off): afterwards each is still more than half its band off, on the same side.
    legs = [(c, o, t) for when, c, o, t in orders if when == first_rebalance]
    assert {c for c, _, _ in legs} == offenders
    for coin, o, t in legs:
        sign = 1 if o["ft_is_entry"] else -1
        value = o["amount"] * o["safe_price"]
        held = {**held, coin: held[coin] + sign * o["amount"]}
        cash -= sign * value + value * t["fee_open" if sign > 0 else "fee_close"]
    after = drift(first_rebalance, held, cash)
    for coin in offenders:
        band = THRESHOLD / 100 * WEIGHTS[coin]
        assert 0.5 * band < abs(after[coin]) <= band and after[coin] * off[coin] > 0, (coin, after)
