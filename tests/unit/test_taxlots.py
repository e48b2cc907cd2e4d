"""Lot matching (rebalance_plugin/core/taxlots.py), worked by hand.

The example of docs/taxes.md#worked-example, fee 0.1% on every order, in USDT:

    2023-01-01  buy  1   BTC at 100   fee 0.10   lot A costs 100.10 (100.10 per BTC)
    2023-03-01  buy  1   BTC at 140   fee 0.14   lot B costs 140.14 (140.14 per BTC)
    2023-06-01  sell 1.5 BTC at 160   fee 0.24   proceeds 240 - 0.24 = 239.76
    2024-02-01  sell 0.5 BTC at  92   fee 0.046  proceeds  46 - 0.046 = 45.954

FIFO: the first sale takes A and half of B: 100.10 + 70.07 = 170.17, gain 69.59; the second the
other half of B: 70.07, gain -24.116.
HIFO: B first (140.14 > 100.10 per BTC): 140.14 + 50.05 = 190.19, gain 49.57; then half of A:
50.05, gain -4.096.
Average: the pool holds 2 BTC for 240.24, 120.12 each: 1.5 BTC cost 180.18, gain 59.58; the
0.5 left cost 60.06, gain -14.106.
Every method: the two sales bring 285.714 for the 240.24 paid, 45.474 in all.

Holding days (A 2023-01-01, B 2023-03-01; 2023-06-01 is day 151 of 2023, and 2024-02-01 is
396 days after 2023-01-01 and 337 after 2023-03-01): FIFO (1 × 151 + 0.5 × 92) / 1.5 = 131.33
then 337; HIFO (1 × 92 + 0.5 × 151) / 1.5 = 111.67 then 396; average: the pool's mean
purchase time is 2023-01-30 12:00 (29.5 days after A), 121.5 then 366.5 days.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rebalance_plugin.core import taxlots
from rebalance_plugin.core.taxlots import Fill


def at(day: str, hour: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def fill(day: str, side: str, qty: float, price: float, coin: str = "BTC", rate=0.001, **kw):
    return Fill(at(day), coin, side, qty, price, qty * price * rate, **kw)


EXAMPLE = [
    fill("2023-01-01", "buy", 1, 100),
    fill("2023-03-01", "buy", 1, 140),
    fill("2023-06-01", "sell", 1.5, 160),
    fill("2024-02-01", "sell", 0.5, 92),
]

BY_HAND = {
    # method: [(cost basis, gain, holding days) of each sale]
    "fifo": [(170.17, 69.59, 131 + 1 / 3), (70.07, -24.116, 337.0)],
    "hifo": [(190.19, 49.57, 111 + 2 / 3), (50.05, -4.096, 396.0)],
    "average": [(180.18, 59.58, 121.5), (60.06, -14.106, 366.5)],
}


@pytest.mark.parametrize("method", taxlots.METHODS)
def test_the_readme_example_by_hand(method):
    sales = taxlots.match(EXAMPLE, method)
    assert [s.time for s in sales] == [at("2023-06-01"), at("2024-02-01")]
    assert [s.proceeds for s in sales] == pytest.approx([239.76, 45.954])
    assert [s.fee for s in sales] == pytest.approx([0.24, 0.046])
    for sale, (basis, gain, days) in zip(sales, BY_HAND[method], strict=True):
        assert sale.cost_basis == pytest.approx(basis, abs=1e-9)
        assert sale.gain == pytest.approx(gain, abs=1e-9)
        assert sale.holding_days == pytest.approx(days, abs=1e-9)
        assert sale.method == method
    assert taxlots.total(sales).gain == pytest.approx(45.474, abs=1e-9)
    years = taxlots.by_year(sales)
    assert list(years) == [2023, 2024]
    assert years[2023].gain == pytest.approx(BY_HAND[method][0][1], abs=1e-9)
    assert years[2024].sales == 1


def test_fifo_records_which_lots_a_sale_took():
    first, second = taxlots.match(EXAMPLE, "fifo")
    assert [(u.acquired, u.quantity) for u in first.lots] == [
        (at("2023-01-01"), 1.0),
        (at("2023-03-01"), 0.5),
    ]
    assert [u.cost for u in first.lots] == pytest.approx([100.10, 70.07])
    assert [(u.acquired, u.quantity) for u in second.lots] == [(at("2023-03-01"), 0.5)]


def test_lots_are_per_coin_across_trades():
    # ETH bought at 10 and 20 around a BTC sale; the ETH sale takes only ETH lots (FIFO: the
    # 2 at 10.01 each), and a later ETH buy does not enter an earlier sale.
    fills = [
        fill("2023-01-01", "buy", 1, 100),
        fill("2023-01-02", "buy", 2, 10, coin="ETH"),
        fill("2023-01-03", "sell", 1, 110),
        fill("2023-01-04", "buy", 2, 20, coin="ETH"),
        fill("2023-01-05", "sell", 2, 30, coin="ETH"),
    ]
    btc, eth = taxlots.match(fills)
    assert (btc.coin, btc.cost_basis, btc.gain) == (
        "BTC",
        pytest.approx(100.1),
        pytest.approx(9.79),
    )
    # ETH: proceeds 60 - 0.06 = 59.94, basis 2 x 10.01 = 20.02
    assert (eth.coin, eth.cost_basis, eth.gain) == (
        "ETH",
        pytest.approx(20.02),
        pytest.approx(39.92),
    )
    assert list(taxlots.by_coin([btc, eth])) == ["BTC", "ETH"]


def test_hifo_takes_the_oldest_of_equal_costs():
    fills = [
        fill("2023-01-01", "buy", 1, 50),
        fill("2023-01-02", "buy", 1, 50),
        fill("2023-01-03", "sell", 1, 60),
    ]
    (sale,) = taxlots.match(fills, "hifo")
    assert sale.lots[0].acquired == at("2023-01-01")


def test_a_whole_position_sold_with_float_dust_closes_the_lots():
    # 0.1 + 0.2 is 0.30000000000000004: the sale of 0.3 takes both lots whole, and a later sale
    # of the dust left is not an error.
    fills = [
        fill("2023-01-01", "buy", 0.1, 100),
        fill("2023-01-02", "buy", 0.2, 100),
        fill("2023-01-03", "sell", 0.30000000000000004, 100),
    ]
    for method in taxlots.METHODS:
        (sale,) = taxlots.match(fills, method)
        assert sale.cost_basis == pytest.approx(30.03, abs=1e-12), method


def test_selling_more_than_was_bought_is_refused_with_the_coin_and_the_fix():
    fills = [fill("2023-01-01", "buy", 1, 100), fill("2023-01-02", "sell", 1.5, 100)]
    with pytest.raises(ValueError) as err:
        taxlots.match(fills)
    assert str(err.value) == (
        "BTC: the sale of 1.5 on 2023-01-02 00:00:00 UTC is more than the 1 bought before it: "
        "the history is incomplete (give the whole backtest result or the bot's whole "
        "database, from its first buy)"
    )


def test_fills_at_the_same_time_keep_their_order():
    # A buy and a sale recorded at the same second: the buy, given first, is sold.
    fills = [fill("2023-01-01", "buy", 1, 100), fill("2023-01-01", "sell", 1, 101)]
    (sale,) = taxlots.match(fills)
    assert sale.holding_days == 0.0
    assert sale.gain == pytest.approx(101 - 0.101 - 100.1)


def test_final_sales_can_be_left_out_of_the_realised_gain():
    fills = [*EXAMPLE[:3], fill("2024-02-01", "sell", 0.5, 92, final=True)]
    assert taxlots.realised_gain(fills) == pytest.approx(45.474)
    assert taxlots.realised_gain(fills, include_final=False) == pytest.approx(69.59)


def test_bad_fills_and_methods_are_refused():
    with pytest.raises(
        ValueError, match="unknown method 'lifo': choose one of fifo, hifo, average"
    ):
        taxlots.match(EXAMPLE, "lifo")
    with pytest.raises(ValueError, match="side is 'buy' or 'sell', not 'hold'"):
        fill("2023-01-01", "hold", 1, 100)
    with pytest.raises(ValueError, match="quantity and price must be > 0"):
        fill("2023-01-01", "buy", 0, 100)
