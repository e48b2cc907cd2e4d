"""Auto-invest in a real backtest (issue 10, item 1): Balanced growth with 100 USDT every Monday
09:00 UTC over 2024. The deposit times are counted here from the calendar alone (no call to the
schedule code): every hour from the first buy to the end of the range that is a Monday 09:00."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rebalance_plugin import report
from rebalance_plugin.ft import fastforward
from tests.helpers.ftrun import (
    NO_SHARED_DATA,
    SHARED_DATA,
    load_opens,
    make_config,
    run_backtest,
)

pytestmark = pytest.mark.skipif(not SHARED_DATA.exists(), reason=NO_SHARED_DATA)

BALANCED = {"BTC": 40, "ETH": 30, "BNB": 15, "SOL": 15}
WEEKLY = {"amount": 100, "every": "weekly", "weekday": "MON", "hour": 9}
FEE = 0.001


def config(tmp_path: Path, wallet: float, **rebalance) -> Path:
    path = make_config(tmp_path, coins=BALANCED, investment=1000, auto_invest=WEEKLY, **rebalance)
    cfg = json.loads(path.read_text())
    cfg["dry_run_wallet"] = wallet
    path.write_text(json.dumps(cfg))
    return path


def first_buy(run) -> datetime:
    return min(
        datetime.fromtimestamp(o["order_filled_timestamp"] / 1000, UTC)
        for _, trade in run.trades.iterrows()
        for o in trade["orders"]
    )


def mondays_9(after: datetime, end: datetime) -> list[datetime]:
    """Every Monday 09:00 UTC strictly after ``after`` and before ``end``, hour by hour."""
    t = after.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    out = []
    while t < end:
        if t.weekday() == 0 and t.hour == 9:
            out.append(t)
        t += timedelta(hours=1)
    return out


def deposits(run) -> list[dict]:
    return [r for r in run.journal if r["kind"] == "deposit"]


def solve_rate(flows: list[tuple[datetime, float]]) -> float:
    """The test's own XIRR: the secant method on the net present value (365-day years)."""
    t0 = flows[0][0]

    def npv(rate: float) -> float:
        return sum(a / (1 + rate) ** ((t - t0).total_seconds() / 86400 / 365) for t, a in flows)

    a, b = 0.0, 0.5
    for _ in range(100):
        fa, fb = npv(a), npv(b)
        if fb == fa:
            break
        a, b = b, b - fb * (b - a) / (fb - fa)
    return b


def test_weekly_deposits_over_2024(tmp_path):
    # 53 Mondays in 2024; the first buy is at the first candle, 2024-01-01 00:00, so every one
    # of them is after it: 53 deposits of 100, needing a wallet of 1000 + 5300
    cfg = config(tmp_path, 6300)
    run = run_backtest(cfg, "20240101-20250101", extra={"export": "trades"})
    start = first_buy(run)
    expected = mondays_9(start, datetime(2025, 1, 1, tzinfo=UTC))
    assert len(expected) == 53
    made = deposits(run)
    assert [datetime.fromtimestamp(r["ts"], UTC) for r in made] == expected
    assert all(r["amount"] == 100 for r in made)
    for r in made:  # buys only, never more than the deposit (fees included)
        assert r["legs"] and all(leg["side"] == "buy" for leg in r["legs"])
        spent = sum(leg["qty"] * leg["price"] for leg in r["legs"]) * (1 + FEE)
        assert 90 < spent <= 100 + 1e-9
    book = run.strategy.rb.book
    assert book.deposited == 5300 and book.funded == 6300
    # the deposits were spent: Freqtrade's wallet ends with (about) no free cash beyond fees
    bought = sum(
        o["amount"] * o["safe_price"] * (1 + FEE)
        for _, trade in run.trades.iterrows()
        for o in trade["orders"]
        if o["ft_order_side"] == "buy"
    )
    sold = sum(
        o["amount"] * o["safe_price"] * (1 - FEE)
        for _, trade in run.trades.iterrows()
        for o in trade["orders"][1:]
        if o["ft_order_side"] == "sell" and o != trade["orders"][-1]
    )
    assert 6300 - 60 < bought - sold <= 6300 + 1e-6
    # The deposit buys are no rebalance: none is tagged so
    tags = {o["ft_order_tag"] for _, t in run.trades.iterrows() for o in t["orders"]}
    assert "deposit buy" in tags

    # The report: the deposits as cash flows
    out = io.StringIO()
    rep = report.run(config_path=cfg, datadir=SHARED_DATA, plot_path=tmp_path / "p.png", out=out)
    flows = rep.flows
    assert flows is not None and (tmp_path / "p.png").is_file()
    assert [t.to_pydatetime() for t in flows.times] == expected
    assert flows.deposited == 5300 and flows.total_in == 6300
    # the whole wallet was paid in: the portfolio's final value is Freqtrade's final balance
    assert flows.final_value == pytest.approx(run.final_balance, abs=0.01)
    paid = [(start, -1000.0)] + [(t, -100.0) for t in expected]
    end = datetime(2025, 1, 1, tzinfo=UTC)
    assert flows.xirr == pytest.approx(solve_rate([*paid, (end, run.final_balance)]), abs=1e-6)
    # the references, from the candle opens: each payment bought at the targets at the open
    # of its candle, fee on top, and sold at the last candle's open, fee off
    opens = load_opens(list(BALANCED))
    weights = {c: w / 100 for c, w in BALANCED.items()}

    def held(buys: list[tuple[datetime, float]]) -> float:
        qty = {
            c: sum(a * w / (1 + FEE) / opens.loc[t, c] for t, a in buys) for c, w in weights.items()
        }
        return sum(q * opens.loc[end, c] for c, q in qty.items()) * (1 - FEE)

    schedule = held([(t, -a) for t, a in paid])
    lump = held([(start, 6300.0)])
    assert flows.schedule_final == pytest.approx(schedule, rel=1e-9)
    assert flows.lump_final == pytest.approx(lump, rel=1e-9)
    assert flows.lump_xirr == pytest.approx(solve_rate([(start, -6300.0), (end, lump)]), abs=1e-6)
    text = out.getvalue()
    assert "Auto-invest          53 deposits, 5,300.00 USDT deposited" in text
    assert "Money-weighted (XIRR)" in text and "Same deposits, held" in text
    print(text)


def test_deposits_beyond_the_wallet_are_skipped_and_said_once(tmp_path, caplog):
    # 1250 of wallet: 250 beyond the investment pays two deposits (Jan 1 and Jan 8); the third
    # (Jan 15) and every later one over January are skipped, said once
    caplog.set_level("INFO", logger="rebalance_plugin.ft")
    run = run_backtest(config(tmp_path, 1250), "20240101-20240201")
    made = [datetime.fromtimestamp(r["ts"], UTC) for r in deposits(run)]
    assert made == [datetime(2024, 1, 1, 9, tzinfo=UTC), datetime(2024, 1, 8, 9, tzinfo=UTC)]
    said = [m for m in caplog.messages if "is skipped" in m]
    assert len(said) == 1 and "2024-01-15 09:00 UTC" in said[0]
    wallet = [m for m in caplog.messages if "need dry_run_wallet" in m]
    # January 2024 has 5 Mondays: 1000 + 5 x 100
    assert wallet and "5 deposits of 100 USDT" in wallet[0] and "at least 1500" in wallet[0]
    assert run.strategy.rb.book.deposited == 200


def test_the_same_backtest_with_and_without_skipping_quiet_candles(tmp_path):
    runs = []
    for enabled in (True, False):
        fastforward.ENABLED = enabled
        try:
            runs.append(run_backtest(config(tmp_path, 3000, threshold=2), "20240101-20240401"))
        finally:
            fastforward.ENABLED = True
    on, off = runs
    assert len(deposits(on)) == 13  # the Mondays of the first quarter of 2024
    assert any(r["kind"] == "rebalance" for r in on.journal)
    assert on.journal == off.journal
    assert on.final_balance == off.final_balance
