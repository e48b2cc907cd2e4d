"""``freqtrade-rebalance tax`` of a backtest result, against an independent computation from the
result file and against rp2; the realised gain of the report (the sweep shows the report's:
tests/backtest/test_sweep.py).

One real backtest (the offline ``freqtrade backtesting`` CLI, Balanced growth, 1-point
threshold, 2022-11-15 -> 2023-02-15 on the real Binance candles: two tax years), exported as
Freqtrade exports it. The independent computation reads the orders from the result's zip with
``zipfile``/``json`` (no Freqtrade, no plugin code) and matches lots with its own FIFO/HIFO
(tests/helpers/taxcheck.py); rp2 computes FIFO and HIFO from its own input format
(tests/helpers/rp2run.py).

A backtest ends by selling what is still held at its last candle (Freqtrade's ``force_exit``):
over the whole result every method then realises the same total, Freqtrade's profit.
"""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rebalance_plugin import report
from rebalance_plugin.cli import main
from tests.helpers.ftrun import NO_SHARED_DATA, SHARED_DATA, freqtrade, make_config
from tests.helpers.rp2run import Trade, rp2_sales, rp2_us_gains
from tests.helpers.taxcheck import COINTRACKING, KOINLY, lots_by_hand, replay

pytestmark = pytest.mark.skipif(not SHARED_DATA.exists(), reason=NO_SHARED_DATA)

TIMERANGE = "20221115-20230215"
STRATEGY = "RebalanceStrategy"


@pytest.fixture(scope="module")
def result(tmp_path_factory) -> Path:
    """The config of a finished backtest whose result (zip) is in its backtest_results."""
    tmp = tmp_path_factory.mktemp("taxbt")
    config = make_config(tmp, threshold=1)
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
    return config


def result_file(config: Path) -> Path:
    (path,) = (config.parent / "user_data" / "backtest_results").glob("*.zip")
    return path


def stored(config: Path) -> tuple[list[Trade], list[dict], dict]:
    """(every filled order, by fill time; the trades; the strategy's stats), read from the zip."""
    with zipfile.ZipFile(result_file(config)) as zf:
        (name,) = [
            n for n in zf.namelist() if n.endswith(".json") and not n.endswith("_config.json")
        ]
        stats = json.loads(zf.read(name))["strategy"][STRATEGY]
    orders = []
    for trade in stats["trades"]:
        coin = trade["pair"].split("/")[0]
        for o in trade["orders"]:
            side = "buy" if o["ft_is_entry"] else "sell"
            rate = trade["fee_open"] if side == "buy" else trade["fee_close"]
            q, p = o["amount"], o["safe_price"]
            when = datetime.fromtimestamp(o["order_filled_timestamp"] / 1000, tz=UTC)
            orders.append((when, Trade(when, coin, side, q, p, q * p * rate), o["ft_order_tag"]))
    orders.sort(key=lambda x: x[0])  # stable: same-time orders keep the result's order
    return [t for _, t, _ in orders], [tag for _, _, tag in orders], stats


def export(config: Path, out: Path, *args: str, capsys) -> tuple[str, list[dict[str, str]]]:
    code = main(["tax", "-c", str(config), "--out", str(out), *args])
    text = capsys.readouterr().out
    assert code == 0, text
    with out.open() as fh:
        return text, list(csv.DictReader(fh))


def printed_totals(text: str) -> dict[str, list[str]]:
    """The rows of the printed totals table, by their first cell (year, coin or 'total')."""
    rows = {}
    for line in text.splitlines():
        cells = line.split()
        if len(cells) >= 6 and cells[1].isdigit():
            rows[cells[0]] = cells[1:6]
    return rows


@pytest.mark.parametrize("method", ["fifo", "hifo"])
def test_backtest_gains_match_the_independent_computation_and_rp2(result, tmp_path, capsys, method):
    trades, tags, stats = stored(result)
    sells = [t for t in trades if t.side == "sell"]
    text, rows = export(result, tmp_path / "gains.csv", "--method", method, capsys=capsys)
    by_hand = lots_by_hand(trades, highest_first=method == "hifo")
    assert len(rows) == len(sells) == len(by_hand) > 20
    for row, sell, (proceeds, basis) in zip(rows, sells, by_hand, strict=True):
        assert (row["coin"], row["date"]) == (sell.coin, f"{sell.time:%Y-%m-%d %H:%M:%S}")
        assert abs(float(row["proceeds"]) - proceeds) <= 0.005 + 1e-9
        assert abs(float(row["cost_basis"]) - basis) <= 0.005 + 1e-9
        assert abs(float(row["gain"]) - (proceeds - basis)) <= 0.005 + 1e-9

    # Totals to the cent, per year, per coin and in all (exact sums, rounded once).
    totals = printed_totals(text)
    gains = [p - b for p, b in by_hand]
    assert totals["total"][3] == f"{math.fsum(gains):.2f}"
    for year in (2022, 2023):
        mine = math.fsum(g for g, s in zip(gains, sells, strict=True) if s.time.year == year)
        assert totals[str(year)][3] == f"{mine:.2f}", year
    for coin in ("BTC", "ETH", "BNB", "SOL"):
        mine = math.fsum(g for g, s in zip(gains, sells, strict=True) if s.coin == coin)
        assert totals[coin][3] == f"{mine:.2f}", coin
    # Everything is sold by the end: the total is Freqtrade's profit, whatever the method.
    assert totals["total"][3] == f"{stats['profit_total_abs']:.2f}"

    # rp2 from its own input format: each sale, and rp2_us's report per year and coin.
    theirs = rp2_sales(trades, method, tmp_path / "rp2")
    for row, sale in zip(rows, theirs, strict=True):
        assert abs(float(row["gain"]) - sale.gain) <= 0.005 + 1e-9
    report_gains = rp2_us_gains(tmp_path / "rp2", method)
    for (year, coin), gain in report_gains.items():
        mine = math.fsum(
            g for g, s in zip(gains, sells, strict=True) if (s.time.year, s.coin) == (year, coin)
        )
        assert gain == pytest.approx(mine, abs=0.005), (year, coin)


def test_final_exits_are_sales_and_can_be_left_out(result, tmp_path, capsys):
    trades, tags, _ = stored(result)
    final = [t for t, tag in zip(trades, tags, strict=True) if tag == "force_exit"]
    assert len(final) == 4 and {t.time for t in final} == {datetime(2023, 2, 15, tzinfo=UTC)}
    text, rows = export(result, tmp_path / "all.csv", capsys=capsys)
    assert "of which the 4 closing sales at the backtest's last candle" in text
    _, without = export(result, tmp_path / "w.csv", "--without-final-exits", capsys=capsys)
    assert len(without) == len(rows) - 4
    assert without == rows[: len(without)]  # the final exits are the last sales


def test_the_report_and_the_sweep_show_the_fifo_gain_before_the_end(result, tmp_path):
    trades, tags, _ = stored(result)
    during = [t for t, tag in zip(trades, tags, strict=True) if tag != "force_exit"]
    sales = [t for t in during if t.side == "sell"]
    gain = math.fsum(p - b for p, b in lots_by_hand(during, highest_first=False))
    out = io.StringIO()
    rep = report.run(
        config_path=result, datadir=SHARED_DATA, plot_path=tmp_path / "eq.png", out=out
    )
    assert rep.view.realised_gain == pytest.approx(gain, abs=1e-6)
    assert rep.view.realised_sales == len(sales)
    text = out.getvalue()
    assert f"  Realised gain, FIFO  {gain:,.2f}" in text
    assert f"the FIFO gain of the {len(sales)} sales before the end" in text


def test_koinly_and_cointracking_replay_freqtrades_final_balance(result, tmp_path, capsys):
    trades, _, stats = stored(result)
    _, koinly = export(result, tmp_path / "k.csv", "--format", "koinly", capsys=capsys)
    _, ct = export(result, tmp_path / "c.csv", "--format", "cointracking", capsys=capsys)
    assert len(koinly) == len(ct) == len(trades)
    for rows, columns in ((koinly, KOINLY), (ct, COINTRACKING)):
        balance = replay(rows, columns, float(stats["starting_balance"]))
        assert balance["USDT"] == pytest.approx(stats["final_balance"], abs=0.005)
        assert all(abs(v) < 1e-9 for c, v in balance.items() if c != "USDT"), balance
    assert all("BACKTEST" in r["Description"] for r in koinly)
    assert all("BACKTEST" in r["Comment"] for r in ct)
