"""``freqtrade hyperopt --spaces buy`` searches the rebalance trigger, each epoch's backtest runs
on that epoch's values, and ``RebalancePortfolioLoss`` judges the portfolio.

One real hyperopt (the unchanged Freqtrade CLI, offline markets, real candles): BTC 50 / SOL 50,
two months of 1h candles, 6 epochs, one job, a fixed random state. Each epoch's loss is checked
against the formula worked out here, independently of the plugin and of its report, from a
backtest of the epoch's values and the candle files; the parameter file hyperopt writes is
checked and backtested; a second run with two jobs must find the same epochs.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from rebalance_plugin.core.config import INTERVALS, THRESHOLDS, TRIGGERS
from tests.helpers.ftrun import (
    NO_SHARED_DATA,
    SHARED_DATA,
    cli_output,
    freqtrade,
    make_config,
    run_backtest,
    with_strategy_copy,
)

pytestmark = pytest.mark.skipif(not SHARED_DATA.exists(), reason=NO_SHARED_DATA)

RANGE = "20240101-20240301"
COINS = {"BTC": 50, "SOL": 50}
INVESTMENT = 1000.0
SEED = "1"
KEYS = ["interval", "interval_min_drift", "threshold", "trigger"]


@dataclass
class Hyperopt:
    config: Path
    strategies: Path
    output: str
    epochs: list[dict[str, Any]]
    journal_before: str  # the journal of an earlier backtest
    journal_after: str  # the same file once hyperopt has run


def hyperopt(config: Path, *args: str) -> tuple[str, list[dict[str, Any]]]:
    result = freqtrade(
        config,
        "hyperopt",
        "--timerange",
        RANGE,
        "--spaces",
        "buy",
        "--hyperopt-loss",
        "RebalancePortfolioLoss",
        "--random-state",
        SEED,
        *args,
    )
    out = cli_output(result)
    assert result.returncode == 0 and "Traceback" not in out, out[-4000:]
    userdir = Path(json.loads(config.read_text())["user_data_dir"])
    (results,) = (userdir / "hyperopt_results").glob("*.fthypt")
    return out, [json.loads(line) for line in results.read_text().splitlines() if line]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Hyperopt:
    tmp = tmp_path_factory.mktemp("hyperopt")
    config = make_config(tmp, coins=COINS)
    strategies = with_strategy_copy(config)
    # The journal of an earlier backtest: hyperopt must leave it alone.
    journal = tmp / "user_data" / "backtest_results" / "rebalance_journal.jsonl"
    journal.parent.mkdir(parents=True)
    journal.write_text('{"kind": "rebalance", "note": "an earlier backtest"}\n')
    before = journal.read_text()
    out, epochs = hyperopt(config, "-e", "6", "-j", "1")
    return Hyperopt(config, strategies, out, epochs, before, journal.read_text())


def values(epoch: dict[str, Any]) -> dict[str, Any]:
    return dict(epoch["params_details"]["buy"])


def test_hyperopt_searches_the_trigger_within_the_allowed_values(run):
    assert len(run.epochs) == 6
    for epoch in run.epochs:
        found = values(epoch)
        assert sorted(found) == KEYS
        assert found["trigger"] in TRIGGERS and found["threshold"] in THRESHOLDS
        assert found["interval"] in INTERVALS and 0 <= found["interval_min_drift"] <= 10
        assert round(found["interval_min_drift"], 1) == found["interval_min_drift"]
    assert "Best result:" in run.output and "# Buy parameters: buy_params = {" in run.output


def test_hyperopt_show_reports_the_trigger_of_an_epoch(run):
    result = freqtrade(run.config, "hyperopt-show", "-n", "2", "--disable-param-export")
    out = cli_output(result)
    assert result.returncode == 0, out[-3000:]
    shown = values(run.epochs[1])
    assert f'"trigger": "{shown["trigger"]}"' in out and f'"interval": "{shown["interval"]}"' in out
    assert f'"threshold": {shown["threshold"]}' in out
    result = freqtrade(
        run.config,
        "hyperopt-show",
        "--best",
        "--print-json",
        "--no-header",
        "--disable-param-export",
    )
    best = min(run.epochs, key=lambda e: e["loss"])
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    assert printed["params"] == values(best)
    assert printed["minimal_roi"] == {} and printed["stoploss"] == -1.0
    assert printed["trailing_stop"] is False


def test_epochs_differ_in_their_trigger_and_their_results(run):
    triggers = {json.dumps(values(e), sort_keys=True) for e in run.epochs}
    assert len(triggers) == 6
    assert {values(e)["trigger"] for e in run.epochs} == set(TRIGGERS)
    profits = {round(e["results_metrics"]["profit_total_abs"], 6) for e in run.epochs}
    losses = {round(e["loss"], 9) for e in run.epochs}
    assert len(profits) >= 3 and len(losses) >= 3, (profits, losses)


def equity_by_hand(trades: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> list[float]:
    """The portfolio's value at ``start`` (priced at the candles' opens) and at each 1h candle's
    close up to ``end``: cash (the investment, less each buy's value x (1 + fee), plus each
    sell's value x (1 - fee)) plus the coins held. A plain walk over the candle files."""
    fills = sorted(
        (
            pd.Timestamp(o["order_filled_timestamp"], unit="ms", tz="UTC"),
            t.pair.split("/")[0],
            1.0 if o["ft_order_side"] == "buy" else -1.0,
            o["amount"],
            o["safe_price"],
            t.fee_open if o["ft_order_side"] == "buy" else t.fee_close,
        )
        for t in trades.itertuples()
        for o in t.orders
    )
    candles = {
        coin: pd.read_feather(SHARED_DATA / f"{coin}_USDT-1h.feather").set_index("date")
        for coin in COINS
    }
    hour = pd.Timedelta(hours=1)
    cash, held, out, i = INVESTMENT, dict.fromkeys(COINS, 0.0), [], 0
    when = start
    while when <= end:
        while i < len(fills) and fills[i][0] <= when:
            _, coin, sign, amount, price, fee = fills[i]
            held[coin] += sign * amount
            cash -= sign * amount * price + amount * price * fee
            i += 1
        if when == start:
            prices = {c: candles[c].loc[start, "open"] for c in COINS}
        else:
            prices = {c: candles[c].loc[when - hour, "close"] for c in COINS}
        out.append(cash + sum(held[c] * prices[c] for c in COINS))
        when += hour
    return out


def loss_by_hand(equity: list[float]) -> float:
    """-(final / investment) x (1 - the largest fall from a running peak, over that peak)."""
    peak, deepest = -math.inf, 0.0
    for value in equity:
        peak = max(peak, value)
        deepest = max(deepest, 1.0 - value / peak)
    return -(equity[-1] / INVESTMENT) * (1.0 - deepest)


def test_an_epoch_s_loss_is_the_portfolio_formula_of_its_own_backtest(run, tmp_path):
    # The best and the worst epoch, backtested with their values written in the rebalance
    # section (no parameter file): the backtest must be the epoch's (same profit), and the
    # epoch's loss the formula over that backtest's equity.
    best = min(run.epochs, key=lambda e: e["loss"])
    worst = max(run.epochs, key=lambda e: e["loss"])
    rebalances = []
    for n, epoch in enumerate((best, worst)):
        folder = tmp_path / str(n)
        folder.mkdir()
        bt = run_backtest(make_config(folder, coins=COINS, **values(epoch)), RANGE)
        profit = epoch["results_metrics"]["profit_total_abs"]
        assert bt.final_balance - INVESTMENT == pytest.approx(profit, abs=1e-6)
        start = pd.Timestamp(bt.stats["backtest_start_ts"], unit="ms", tz="UTC")
        end = pd.Timestamp(bt.stats["backtest_end_ts"], unit="ms", tz="UTC")
        equity = equity_by_hand(bt.trades, start, end)
        assert len(equity) == (end - start) / pd.Timedelta(hours=1) + 1
        assert equity[-1] == pytest.approx(bt.final_balance, abs=1e-6)  # all sold at the end
        assert epoch["loss"] == pytest.approx(loss_by_hand(equity), rel=1e-9, abs=1e-12)
        rebalances.append(sum(1 for e in bt.journal if e["kind"] == "rebalance"))
    assert best["loss"] < worst["loss"]
    assert rebalances[0] != rebalances[1], rebalances  # the values changed what was done


def test_the_parameter_file_hyperopt_writes_passes_the_check_and_backtests(run, caplog):
    written = json.loads((run.strategies / "RebalanceStrategy.json").read_text())
    best = min(run.epochs, key=lambda e: e["loss"])
    params = written["params"]
    # The strategy's own "never exit" values, beside the best epoch's trigger.
    assert params["roi"] == {} and params["stoploss"] == {"stoploss": -1.0}
    assert params["trailing"]["trailing_stop"] is False
    assert params["buy"] == values(best)
    with caplog.at_level("WARNING", logger="rebalance_plugin.ft"):
        bt = run_backtest(run.config, RANGE)  # the config's strategy folder holds the file
    cfg = bt.strategy.rebalance
    assert {k: getattr(cfg, k) for k in KEYS} == values(best)
    profit = best["results_metrics"]["profit_total_abs"]
    assert bt.final_balance - INVESTMENT == pytest.approx(profit, abs=1e-6)
    said = " ".join(r.getMessage() for r in caplog.records if r.name == "rebalance_plugin.ft")
    assert "Trigger of this backtest, from the parameter file RebalanceStrategy.json" in said


def test_hyperopt_leaves_the_backtest_journal_alone(run):
    assert run.journal_after == run.journal_before


def test_two_jobs_find_the_same_epochs(run, tmp_path):
    # Freqtrade pickles the strategy to its worker processes: each epoch there must run the
    # same backtest as in one process (same random state: the same values are asked first).
    config = make_config(tmp_path, coins=COINS)
    with_strategy_copy(config)
    _, epochs = hyperopt(config, "-e", "2", "-j", "2")
    assert [values(e) for e in epochs] == [values(e) for e in run.epochs[:2]]
    assert [e["loss"] for e in epochs] == pytest.approx([e["loss"] for e in run.epochs[:2]])
