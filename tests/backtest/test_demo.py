"""``make demo``: what the Makefile runs once the virtualenv exists, ``python -m
tools.demo``, on the real candles: Freqtrade's backtest of config.json's portfolio over
2021-2025, then the portfolio view and its plot.

The demo reads ``config.json`` at the repository's root and writes into its ``user_data_dir``:
here its ``CONFIG`` is pointed at a scratch copy whose ``user_data_dir`` is a scratch folder, so
nothing is written into the repository and two runs never share a results folder (as
tests/docs/test_readme_figures.py runs it). The view's figures are worked out here from the
result file Freqtrade wrote, read with zipfile/json: the final value is Freqtrade's final
balance; buy-and-hold keeps each coin's first buy and sells it at the force-exit price, both
with the fee; turnover and fees add up the orders.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile

import pytest

from tests.helpers.ftrun import NO_SHARED_DATA, ROOT, SHARED_DATA

pytestmark = pytest.mark.skipif(not SHARED_DATA.exists(), reason=NO_SHARED_DATA)


def money(text: str) -> float:
    return float(text.replace(",", ""))


def row(out: str, label: str) -> str:
    """What follows ``label`` on its line of the view."""
    found = re.search(rf"^  {re.escape(label)}\s+(.*)$", out, re.M)
    assert found, f"no row {label!r} in:\n{out[-3000:]}"
    return found.group(1)


def test_make_demo_prints_the_portfolio_view_and_writes_the_plot(tmp_path):
    checkout = tmp_path / "checkout"
    user_data = checkout / "user_data"
    user_data.mkdir(parents=True)
    config = json.loads((ROOT / "config.json").read_text())
    config["user_data_dir"] = str(user_data)
    config["strategy_path"] = str(ROOT / "strategies")
    config["hyperopt_path"] = str(ROOT / "hyperopts")
    (checkout / "config.json").write_text(json.dumps(config, indent=4))
    demo = (
        f"import sys; from pathlib import Path; sys.path.insert(0, {str(ROOT)!r}); "
        "import tools.demo as demo; "
        f"demo.CONFIG = Path({str(checkout / 'config.json')!r}); sys.exit(demo.main())"
    )
    done = subprocess.run(
        [sys.executable, "-c", demo], cwd=checkout, capture_output=True, text=True, timeout=900
    )
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    assert out.startswith(
        "freqtrade-rebalance demo: BTC 40%, ETH 30%, BNB 15%, SOL 15%, investment 1000 USDT, "
        "1h candles\n"
    )
    assert f"using REAL candles from {SHARED_DATA}, timerange 20210101-20260101" in out
    assert "SYNTHETIC" not in out
    assert re.search(r"\nDemo finished in \d+ s\.\n$", out), out[-500:]

    # The result Freqtrade wrote, read without Freqtrade or the plugin.
    results = user_data / "backtest_results"
    (path,) = results.glob("backtest-result-*.zip")
    with zipfile.ZipFile(path) as zf:
        (name,) = [n for n in zf.namelist() if re.fullmatch(r"backtest-result-[\d_-]+\.json", n)]
        stats = json.loads(zf.read(name))["strategy"]["RebalanceStrategy"]
    assert sorted(t["pair"] for t in stats["trades"]) == [
        "BNB/USDT",
        "BTC/USDT",
        "ETH/USDT",
        "SOL/USDT",
    ]  # one trade per coin, closed only by the backtest's end
    orders = [
        (o, t["fee_open"] if o["ft_is_entry"] else t["fee_close"])
        for t in stats["trades"]
        for o in t["orders"]
        if o.get("order_filled_timestamp") and o["amount"] > 0
    ]
    rebalance = [(o, f) for o, f in orders if o["ft_order_tag"].startswith("rebalance")]
    turnover = sum(o["amount"] * o["safe_price"] for o, _ in rebalance)
    fees = sum(o["amount"] * o["safe_price"] * f for o, f in orders)
    cash, held = float(stats["starting_balance"]), 0.0
    for trade in stats["trades"]:
        first = trade["orders"][0]
        value = first["amount"] * first["safe_price"]
        cash -= value * (1 + trade["fee_open"])
        held += first["amount"] * trade["close_rate"] * (1 - trade["fee_close"])
    bh_final = cash + held

    final = row(out, "Final value (USDT)").split()
    assert money(final[0]) == pytest.approx(stats["final_balance"], abs=0.005)
    assert money(final[1]) == pytest.approx(bh_final, abs=0.005)
    turnover_row = re.fullmatch(
        r"([\d,.]+) USDT in (\d+) rebalance orders \(.*\)", row(out, "Turnover")
    )
    assert turnover_row, row(out, "Turnover")
    assert money(turnover_row.group(1)) == pytest.approx(turnover, abs=0.005)
    assert int(turnover_row.group(2)) == len(rebalance) > 0
    fees_row = re.fullmatch(r"([\d,.]+) USDT on (\d+) orders \(.*\)", row(out, "Fees paid"))
    assert fees_row, row(out, "Fees paid")
    assert money(fees_row.group(1)) == pytest.approx(fees, abs=0.005)
    assert int(fees_row.group(2)) == len(orders)
    assert int(row(out, "Rebalances")) > 0

    # The plot: written where the view says, a PNG.
    plot = results / "rebalance_equity.png"
    assert f"  Equity plot written to {plot}\n" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 50_000
