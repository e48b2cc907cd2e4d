"""Real Freqtrade backtests on real Binance candles, checked against an independent computation.

The simulation below is written from the price series alone, with its own arithmetic (it does not
call the plan, engine or rules code). It models what the product promises:

- the first buys at the open of the entry candle, ``weight x investment / (1 + fee)`` each,
  quantities rounded down to the exchange step;
- at every later candle, weights measured at that candle's open (cash included); when a coin is
  off by more than the threshold, every coin is brought to target: overweight coins sold at that
  open, the proceeds (net of fee) spent one candle later, at that candle's open, on the
  underweight coins in proportion to what they lacked; fees (0.1%) paid from the portfolio;
- legs under Binance's minimum order value (5 USDT) or quantity, raised by Freqtrade's 5% reserve,
  are skipped;
- at the end Freqtrade sells everything at the open of the last candle.

Tolerances: every order must match in time, coin and side exactly, and in quantity to the
exchange step (a float difference of 1e-12 between the two computations may land on the other
side of a rounding boundary once in a while: at most one step, on at most 2% of the orders).
The final value must match to 0.05% (the quantity of one step of BTC is worth ~0.4 USDT on a
1000 USDT portfolio; drift in the last digits of Freqtrade's exact-decimal arithmetic is far
smaller).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest

from tests.helpers.ftrun import NO_SHARED_DATA, SHARED_DATA, load_opens, make_config, run_backtest

pytestmark = pytest.mark.skipif(not SHARED_DATA.exists(), reason=NO_SHARED_DATA)

FEE = 0.001
RESERVE = 1.05  # Freqtrade checks a position adjustment against the minimums x 1.05
# Binance spot filters as written by hand from the exchange (step, min quantity, min notional).
FILTERS = {
    "BTC": (1e-05, 1e-05, 5.0),
    "ETH": (1e-04, 1e-04, 5.0),
    "BNB": (1e-03, 1e-03, 5.0),
    "SOL": (1e-02, 1e-02, 5.0),
}


def floor_step(qty: float, step: float) -> float:
    n = math.floor(qty / step + 1e-9)
    return round(n * step, 10)


def tradeable(coin: str, qty: float, price: float) -> bool:
    _, min_qty, min_cost = FILTERS[coin]
    return qty > 0 and qty >= min_qty * RESERVE and qty * price >= min_cost * RESERVE


def simulate(
    opens, weights, investment, entry, end, *, threshold=None, interval=None, min_drift=None
):
    """Returns (orders [(time, coin, side, qty)], final value)."""
    coins = list(weights)
    p0 = opens.loc[entry]
    hold, cash = {}, investment
    for c in coins:
        q = floor_step(weights[c] * investment / (1 + FEE) / p0[c], FILTERS[c][0])
        hold[c] = q
        cash -= q * p0[c] * (1 + FEE)
    orders = []

    def buy(wanted, t, p):
        nonlocal cash
        want = sum(wanted.values()) * (1 + FEE)
        scale = min(1.0, cash / want) if want else 1.0
        for c, v in wanted.items():
            q = floor_step(v * scale / p[c], FILTERS[c][0])
            if tradeable(c, q, p[c]):
                hold[c] += q
                cash -= q * p[c] * (1 + FEE)
                orders.append((t, c, "buy", q))

    pending = None  # values to buy, one candle after the sells
    last_check = None
    t = entry + timedelta(hours=1)
    while t <= end:
        p = opens.loc[t]
        if pending is not None:
            buy(pending, t, p)
            pending = None
            t += timedelta(hours=1)
            continue
        if interval is not None:
            k_now = (t - entry) // interval
            k_last = 0 if last_check is None else (last_check - entry) // interval
            if k_now == 0 or k_now <= k_last:
                t += timedelta(hours=1)
                continue
            last_check = t
            limit = min_drift
        else:
            limit = threshold
        values = {c: hold[c] * p[c] for c in coins}
        total = cash + sum(values.values())
        drift = max(abs(values[c] / total - weights[c]) * 100 for c in coins)
        if drift > limit + 1e-9:
            # value after fees: T' = total - fee * sum |w T' - V|  (fixed point)
            after = total
            for _ in range(50):
                after = total - FEE * sum(abs(weights[c] * after - values[c]) for c in coins)
            sells, buys = [], {}
            for c in coins:
                delta = weights[c] * after - values[c]
                if delta < 0:
                    q = min(floor_step(-delta / p[c], FILTERS[c][0]), hold[c])
                    if tradeable(c, q, p[c]):
                        sells.append((c, q))
                elif delta > 0:
                    buys[c] = delta
            if sells:
                for c, q in sells:
                    hold[c] -= q
                    cash += q * p[c] * (1 - FEE)
                    orders.append((t, c, "sell", q))
                pending = buys
            else:
                buy(buys, t, p)
        t += timedelta(hours=1)
    p_end = opens.loc[end]
    final = cash + sum(hold[c] * p_end[c] * (1 - FEE) for c in coins)
    return orders, final


def freqtrade_orders(run):
    out = []
    for _, trade in run.trades.iterrows():
        coin = trade["pair"].split("/")[0]
        for o in trade["orders"]:
            if (o.get("ft_order_tag") or "").startswith("rebalance"):
                when = datetime.fromtimestamp(o["order_filled_timestamp"] / 1000, tz=opens_tz())
                out.append((when, coin, o["ft_order_side"], o["amount"]))
    return sorted(out, key=lambda x: (x[0], x[1]))


def opens_tz():
    from datetime import UTC

    return UTC


def compare(run, weights, investment, **trigger):
    opens = load_opens(list(weights))
    entry = min(run.trades["open_date"]).to_pydatetime()
    end = max(run.trades["close_date"]).to_pydatetime()
    expected, final = simulate(opens, weights, investment, entry, end, **trigger)
    expected = sorted(expected, key=lambda x: (x[0], x[1]))
    got = freqtrade_orders(run)
    assert [(t, c, s) for t, c, s, _ in got] == [(t, c, s) for t, c, s, _ in expected]
    off = [(g, e) for g, e in zip(got, expected) if abs(g[3] - e[3]) > 1e-12]
    assert all(abs(g[3] - e[3]) <= FILTERS[g[1]][0] * 1.0001 for g, e in off), off[:5]
    assert len(off) <= max(1, len(got) // 50), off[:5]
    assert run.final_balance == pytest.approx(final, rel=5e-4)
    return got, final


def test_threshold_rebalancer_matches_independent_computation(tmp_path):
    weights = {"BTC": 0.40, "ETH": 0.30, "BNB": 0.15, "SOL": 0.15}
    cfg = make_config(
        tmp_path, coins={"BTC": 40, "ETH": 30, "BNB": 15, "SOL": 15}, investment=1000, threshold=1
    )
    run = run_backtest(cfg, "20240101-20240701")
    got, final = compare(run, weights, 1000, threshold=1)
    # A half year of real prices at a 1-point threshold rebalances many times; each rebalance
    # sells first and buys one candle later.
    rebalances = [e for e in run.journal if e["kind"] == "rebalance"]
    assert len(rebalances) > 20
    assert {s for _, _, s, _ in got} == {"buy", "sell"}
    print(
        f"\n{len(got)} orders, freqtrade final {run.final_balance:.6f}, independent {final:.6f}, "
        f"difference {run.final_balance - final:+.6f} USDT"
    )


def test_interval_rebalancer_matches_independent_computation(tmp_path):
    weights = {"BTC": 0.60, "ETH": 0.40}
    cfg = make_config(
        tmp_path,
        coins={"BTC": 60, "ETH": 40},
        investment=2000,
        trigger="interval",
        interval="1d",
        interval_min_drift=0.5,
    )
    run = run_backtest(cfg, "20240101-20240401")
    got, final = compare(run, weights, 2000, interval=timedelta(days=1), min_drift=0.5)
    # checks happen only at whole days after the first buy: every sell is at the entry hour
    entry = min(run.trades["open_date"]).to_pydatetime()
    assert got and all(
        (t - entry) % timedelta(days=1) == timedelta(0) for t, _, side, _ in got if side == "sell"
    )
    print(
        f"\n{len(got)} orders, freqtrade final {run.final_balance:.6f}, independent {final:.6f}, "
        f"difference {run.final_balance - final:+.6f} USDT"
    )


def test_decisions_use_no_later_data(tmp_path):
    """Orders up to February are the same whether the backtest's data stops in February or runs
    on to June: nothing decided at a candle depends on a later candle."""
    cfg = make_config(
        tmp_path, coins={"BTC": 40, "ETH": 30, "BNB": 15, "SOL": 15}, investment=1000, threshold=1
    )
    short = freqtrade_orders(run_backtest(cfg, "20240101-20240215"))
    long_ = freqtrade_orders(run_backtest(cfg, "20240101-20240701"))
    cut = datetime(2024, 2, 14, tzinfo=opens_tz())
    before = [o for o in short if o[0] < cut]
    assert len(before) > 20
    assert before == [o for o in long_ if o[0] < cut]
