"""Every Freqtrade command a user can give the strategy runs to its normal end.

Before, every run mode that is neither a backtest nor a trading bot was treated as live trading,
and ``lookahead-analysis``, ``plot-dataframe`` and FreqUI's chart of a backtest died with
``AttributeError: type object '_KeyValueStoreModel' has no attribute 'session'``;
``recursive-analysis`` refused ``startup_candle_count`` 0, and ``hyperopt --spaces buy`` found no
parameter to search. Each command here runs as a user runs it (the unchanged Freqtrade CLI,
offline markets), on the real candles.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.ftrun import (
    NO_SHARED_DATA,
    SHARED_DATA,
    freqtrade,
    make_config,
    with_strategy_copy,
)
from tests.helpers.ftrun import cli_output as log

pytestmark = pytest.mark.skipif(not SHARED_DATA.exists(), reason=NO_SHARED_DATA)
RANGE = "20240101-20240110"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config and a backtest of it (with signals), as the plotting commands expect."""
    tmp = tmp_path_factory.mktemp("commands")
    config = make_config(tmp)
    result = freqtrade(config, "backtesting", "--timerange", RANGE, "--export", "signals")
    assert result.returncode == 0, log(result)[-3000:]
    return config


def test_lookahead_analysis_runs_to_its_end(workdir):
    result = freqtrade(workdir, "lookahead-analysis", "--timerange", "20240101-20240301")
    out = log(result)
    assert result.returncode == 0, out[-3000:]
    assert "session" not in out and "Traceback" not in out
    # It judges closed trades only; a rebalancer closes none before the end
    # (docs/backtesting.md#freqtrades-commands-on-this-strategy).
    assert "Checking look ahead bias via backtests of RebalanceStrategy.py took" in out


def test_recursive_analysis_runs_to_its_end(workdir):
    result = freqtrade(workdir, "recursive-analysis", "--timerange", "20240101-20240301")
    out = log(result)
    assert result.returncode == 0, out[-3000:]
    assert "invalid startup candle count" not in out
    assert "No lookahead bias on indicators found" in out


def test_plot_dataframe_and_plot_profit_write_their_pages(workdir):
    userdir = Path(json.loads(workdir.read_text())["user_data_dir"])
    result = freqtrade(workdir, "plot-dataframe", "--timerange", RANGE)
    assert result.returncode == 0, log(result)[-3000:]
    result = freqtrade(workdir, "plot-profit", "--timerange", RANGE)
    assert result.returncode == 0, log(result)[-3000:]
    pages = sorted(p.name for p in (userdir / "plot").glob("*.html"))
    assert pages == [
        "freqtrade-plot-BNB_USDT-1h.html",
        "freqtrade-plot-BTC_USDT-1h.html",
        "freqtrade-plot-ETH_USDT-1h.html",
        "freqtrade-plot-SOL_USDT-1h.html",
        "freqtrade-profit-plot.html",
    ]


def test_a_plot_leaves_the_backtest_journal_alone(workdir):
    userdir = Path(json.loads(workdir.read_text())["user_data_dir"])
    journal = userdir / "backtest_results" / "rebalance_journal.jsonl"
    before = journal.read_text()
    freqtrade(workdir, "plot-dataframe", "--timerange", RANGE)
    assert journal.read_text() == before


def test_backtesting_analysis_and_show(workdir):
    result = freqtrade(workdir, "backtesting-analysis")
    assert result.returncode == 0, log(result)[-3000:]
    result = freqtrade(workdir, "backtesting-show")
    assert result.returncode == 0, log(result)[-3000:]
    assert "RebalanceStrategy" in log(result)


def test_hyperopt_over_roi_and_stoploss_is_refused_with_the_reason(workdir):
    result = freqtrade(
        workdir, "hyperopt", "--timerange", RANGE, "--spaces", "roi", "stoploss", "-e", "2"
    )
    out = log(result)
    assert "freqtrade hyperopt --spaces roi stoploss: it would search ROI" in out, out[-3000:]
    assert "fix: leave these spaces out (--spaces buy searches the rebalance trigger)" in out
    params = Path(json.loads(workdir.read_text())["strategy_path"]) / "RebalanceStrategy.json"
    assert not params.exists()  # nothing written for later runs


def test_hyperopt_over_the_buy_space_runs_to_its_end(workdir, tmp_path):
    # It used to stop at once: "The 'buy' space is included into the hyperoptimization but no
    # parameter for this space was found in your Strategy". The trigger is searched now
    # (tests/backtest/test_hyperopt.py checks what it finds); the parameter file goes to a copy
    # of the strategy folder.
    config = tmp_path / "config.json"
    config.write_text(workdir.read_text())
    with_strategy_copy(config)
    result = freqtrade(config, "hyperopt", "--timerange", RANGE, "--spaces", "buy", "-e", "2")
    out = log(result)
    assert result.returncode == 0, out[-3000:]
    assert "no parameter for this space was found" not in out and "Traceback" not in out
    assert "Best result:" in out and '"threshold":' in out


def test_frequi_chart_of_a_backtest_in_webserver_mode(workdir, tmp_path):
    # FreqUI's backtest tab "Visualize result" asks `freqtrade webserver` for the pair's
    # analysed candles (/api/v1/pair_history), loading the strategy in webserver mode.
    from freqtrade_client import FtRestClient

    from tests.helpers.e2e import free_port

    port = free_port()
    config = json.loads(workdir.read_text())
    config["api_server"].update(
        enabled=True,
        listen_port=port,
        username="ui",
        password="test-password-1",
        jwt_secret_key="test-jwt-secret-0123456789-abcdefghij",
    )
    path = tmp_path / "web.json"
    path.write_text(json.dumps(config))
    cmd = [
        sys.executable,
        "-m",
        "rebalance_plugin.marketdata.offline",
        "webserver",
        "-c",
        str(path),
    ]
    cmd += ["--datadir", str(SHARED_DATA)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        client = FtRestClient(f"http://127.0.0.1:{port}", "ui", "test-password-1")
        deadline = time.monotonic() + 60
        while not client.show_config() and time.monotonic() < deadline:
            time.sleep(0.5)  # the server is up once it answers
        answer = client.pair_history("BTC/USDT", "1h", "RebalanceStrategy", "20240101-20240105")
    finally:
        proc.terminate()
        out = proc.communicate(timeout=30)[0]
    assert isinstance(answer, dict), out[-3000:]
    # 2024-01-01 00:00 to 2024-01-05 00:00 is 96 hourly candles, plus the startup candle.
    assert answer["strategy"] == "RebalanceStrategy" and answer["length"] == 97, answer
    assert "enter_long" in answer["columns"]
    assert "session" not in out and "Traceback" not in out
