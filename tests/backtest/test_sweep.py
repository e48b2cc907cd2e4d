"""``freqtrade-rebalance sweep`` (issue 9, item 4): a grid point's figures equal those of
``freqtrade backtesting`` run by hand on the same config, then read by the report.

Two months of 1h candles, Balanced growth; the sweep runs three points on two workers, and two of
them are run again, each as its own ``freqtrade backtesting`` process (the offline runner)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest

from rebalance_plugin import report
from tests.helpers.ftrun import (
    NO_SHARED_DATA,
    ROOT,
    SHARED_DATA,
    freqtrade,
    make_config,
    with_strategy_copy,
)

pytestmark = pytest.mark.skipif(not SHARED_DATA.exists(), reason=NO_SHARED_DATA)

TIMERANGE = "20230101-20230301"


def backtest_by_hand(tmp_path, **rebalance):
    """``freqtrade backtesting`` for this config, then the report of its result."""
    config = make_config(tmp_path, **rebalance)
    run = freqtrade(config, "backtesting", "--timerange", TIMERANGE, "--cache", "none", timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return report.run(
        config_path=config, datadir=SHARED_DATA, plot_path=tmp_path / "eq.png", out=io.StringIO()
    )


def test_sweep_points_equal_separate_freqtrade_backtests(tmp_path):
    (tmp_path / "sweep").mkdir()
    config = make_config(tmp_path / "sweep")
    # A parameter file left by hyperopt (threshold 50) does not replace the grid's triggers.
    folder = with_strategy_copy(config)
    (folder / "RebalanceStrategy.json").write_text(
        json.dumps(
            {
                "strategy_name": "RebalanceStrategy",
                "params": {"buy": {"trigger": "threshold", "threshold": 50}},
                "ft_stratparam_v": 1,
                "export_time": "2026-12-01 00:00:00.000000+00:00",
            }
        )
    )
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "rebalance_plugin.cli", "sweep", "-c", str(config)]
        + ["--datadir", str(SHARED_DATA), "--timerange", TIMERANGE]
        + ["--thresholds", "1,5", "--intervals", "7d", "-j", "2", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    # Progress, one line per finished point, then the table.
    assert "[3/3]" in run.stdout and "on 2 worker(s); candles loaded once" in run.stdout
    assert "threshold 1" in run.stdout and "interval 7d" in run.stdout
    header = next(line for line in run.stdout.splitlines() if line.startswith("point"))
    assert header.split()[:5] == ["point", "final", "value", "gain", "FIFO"]
    with (out / "sweep.csv").open() as fh:
        rows = {r["label"]: r for r in csv.DictReader(fh)}
    assert list(rows) == ["threshold 1", "threshold 5", "interval 7d"]
    assert (out / "sweep.png").stat().st_size > 10_000
    # The user's own results folder is left alone (each point journals in a scratch folder).
    assert list((tmp_path / "sweep" / "user_data" / "backtest_results").iterdir()) == []

    for label, keys in [
        ("threshold 1", {"trigger": "threshold", "threshold": 1}),
        ("interval 7d", {"trigger": "interval", "interval": "7d"}),
    ]:
        (tmp_path / label.replace(" ", "-")).mkdir()
        rep = backtest_by_hand(tmp_path / label.replace(" ", "-"), **keys)
        v, row = rep.view, rows[label]
        stats_final = float(rep.result.stats["final_balance"])
        assert float(row["final_value"]) == pytest.approx(stats_final, abs=0.01), label
        assert float(row["final_value"]) == pytest.approx(v.final_value, abs=1e-6), label
        assert float(row["bh_final_value"]) == pytest.approx(v.bh_final_value, abs=1e-6)
        # the taxable gain of the sales before the end (tests/backtest/test_tax_backtest.py)
        assert float(row["realised_gain"]) == pytest.approx(v.realised_gain, abs=1e-6), label
        assert int(row["rebalances"]) == v.rebalances > 0, label
        assert float(row["turnover"]) == pytest.approx(v.turnover, abs=1e-6), label
        assert float(row["fees"]) == pytest.approx(v.fees, abs=1e-9), label
        assert float(row["max_drawdown"]) == pytest.approx(v.drawdown.depth, abs=1e-12)
        assert float(row["cagr"]) == pytest.approx(v.cagr, abs=1e-12), label
        assert int(row["orders"]) == v.orders, label
    # Different triggers, different results: the points really ran with their own trigger.
    assert rows["threshold 1"]["rebalances"] != rows["threshold 5"]["rebalances"]


def test_a_bad_grid_point_is_refused_before_any_backtest(tmp_path):
    config = make_config(tmp_path)
    run = subprocess.run(
        [sys.executable, "-m", "rebalance_plugin.cli", "sweep", "-c", str(config)]
        + ["--datadir", str(SHARED_DATA), "--timerange", TIMERANGE]
        + ["--thresholds", "3", "--intervals", ""],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    assert "sweep refused: rebalance.threshold must be one of 0.5, 1, 2, 5, 10, 20, 30, 50" in (
        run.stderr
    )
    assert "Sweeping" not in run.stdout
    assert json.loads(config.read_text())["rebalance"]["threshold"] == 5  # config untouched
