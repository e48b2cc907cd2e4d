"""rebalance_plugin.report: the portfolio view's computations, on hand-made orders and prices
whose results are worked out by hand in the comments, and one real backtest end to end."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from rebalance_plugin import report
from rebalance_plugin.report.render import describe_trigger
from tests.helpers.paths import NO_SHARED_DATA, ROOT, SHARED_DATA

FEE = 0.001


def ts(hour: int, minute: int = 0) -> pd.Timestamp:
    return pd.Timestamp("2021-01-01", tz="UTC") + pd.Timedelta(hours=hour, minutes=minute)


def orders_frame(rows):
    return pd.DataFrame(
        [(t, coin, side, amount, price, FEE, tag) for t, coin, side, amount, price, tag in rows],
        columns=report.ORDER_COLUMNS,
    )


# Two coins A and B, start cash 1002, valuation times t0..t4 (one hour apart).
#
#   t0  first buys: A 5 @ 100 (value 500, fee 0.5), B 50 @ 10 (value 500, fee 0.5)
#       cash = 1002 - 500.5 - 500.5 = 1
#   t2  rebalance sell: A 0.5 @ 110 (value 55, fee 0.055)   cash = 1 + 54.945 = 55.945
#   t3  rebalance buy:  B 6 @ 9     (value 54, fee 0.054)   cash = 55.945 - 54.054 = 1.891
#   t4  final exits: A 4.5 @ 100 (value 450, fee 0.45), B 56 @ 10 (value 560, fee 0.56)
#       cash = 1.891 + 449.55 + 559.44 = 1010.881
#
# Prices at the valuation times:   t0      t1      t2      t3      t4
#                            A     100     120     110     100     100
#                            B      10      10       9       8      10
ORDERS = orders_frame(
    [
        (ts(0), "A", "buy", 5.0, 100.0, ""),
        (ts(0), "B", "buy", 50.0, 10.0, ""),
        (ts(2), "A", "sell", 0.5, 110.0, "rebalance sell"),
        (ts(3), "B", "buy", 6.0, 9.0, "rebalance buy"),
        (ts(4), "A", "sell", 4.5, 100.0, "force_exit"),
        (ts(4), "B", "sell", 56.0, 10.0, "force_exit"),
    ]
)
TIMES = [ts(h) for h in range(5)]
PRICES = pd.DataFrame(
    {"A": [100.0, 120.0, 110.0, 100.0, 100.0], "B": [10.0, 10.0, 9.0, 8.0, 10.0]}, index=TIMES
)
START_CASH = 1002.0

# Equity = cash + 5 or 4.5 A + 50 or 56 B:
#   t0: 1      + 5 * 100   + 50 * 10 = 1001
#   t1: 1      + 5 * 120   + 50 * 10 = 1101
#   t2: 55.945 + 4.5 * 110 + 50 * 9  = 55.945 + 495 + 450 = 1000.945
#   t3: 1.891  + 4.5 * 100 + 56 * 8  = 1.891 + 450 + 448 = 899.891
#   t4: 1010.881 (nothing held)
EQUITY = [1001.0, 1101.0, 1000.945, 899.891, 1010.881]


def test_holdings_count_orders_filled_at_or_before_each_time():
    held = report.holdings(ORDERS, TIMES)
    assert held["A"].tolist() == pytest.approx([5, 5, 4.5, 4.5, 0])
    assert held["B"].tolist() == pytest.approx([50, 50, 50, 56, 0])


def test_an_order_between_two_times_counts_from_the_next_one():
    orders = orders_frame([(ts(0, 30), "A", "buy", 2.0, 100.0, "")])
    held = report.holdings(orders, TIMES[:3])
    assert held["A"].tolist() == [0.0, 2.0, 2.0]  # not at 00:00, yes at 01:00 and 02:00


def test_cash_pays_and_receives_the_fee():
    assert report.cash(ORDERS, TIMES, START_CASH).tolist() == pytest.approx(
        [1.0, 1.0, 55.945, 1.891, 1010.881]
    )


def test_equity_curve_by_hand():
    equity = report.equity_curve(ORDERS, PRICES, START_CASH)
    assert equity.tolist() == pytest.approx(EQUITY, abs=1e-9)
    assert list(equity.index) == TIMES


def test_weights_include_cash_in_the_total():
    weights = report.coin_weights(ORDERS, PRICES, START_CASH)
    # t0: 500 / 1001 each; t2: A 495 / 1000.945, B 450 / 1000.945; t4: nothing held
    assert weights.loc[ts(0)].tolist() == pytest.approx([500 / 1001, 500 / 1001])
    assert weights.loc[ts(2)].tolist() == pytest.approx([495 / 1000.945, 450 / 1000.945])
    assert weights.loc[ts(4)].tolist() == [0.0, 0.0]


def test_a_coin_is_worth_nothing_before_its_first_price():
    prices = PRICES.copy()
    prices.loc[ts(0), "B"] = float("nan")
    orders = orders_frame([(ts(1), "B", "buy", 1.0, 10.0, "")])
    # t0: nothing held, B has no price yet -> 100; t1: 100 - 10.01 + 1 * 10 = 99.99
    equity = report.equity_curve(orders, prices, 100.0)
    assert equity.tolist()[:2] == pytest.approx([100.0, 99.99])


def test_buy_and_hold_keeps_the_first_buys_and_sells_at_the_last_price():
    bh = report.buy_and_hold_orders(ORDERS, {"A": 100.0, "B": 10.0}, ts(4))
    assert bh[["coin", "side", "amount", "price"]].values.tolist() == [
        ["A", "buy", 5.0, 100.0],
        ["B", "buy", 50.0, 10.0],
        ["A", "sell", 5.0, 100.0],
        ["B", "sell", 50.0, 10.0],
    ]
    # Same cash 1 after the first buys; t1: 1 + 600 + 500 = 1101; t2: 1 + 550 + 450 = 1001;
    # t3: 1 + 500 + 400 = 901; t4: 1 + 500 * 0.999 + 500 * 0.999 = 1000
    equity = report.equity_curve(bh, PRICES, START_CASH)
    assert equity.tolist() == pytest.approx([1001.0, 1101.0, 1001.0, 901.0, 1000.0])


def test_buy_and_hold_takes_each_coins_earliest_buy():
    orders = orders_frame(
        [
            (ts(2), "A", "buy", 1.0, 110.0, "rebalance buy"),
            (ts(0), "A", "buy", 5.0, 100.0, ""),
        ]
    )
    bh = report.buy_and_hold_orders(orders, {"A": 100.0}, ts(4))
    assert bh["amount"].tolist() == [5.0, 5.0]
    assert bh["time"].tolist() == [ts(0), ts(4)]


def test_max_drawdown_by_hand():
    dd = report.max_drawdown(pd.Series(EQUITY, index=TIMES))
    # Peak 1101 at t1, trough 899.891 at t3: 1 - 899.891 / 1101 = 201.109 / 1101
    assert dd.depth == pytest.approx(201.109 / 1101)
    assert (dd.peak, dd.trough) == (ts(1), ts(3))
    # A curve that never falls has no drawdown.
    assert report.max_drawdown(pd.Series([1.0, 2.0, 3.0], index=TIMES[:3])).depth == 0.0


def test_cagr_over_exactly_one_and_two_years():
    start = pd.Timestamp("2021-01-01", tz="UTC")
    # 2021 has 365 days: 1000 -> 1210 in one year is +21 %.
    assert report.cagr(1000, 1210, start, pd.Timestamp("2022-01-01", tz="UTC")) == (
        pytest.approx(0.21)
    )
    # 730 days: 1210 / 1000 = 1.1 ** 2, so +10 % a year.
    assert report.cagr(1000, 1210, start, pd.Timestamp("2023-01-01", tz="UTC")) == (
        pytest.approx(0.10)
    )
    # Half a year (182.5 days) doubling: 2 ** 2 - 1 = +300 % a year.
    assert report.cagr(1000, 2000, start, start + pd.Timedelta(days=182.5)) == pytest.approx(3.0)


def test_turnover_and_fees_by_hand():
    turnover, fees, n = report.order_totals(ORDERS)
    # Turnover: the two rebalance orders, 55 + 54 = 109.
    assert turnover == pytest.approx(109.0)
    assert n == 2
    # Fees: first buys 0.5 + 0.5, rebalance 0.055 + 0.054, exits 0.45 + 0.56 = 2.119;
    # check: 1002 + (-1000 + 55 - 54 + 450 + 560) - 2.119 = 1010.881, the final cash.
    assert fees == pytest.approx(2.119)


JOURNAL = [
    {
        "kind": "rebalance",
        "ts": ts(2).timestamp(),
        "skipped": [{"coin": "C", "side": "sell", "value": 3.0, "reason": "below minimum"}],
    },
    {
        "kind": "buys",
        "ts": ts(3).timestamp(),
        "skipped": [
            {"coin": "B", "side": "buy", "value": 3.0, "reason": "below minimum"},
            {"coin": "A", "side": "buy", "value": 2.0, "reason": "below minimum"},
        ],
    },
    {"kind": "skipped", "ts": ts(4).timestamp(), "skipped": [], "message": "no leg can trade"},
    {"kind": "rebalance", "ts": ts(5).timestamp(), "skipped": []},
]


def test_journal_counts():
    # 2 "rebalance" events, 1 "skipped" event, 1 + 2 skipped entries in rebalance/buys events
    assert report.journal_counts(JOURNAL) == (2, 1, 3)


def test_mark_prices_start_at_the_first_open_then_each_close():
    dates = [ts(0), ts(1), ts(2)]  # candle open times
    opens = pd.DataFrame({"A": [100.0, 101.0, 102.0]}, index=dates)
    closes = pd.DataFrame({"A": [101.0, 102.0, 103.0]}, index=dates)
    marks = report.mark_prices(opens, closes, ts(0), ts(2), pd.Timedelta(hours=1))
    # 00:00 -> open of the first candle; 01:00 / 02:00 -> closes of the 00:00 / 01:00 candles;
    # the 02:00 candle closes at 03:00, after the end.
    assert marks.index.tolist() == [ts(0), ts(1), ts(2)]
    assert marks["A"].tolist() == [100.0, 101.0, 102.0]


def test_portfolio_view_by_hand():
    view = report.portfolio_view(
        ORDERS, PRICES, pd.Series({"A": 100.0, "B": 10.0}), START_CASH, ts(0), ts(4), JOURNAL
    )
    assert view.final_value == pytest.approx(1010.881)
    assert view.bh_final_value == pytest.approx(1000.0)
    # Returns on 1002: 1010.881 / 1002 - 1 vs 1000 / 1002 - 1 -> 10.881 / 1002 * 100 pp apart
    assert view.difference_pp == pytest.approx(10.881 / 1002 * 100)
    assert view.invested == pytest.approx(1001.0)  # 500.5 + 500.5
    assert view.drawdown.depth == pytest.approx(201.109 / 1101)
    assert view.bh_drawdown.depth == pytest.approx(200 / 1101)
    assert (view.rebalances, view.skipped_rebalances, view.skipped_legs) == (2, 1, 3)
    assert (view.turnover, view.fees) == (pytest.approx(109.0), pytest.approx(2.119))


def test_orders_from_freqtrade_trades():
    trades = pd.DataFrame(
        [
            {
                "pair": "BTC/USDT",
                "fee_open": 0.001,
                "fee_close": 0.002,
                "orders": [
                    {
                        "amount": 0.01,
                        "safe_price": 30000.0,
                        "ft_order_side": "buy",
                        "ft_is_entry": True,
                        "order_filled_timestamp": 1609462800000,
                        "ft_order_tag": "",
                        "cost": 300.3,
                    },
                    {
                        "amount": 0.002,
                        "safe_price": 31000.0,
                        "ft_order_side": "sell",
                        "ft_is_entry": False,
                        "order_filled_timestamp": 1609466400000,
                        "ft_order_tag": "rebalance sell",
                        "cost": 62.062,
                    },
                    {
                        "amount": 0.001,
                        "safe_price": 31000.0,
                        "ft_order_side": "buy",
                        "ft_is_entry": True,
                        "order_filled_timestamp": None,
                        "ft_order_tag": "rebalance buy",
                        "cost": 0.0,
                    },
                ],
            }
        ]
    )
    orders = report.orders_from_trades(trades)
    assert orders[["coin", "side", "amount", "price", "fee", "tag"]].values.tolist() == [
        ["BTC", "buy", 0.01, 30000.0, 0.001, ""],
        ["BTC", "sell", 0.002, 31000.0, 0.002, "rebalance sell"],
    ]  # the unfilled one dropped
    assert orders["time"].tolist() == [ts(1), ts(2)]  # 1609462800000 ms = 2021-01-01 01:00


def test_the_stored_config_carries_the_trigger_of_a_stored_parameter_file(tmp_path):
    # Freqtrade stores, in a zipped result, config.json as read and the strategy's parameter
    # file when one was used: the backtest ran on the file's trigger (ft/params.py).
    import zipfile

    section = {"coins": {"BTC": 60, "ETH": 40}, "investment": 1000, "threshold": 5}
    buy = {"trigger": "interval", "interval": "1d", "interval_min_drift": 1.5, "threshold": 10}
    path = tmp_path / "backtest-result-2026-01-01_00-00-00.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(
            "backtest-result-2026-01-01_00-00-00_config.json", json.dumps({"rebalance": section})
        )
        zf.writestr(
            "backtest-result-2026-01-01_00-00-00_RebalanceStrategy.json",
            json.dumps({"params": {"buy": {**buy, "other": 1}, "roi": {}}}),
        )
    config = report.loading.stored_config(path, "RebalanceStrategy")
    assert config["rebalance"] == {**section, **buy}
    assert report.loading.stored_config(path, "OtherStrategy")["rebalance"] == section
    assert report.loading.stored_config(tmp_path / "none.zip", "RebalanceStrategy") == {}


@pytest.mark.backtest  # runs Freqtrade itself: seconds, not milliseconds
@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=NO_SHARED_DATA)
def test_report_of_a_real_backtest(tmp_path):
    """Two months, 1-point threshold, the offline Freqtrade CLI, then the report."""
    config = json.loads((ROOT / "config.json").read_text())
    config["rebalance"]["threshold"] = 1
    config["user_data_dir"] = str(tmp_path / "user_data")
    config["strategy_path"] = str(ROOT / "strategies")
    (tmp_path / "user_data").mkdir()
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "rebalance_plugin.marketdata.offline",
            "backtesting",
            "-c",
            str(config_path),
            "--datadir",
            str(SHARED_DATA),
            "--timerange",
            "20230101-20230301",
            "--cache",
            "none",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    results = tmp_path / "user_data" / "backtest_results"
    from freqtrade.data.btanalysis import load_backtest_stats

    final_balance = load_backtest_stats(results)["strategy"]["RebalanceStrategy"]["final_balance"]
    journal = [
        json.loads(line)
        for line in (results / "rebalance_journal.jsonl").read_text().splitlines()
        if line
    ]
    journal_rebalances = sum(1 for e in journal if e["kind"] == "rebalance")
    assert journal_rebalances > 0  # a 1-point threshold rebalances within two months

    out = io.StringIO()
    png = tmp_path / "equity.png"
    rep = report.run(config_path=config_path, datadir=SHARED_DATA, plot_path=png, out=out)
    text = out.getvalue()
    assert abs(rep.view.final_value - final_balance) <= 0.01
    assert rep.view.rebalances == journal_rebalances
    assert f"Rebalances           {journal_rebalances}" in text
    # It names what it measured: period and timeframe, coins and weights, trigger.
    assert (
        "Period               2023-01-01 00:00 -> 2023-03-01 00:00 UTC (59 days, 1h candles)"
        in text
    )
    assert "Portfolio            BTC 40%, ETH 30%, BNB 15%, SOL 15%" in text
    assert "Trigger              threshold: a coin off by more than 1 percentage point\n" in text
    assert rep.warnings == [], text
    assert png.is_file() and png.stat().st_size > 0
    assert str(png.resolve()) in text
    shutil.rmtree(tmp_path / "user_data", ignore_errors=True)


@pytest.mark.parametrize(
    ("section", "text"),
    [
        (
            {"trigger": "threshold", "threshold": 5},
            "threshold: a coin off by more than 5 percentage points",
        ),
        # the defaults (docs/configuration.md#the-rebalance-section)
        ({}, "threshold: a coin off by more than 5 percentage points"),
        (
            {"trigger": "interval", "interval": "7d"},
            "interval 7d, rebalancing a coin off by more than 0.5 percentage points",
        ),
        (
            {"threshold": 20, "threshold_mode": "relative", "rebalance_to": "band"},
            "threshold: a coin off by more than 20% of its target (relative), "
            "rebalancing to the band's edge",
        ),
        (None, "unknown (no rebalance section stored with the result)"),
    ],
)
def test_the_report_names_the_trigger_it_measured(section, text):
    assert describe_trigger(section) == text


# ---- one story in the terminal, and the plot ---------------------------------------------------
def hand_report(tmp_path, journal=JOURNAL) -> report.Report:
    """The hand-made portfolio above as a report of a result file in ``tmp_path``."""
    view = report.portfolio_view(
        ORDERS, PRICES, pd.Series({"A": 100.0, "B": 10.0}), START_CASH, ts(0), ts(4), journal
    )
    result = report.BacktestResult(
        tmp_path / "backtest-result-x.zip",
        "RebalanceStrategy",
        {"stake_currency": "USDT", "timeframe": "1h", "final_balance": 1010.881},
        pd.DataFrame(),
        {"rebalance": {"coins": {"A": 50, "B": 50}}},
    )
    return report.Report(result, view, tmp_path, {"A": 0.5, "B": 0.5}, [], ["A", "B"])


def test_the_view_says_which_of_freqtrades_figures_mean_nothing_for_a_portfolio(tmp_path):
    text = report.format_summary(hand_report(tmp_path))
    note = text.split("\n\n")[1]
    assert note.startswith("  Reading Freqtrade's report: each coin is one trade")
    for figure in ('"Drawdown"', '"Win%"', "Sharpe", '"Wallet based Metrics"'):
        assert figure in note
    assert "Max drawdown" in text.split(note)[1]  # the portfolio's own figures follow


def test_the_plot_log_scale_equal_targets_and_legends_beside_the_lines(tmp_path, mocker):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = []
    mocker.patch.object(plt, "close", side_effect=figures.append)
    png = report.plot(hand_report(tmp_path), tmp_path / "equity.png", log_scale=True)
    assert png.is_file()
    (fig,) = figures
    top, bottom = fig.axes
    assert top.get_yscale() == "log" and bottom.get_yscale() == "linear"
    # A and B have the same 50% target: two dashed lines of their colours, interleaved.
    targets = [line for line in bottom.get_lines() if line.get_linestyle() != "-"]
    assert [line.get_ydata()[0] for line in targets] == [50.0, 50.0]
    offsets = {line._dash_pattern[0] for line in targets}  # (offset, (on, off))
    assert len(offsets) == 2
    assert targets[0].get_color() != targets[1].get_color()
    # Legends to the right of the plots, over no line.
    fig.canvas.draw()
    for ax in (top, bottom):
        legend = ax.get_legend().get_window_extent()
        assert legend.x0 >= ax.get_window_extent().x1
    plt.close(fig)


def test_an_older_result_finds_its_own_journal(tmp_path):
    """The latest journal belongs to the last backtest; the one kept when it started is the
    older run's: its legs are the older result's rebalance orders."""
    from rebalance_plugin.core import journal

    def trade(amount: float) -> dict:
        order = {"safe_price": 100.0, "ft_is_entry": False, "cost": 0.0}
        return {
            "pair": "SOL/USDT",
            "fee_open": FEE,
            "fee_close": FEE,
            "orders": [
                {
                    **order,
                    "amount": 10.0,
                    "ft_order_side": "buy",
                    "ft_is_entry": True,
                    "order_filled_timestamp": 1609459200000,
                    "ft_order_tag": "",
                },
                {
                    **order,
                    "amount": amount,
                    "ft_order_side": "sell",
                    "order_filled_timestamp": 1609462800000,
                    "ft_order_tag": "rebalance sell",
                },
            ],
        }

    def event(qty: float) -> str:
        leg = {"coin": "SOL", "side": "sell", "qty": qty, "price": 100.0}
        return json.dumps({"ts": 1609462800.0, "kind": "rebalance", "legs": [leg]})

    stats = {"backtest_start_ts": 1609459200000, "backtest_end_ts": 1609545600000}
    older = report.BacktestResult(
        tmp_path / "backtest-result-1.zip", "S", stats, pd.DataFrame([trade(2.0)]), {}
    )
    latest = tmp_path / journal.JOURNAL_NAME
    latest.write_text(event(2.0) + "\n")
    kept = journal.keep(latest)  # the next backtest starts: the older run's journal is kept
    latest.write_text(event(3.5) + "\n")  # ... and writes its own

    assert kept is not None and kept.name.startswith("rebalance_journal.20")
    assert report.find_journal(older, tmp_path)[0] == kept
    newer = report.BacktestResult(
        tmp_path / "backtest-result-2.zip", "S", stats, pd.DataFrame([trade(3.5)]), {}
    )
    assert report.find_journal(newer, tmp_path)[0] == latest
    other = report.BacktestResult(
        tmp_path / "backtest-result-3.zip", "S", stats, pd.DataFrame([trade(7.0)]), {}
    )
    assert report.find_journal(other, tmp_path) == (None, [])  # no journal is its own
