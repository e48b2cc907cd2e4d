"""When a backtest's buys fill after the sells (issue 12, item 1): in the same candle for the coins
Freqtrade visits after the last coin sold, otherwise at the next candle of
``--timeframe-detail`` (5 minutes later), or of the timeframe without it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers.ftrun import NO_SHARED_DATA, SHARED_DATA, make_config, run_backtest

pytestmark = pytest.mark.skipif(not SHARED_DATA.exists(), reason=NO_SHARED_DATA)

COINS = {"BTC": 40, "ETH": 30, "BNB": 15, "SOL": 15}
ORDER = list(COINS)  # the pairs' order in each candle: the order the trades opened


def rebalances(run) -> list[tuple[datetime, list[tuple[datetime, str, str]]]]:
    """Each rebalance that sold something (the journal's events), with the orders from its
    sells up to the next rebalance: (time of the sells, [(time, coin, side)])."""
    orders = []
    for _, trade in run.trades.iterrows():
        coin = trade["pair"].split("/")[0]
        for o in trade["orders"]:
            if (o.get("ft_order_tag") or "").startswith("rebalance"):
                when = datetime.fromtimestamp(o["order_filled_timestamp"] / 1000, tz=UTC)
                orders.append((when, coin, o["ft_order_side"]))
    starts = [
        datetime.fromtimestamp(e["ts"], tz=UTC) for e in run.journal if e["kind"] == "rebalance"
    ]
    out = []
    for i, start in enumerate(starts):
        stop = starts[i + 1] if i + 1 < len(starts) else datetime.max.replace(tzinfo=UTC)
        mine = sorted(o for o in orders if start <= o[0] < stop)
        if any(side == "sell" and when == start for when, _, side in mine):
            out.append((start, mine))
    return out


def test_buys_after_the_last_coin_sold_fill_in_the_same_candle(tmp_path):
    cfg = make_config(tmp_path, coins=COINS, investment=1000, threshold=1)
    run = run_backtest(cfg, "20240101-20240401")
    same = later = 0
    for start, orders in rebalances(run):
        sold = [ORDER.index(c) for w, c, s in orders if s == "sell" and w == start]
        if not sold:
            continue
        for when, coin, side in orders:
            if side != "buy":
                continue
            if ORDER.index(coin) > max(sold) and max(sold) < len(ORDER) - 1:
                assert when == start, (start, coin, when)  # the same candle as the sells
                same += 1
            else:
                assert when == start + timedelta(hours=1), (start, coin, when)
                later += 1
    assert same > 10 and later > 10  # both happen in a quarter at a 1-point threshold


def test_with_timeframe_detail_every_buy_fills_within_five_minutes_of_the_sells(tmp_path):
    cfg = make_config(tmp_path, coins=COINS, investment=1000, threshold=1)
    run = run_backtest(cfg, "20250101-20250301", extra={"timeframe_detail": "5m"})
    lags = []
    for start, orders in rebalances(run):
        if not any(s == "sell" for _, _, s in orders):
            continue
        lags += [when - start for when, _, side in orders if side == "buy"]
    assert len(lags) > 20
    assert max(lags) <= timedelta(minutes=5), max(lags)
    assert min(lags) == timedelta(0)
