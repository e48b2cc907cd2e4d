"""The order desk (rebalance_plugin/ft/orders.py, docs/how-it-works.md#orders) and its in-flight
recovery (ft/recovery.py): a rebalance's legs handed to Freqtrade as stakes, limit IOC orders
live, and what they leave unfilled sent once more at market.

Markets: BTC steps by 0.00001, ETH by 0.0001, both with a 5 USDT exchange minimum, which
Freqtrade raises to 5 x 1.5 = 7.5 for a first buy and keeps 7.5 x 1.05 = 7.875 on a partial exit.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from rebalance_plugin.core.inflight import InFlight
from rebalance_plugin.core.plan import Leg
from tests.unit.ft_fakes import T0, FakeTrade, Glue, make_glue

PRICES = {"BTC/USDT": 50000.0, "ETH/USDT": 2000.0}
LIMIT_IOC = ("limit", "limit", {"entry": "IOC", "exit": "IOC"})
MARKET_GTC = ("market", "market", {"entry": "GTC", "exit": "GTC"})


def btc(amount: float = 0.01, **kw: Any) -> FakeTrade:
    """0.01 BTC bought for 500 USDT."""
    return FakeTrade("BTC/USDT", amount=amount, stake_amount=kw.pop("stake_amount", 500.0), **kw)


def eth(amount: float = 0.2, **kw: Any) -> FakeTrade:
    """0.2 ETH bought for 400 USDT."""
    return FakeTrade("ETH/USDT", amount=amount, stake_amount=400.0, id=2, **kw)


def order_kind(glue: Glue) -> tuple[str, str, dict[str, str]]:
    types = glue.strategy.order_types
    return types["entry"], types["exit"], glue.strategy.order_time_in_force


def fields(order: InFlight) -> tuple[str, float, float, bool]:
    return order.side, order.qty, order.before, order.market


def live(mocker: Any, **kw: Any) -> Glue:
    glue = make_glue(mocker, prices=PRICES, **kw)
    glue.start()
    glue.desk.new_loop()
    return glue


# ---- place ---------------------------------------------------------------------------------------
def test_place_records_each_leg_in_flight_and_saves_before_the_orders_go(mocker):
    glue = live(mocker)
    trades = {"BTC": btc(), "ETH": eth()}
    sell = Leg("BTC", "sell", 0.002, 50000.0)
    buy = Leg("ETH", "buy", 0.05, 2000.0)
    before = time.time()

    glue.desk.place({"BTC": sell, "ETH": buy}, trades, market=False)

    after = time.time()
    assert glue.desk.orders == {"BTC/USDT": sell, "ETH/USDT": buy}
    assert glue.desk.market == set()
    inflight = glue.book.inflight
    assert set(inflight) == {"BTC", "ETH"}
    # side, quantity asked, the trade's amount before the order, limit (not market)
    assert fields(inflight["BTC"]) == ("sell", 0.002, 0.01, False)
    assert fields(inflight["ETH"]) == ("buy", 0.05, 0.2, False)
    assert before <= inflight["BTC"].sent <= after
    # Saved once, with both orders: a restart right after knows they may exist.
    assert glue.saves() == 1
    assert glue.saved().inflight == inflight


def test_a_buy_for_a_coin_without_a_trade_becomes_a_first_entry(mocker):
    glue = live(mocker)
    glue.desk.place({"SOL": Leg("SOL", "buy", 0.5, 100.0)}, {"BTC": btc()}, market=False)

    assert glue.desk.orders == {}  # no trade to adjust: the entry signal buys it
    assert glue.book.entries == {"SOL": 50.0}  # 0.5 x 100
    assert glue.book.inflight == {}


def test_a_backtest_keeps_no_order_in_flight_and_saves_nothing(mocker):
    glue = make_glue(mocker, prices=PRICES, backtest=True)
    glue.desk.new_loop()
    glue.desk.place({"BTC": Leg("BTC", "sell", 0.002, 50000.0)}, {"BTC": btc()}, market=False)

    assert glue.turns.wanted("BTC/USDT")
    assert glue.book.inflight == {}
    glue.kv.store_value.assert_not_called()


# ---- stake_for -----------------------------------------------------------------------------------
def test_a_partial_sell_is_freqtrades_cost_basis_stake_with_half_a_step_of_margin(mocker):
    glue = live(mocker)
    trade = btc()
    glue.desk.place({"BTC": Leg("BTC", "sell", 0.002, 50000.0)}, {"BTC": trade}, market=False)

    stake, tag = glue.desk.stake_for(trade, 50000.0)

    # Left after the sell: 0.008 x 50000 = 400 >= 7.875, a partial exit.
    # -(0.002 + 0.00001 / 2) x 500 / 0.01 = -0.002005 x 50000 = -100.25; Freqtrade sells
    # 100.25 x 0.01 / 500 = 0.002005, truncated to the step: 0.00200 BTC.
    assert stake == pytest.approx(-100.25)
    assert tag == "rebalance sell"
    assert glue.desk.stake_for(trade, 50000.0) is None  # handed over once


@pytest.mark.parametrize(
    ("qty", "expected"),
    [
        # Left: (0.01 - 0.0099) x 50000 = 5 USDT < 7.875: the whole position (-500).
        (0.0099, -500.0),
        # Left: (0.01 - 0.00984) x 50000 = 8 USDT >= 7.875: a partial exit,
        # -(0.00984 + 0.000005) x 500 / 0.01 = -0.009845 x 50000 = -492.25.
        (0.00984, -492.25),
        # More than held: the whole position.
        (0.02, -500.0),
    ],
)
def test_a_sell_leaving_less_than_freqtrades_minimum_sells_the_whole_position(
    mocker, qty, expected
):
    glue = live(mocker)
    trade = btc()
    glue.desk.place({"BTC": Leg("BTC", "sell", qty, 50000.0)}, {"BTC": trade}, market=False)

    stake, tag = glue.desk.stake_for(trade, 50000.0)

    assert stake == pytest.approx(expected)
    assert tag == "rebalance sell"


def test_a_buy_is_its_quantity_and_half_a_step_at_the_rate(mocker):
    glue = live(mocker)
    trade = eth()
    glue.desk.place({"ETH": Leg("ETH", "buy", 0.05, 2000.0)}, {"ETH": trade}, market=False)

    # (0.05 + 0.0001 / 2) x 2010 = 0.05005 x 2010 = 100.6005: Freqtrade buys
    # floor(100.6005 / 2010) to the step = 0.0500 ETH.
    assert glue.desk.stake_for(trade, 2010.0) == (pytest.approx(100.6005), "rebalance buy")


def test_no_leg_no_stake(mocker):
    glue = live(mocker)
    assert glue.desk.stake_for(btc(), 50000.0) is None


def test_live_orders_are_limit_ioc_and_a_market_leg_switches_to_market_gtc(mocker):
    glue = live(mocker)
    assert order_kind(glue) == LIMIT_IOC  # new_loop
    assert glue.strategy.order_types["stoploss"] == "market"  # the user's other types are kept
    trades = {"BTC": btc(), "ETH": eth()}
    glue.desk.place({"BTC": Leg("BTC", "sell", 0.002, 50000.0)}, trades, market=True)
    glue.desk.place({"ETH": Leg("ETH", "buy", 0.05, 2000.0)}, trades, market=False)

    glue.desk.stake_for(trades["BTC"], 50000.0)
    assert order_kind(glue) == MARKET_GTC
    assert glue.book.inflight["BTC"].market is True

    glue.desk.stake_for(trades["ETH"], 2000.0)  # the next order goes back to limit IOC
    assert order_kind(glue) == LIMIT_IOC


def test_on_an_exchange_without_ioc_orders_are_limit_gtc_and_the_rest_goes_at_market(mocker):
    # OKX: Freqtrade 2026.9 accepts only GTC there (okx.py's _ft_has has no order_time_in_force,
    # so the generic ["GTC"] applies) and refuses IOC at start-up.
    glue = live(mocker, exchange="okx")
    assert order_kind(glue) == ("limit", "limit", {"entry": "GTC", "exit": "GTC"})
    assert "cancelled after 30 seconds (unfilledtimeout)" in glue.desk.style.describe(
        glue.ctx.config
    )
    # Freqtrade cancelled the resting order after 30 s with 0.002 of 0.005 BTC sold.
    in_flight(glue, BTC=InFlight("sell", 0.005, 0.01, False, T0))
    trade = btc(0.008)
    assert glue.recovery.follow({"BTC": trade}) is True
    assert glue.desk.orders == {"BTC/USDT": Leg("BTC", "sell", 0.003, 50000.0)}
    glue.desk.stake_for(trade, 50000.0)
    assert order_kind(glue) == MARKET_GTC


# ---- follow (recovery.py) ------------------------------------------------------------------------
def in_flight(glue: Glue, **orders: InFlight) -> None:
    glue.store.update(inflight=orders)


def test_an_ioc_sell_filled_40_percent_sends_the_rest_at_market(mocker, caplog):
    glue = live(mocker)
    # Asked 0.005 BTC from 0.01; the IOC filled 0.002 (40%): the trade holds 0.008.
    in_flight(glue, BTC=InFlight("sell", 0.005, 0.01, False, T0))
    trade = btc(0.008)
    caplog.set_level(logging.INFO, "rebalance_plugin.ft")

    assert glue.recovery.follow({"BTC": trade}) is True

    # The rest: 0.005 - 0.002 = 0.003 BTC (a whole number of 0.00001 steps), at market.
    assert glue.desk.orders == {"BTC/USDT": Leg("BTC", "sell", 0.003, 50000.0)}
    assert glue.desk.market == {"BTC/USDT"}
    assert fields(glue.book.inflight["BTC"]) == ("sell", 0.003, 0.008, True)
    assert glue.saved().inflight["BTC"].market is True
    assert "BTC: 0.002 of 0.005 filled by the limit order; the remaining 0.003 goes at market" in (
        caplog.messages
    )
    # Handed to Freqtrade at market: -(0.003 + 0.000005) x 500 / 0.008 = -187.8125.
    stake, _ = glue.desk.stake_for(trade, 50000.0)
    assert stake == pytest.approx(-187.8125)
    assert order_kind(glue) == MARKET_GTC


def test_the_rest_of_a_partly_filled_buy_is_floored_to_the_step(mocker):
    glue = live(mocker)
    # Asked 0.05 ETH on 0.2; 40% filled, less the 0.1% fee taken in ETH: 0.02 x 0.999 = 0.01998.
    in_flight(glue, ETH=InFlight("buy", 0.05, 0.2, False, T0))

    assert glue.recovery.follow({"ETH": eth(0.21998)}) is True

    # 0.05 - 0.01998 = 0.03002, floored to the 0.0001 step: 0.0300 ETH.
    assert glue.desk.orders == {"ETH/USDT": Leg("ETH", "buy", 0.03, 2000.0)}


def test_a_fully_filled_order_leaves_flight_and_nothing_is_sent(mocker):
    glue = live(mocker)
    in_flight(glue, BTC=InFlight("sell", 0.002, 0.01, False, T0))

    assert glue.recovery.follow({"BTC": btc(0.008)}) is False  # 0.01 - 0.008 = 0.002

    assert glue.desk.orders == {}
    assert glue.book.inflight == {}
    assert glue.saved().inflight == {}


def test_an_order_still_open_is_waited_for(mocker):
    glue = live(mocker)
    order = InFlight("sell", 0.005, 0.01, False, T0)
    in_flight(glue, BTC=order)

    assert glue.recovery.follow({"BTC": btc(0.01, has_open_orders=True)}) is True

    assert glue.desk.orders == {}
    assert glue.book.inflight == {"BTC": order}


def test_the_unfilled_rest_of_a_market_order_is_not_sent_again(mocker):
    glue = live(mocker)
    in_flight(glue, BTC=InFlight("sell", 0.005, 0.01, True, T0))

    assert glue.recovery.follow({"BTC": btc(0.008)}) is False  # 0.003 unfilled

    assert glue.desk.orders == {}
    assert glue.book.inflight == {}


def test_a_first_buy_cancelled_unfilled_in_this_loop_goes_at_market(mocker, caplog):
    """A GTC first buy that Freqtrade cancels after unfilledtimeout: the cancel and the next
    try happen in the same loop (manage_open_orders, then enter_positions), after the loop's
    follow() ran; Freqtrade asks the entry signal of a pair only without an open trade, so
    a first buy still in flight there filled nothing: this try goes at market."""
    glue = live(mocker, exchange="okx")
    glue.recovery.remember_entry("BTC/USDT", 0.01)
    glue.desk.new_loop()
    assert glue.recovery.follow({"BTC": btc(0.0, has_open_orders=True)}) is True  # resting
    with caplog.at_level(logging.INFO, logger="rebalance_plugin.ft"):
        glue.recovery.entry_kind("BTC/USDT")  # cancelled, trade deleted, asked again
    assert order_kind(glue) == MARKET_GTC
    assert "BTC: the first buy's limit order (0.01) filled nothing" in caplog.text
    assert "BTC" not in glue.book.inflight
    glue.recovery.remember_entry("BTC/USDT", 0.01)
    assert fields(glue.book.inflight["BTC"]) == ("buy", 0.01, 0.0, True)


def test_a_first_buy_whose_limit_order_filled_nothing_goes_at_market_next(mocker, caplog):
    """Freqtrade opens no trade for a first buy whose limit IOC filled nothing (the ask moved
    before it reached the exchange); the next try of that buy goes at market, once it fills
    the coin's entries are limit IOC again."""
    glue = live(mocker)
    glue.recovery.remember_entry("BTC/USDT", 0.01)
    assert fields(glue.book.inflight["BTC"]) == ("buy", 0.01, 0.0, False)

    glue.desk.new_loop()
    with caplog.at_level(logging.INFO, logger="rebalance_plugin.ft"):
        glue.recovery.follow({})  # no BTC trade: the limit order filled nothing
    assert "BTC: the first buy's limit order (0.01) filled nothing" in caplog.text

    glue.recovery.entry_kind("ETH/USDT")  # another coin's first buy: limit IOC as always
    assert order_kind(glue) == LIMIT_IOC
    glue.recovery.entry_kind("BTC/USDT")  # Freqtrade asks BTC's signal right before its order
    assert order_kind(glue) == MARKET_GTC
    glue.recovery.remember_entry("BTC/USDT", 0.01)
    assert fields(glue.book.inflight["BTC"]) == ("buy", 0.01, 0.0, True)

    glue.desk.new_loop()
    glue.recovery.follow({})  # the market order failed too (an exchange error)
    glue.recovery.entry_kind("BTC/USDT")
    assert order_kind(glue) == MARKET_GTC  # still at market, not back to a limit
    glue.recovery.remember_entry("BTC/USDT", 0.01)

    glue.desk.new_loop()
    glue.recovery.follow({"BTC": btc(0.01)})  # filled: a later entry is a limit again
    assert glue.book.inflight == {}
    glue.recovery.entry_kind("BTC/USDT")
    assert order_kind(glue) == LIMIT_IOC


def test_an_unbooked_fill_found_at_the_exchange_is_booked_not_sent_again(mocker):
    glue = live(mocker, dry_run=False)
    in_flight(glue, BTC=InFlight("sell", 0.005, 0.01, False, T0 + 60))
    trade = btc(0.01)  # nothing booked on the trade
    bot = SimpleNamespace(state=None)
    mocker.patch("rebalance_plugin.ft.privates.freqtrade_bot", return_value=bot)
    lookup = mocker.patch(
        "rebalance_plugin.ft.privates.exchange_orders",
        return_value=[
            {"id": "8811", "side": "sell", "amount": 0.005, "filled": 0.0},  # expired IOC
            {"id": "8812", "side": "sell", "amount": 0.005, "filled": 0.005},
        ],
    )

    def freqtrade_books_it(bot: Any, trade: FakeTrade) -> None:
        trade.amount = 0.005  # handle_onexchange_order books the fill on the trade

    book = mocker.patch(
        "rebalance_plugin.ft.privates.book_exchange_order", side_effect=freqtrade_books_it
    )

    assert glue.recovery.follow({"BTC": trade}) is False

    # Looked up from 5 s before the order was sent.
    lookup.assert_called_once_with(bot, "BTC/USDT", datetime.fromtimestamp(T0 + 55, UTC))
    book.assert_called_once_with(bot, trade)
    assert glue.desk.orders == {}
    assert glue.book.inflight == {}
    assert glue.said == [
        "BTC/USDT: the exchange executed order 8812 but it was not booked (no answer, or a "
        "restart); booking it instead of sending it again"
    ]


def test_an_unfilled_order_the_exchange_never_filled_is_sent_at_market(mocker):
    glue = live(mocker, dry_run=False)
    in_flight(glue, BTC=InFlight("sell", 0.005, 0.01, False, T0))
    mocker.patch("rebalance_plugin.ft.privates.freqtrade_bot", return_value=SimpleNamespace())
    # Another size (another bot's order on the same account) is not ours.
    mocker.patch(
        "rebalance_plugin.ft.privates.exchange_orders",
        return_value=[{"id": "9", "side": "sell", "amount": 0.5, "filled": 0.5}],
    )
    book = mocker.patch("rebalance_plugin.ft.privates.book_exchange_order")

    assert glue.recovery.follow({"BTC": btc(0.01)}) is True

    book.assert_not_called()
    assert glue.desk.orders == {"BTC/USDT": Leg("BTC", "sell", 0.005, 50000.0)}
    assert glue.desk.market == {"BTC/USDT"}


def booked_sell(order_id: str, placed: float, filled: float = 0.0) -> SimpleNamespace:
    """A closed sell order Freqtrade booked on the trade (the fields the desk reads)."""
    return SimpleNamespace(
        ft_order_side="sell",
        order_id=order_id,
        ft_is_open=False,
        filled=filled,
        order_date_utc=datetime.fromtimestamp(placed, UTC),
    )


def test_an_expired_ioc_freqtrade_booked_is_sent_at_market_without_asking_the_exchange(mocker):
    # Twenty bots on one account: another bot's BTC sell of about the same size filled at the
    # exchange. This bot's IOC expired unfilled, and Freqtrade booked it (an exchange id, closed):
    # its fill (none) is known, so the exchange's order list is not read (20 weight) and the
    # other bot's order is not taken for ours.
    glue = live(mocker, dry_run=False)
    in_flight(glue, BTC=InFlight("sell", 0.005, 0.01, False, T0))
    expired = booked_sell("8811", T0 + 0.4)
    mocker.patch("rebalance_plugin.ft.privates.freqtrade_bot", return_value=SimpleNamespace())
    lookup = mocker.patch(
        "rebalance_plugin.ft.privates.exchange_orders",
        return_value=[{"id": "9", "side": "sell", "amount": 0.00501, "filled": 0.00501}],
    )

    assert glue.recovery.follow({"BTC": btc(0.01, orders=[expired])}) is True

    lookup.assert_not_called()
    assert glue.said == []
    assert glue.desk.orders == {"BTC/USDT": Leg("BTC", "sell", 0.005, 50000.0)}
    assert glue.desk.market == {"BTC/USDT"}


def test_an_order_booked_filled_but_not_applied_to_the_trade_is_looked_up_not_sent_again(mocker):
    # Killed after Freqtrade stored the sell (closed, filled) but before it applied the fill to
    # the trade: the trade still holds 0.01 BTC. Not an expired IOC: the exchange is asked, the
    # fill found and booked by Freqtrade's recovery, and nothing is sold twice.
    glue = live(mocker, dry_run=False)
    in_flight(glue, BTC=InFlight("sell", 0.005, 0.01, False, T0))
    stored = booked_sell("8812", T0 + 0.4, filled=0.005)
    bot = SimpleNamespace(state=None)
    mocker.patch("rebalance_plugin.ft.privates.freqtrade_bot", return_value=bot)
    lookup = mocker.patch(
        "rebalance_plugin.ft.privates.exchange_orders",
        return_value=[{"id": "8812", "side": "sell", "amount": 0.005, "filled": 0.005}],
    )
    trade = btc(0.01, orders=[stored])

    def freqtrade_books_it(bot: Any, trade: FakeTrade) -> None:
        trade.amount = 0.005

    book = mocker.patch(
        "rebalance_plugin.ft.privates.book_exchange_order", side_effect=freqtrade_books_it
    )

    assert glue.recovery.follow({"BTC": trade}) is False

    lookup.assert_called_once()
    book.assert_called_once_with(bot, trade)
    assert glue.desk.orders == {}


def test_an_order_booked_before_the_leg_was_sent_does_not_count(mocker):
    # The trade's earlier sell (a rebalance a day ago) says nothing of this leg: ask the exchange.
    glue = live(mocker, dry_run=False)
    in_flight(glue, BTC=InFlight("sell", 0.005, 0.01, False, T0))
    earlier = booked_sell("100", T0 - 86400)
    mocker.patch("rebalance_plugin.ft.privates.freqtrade_bot", return_value=SimpleNamespace())
    lookup = mocker.patch("rebalance_plugin.ft.privates.exchange_orders", return_value=[])

    assert glue.recovery.follow({"BTC": btc(0.01, orders=[earlier])}) is True

    lookup.assert_called_once()
    assert glue.desk.orders == {"BTC/USDT": Leg("BTC", "sell", 0.005, 50000.0)}


def test_dry_run_does_not_ask_the_exchange(mocker):
    glue = live(mocker, dry_run=True)
    in_flight(glue, BTC=InFlight("sell", 0.005, 0.01, False, T0))
    mocker.patch("rebalance_plugin.ft.privates.freqtrade_bot", return_value=SimpleNamespace())
    lookup = mocker.patch("rebalance_plugin.ft.privates.exchange_orders")

    assert glue.recovery.follow({"BTC": btc(0.01)}) is True

    lookup.assert_not_called()
    assert glue.desk.orders == {"BTC/USDT": Leg("BTC", "sell", 0.005, 50000.0)}


STRANGERS = "BTC/USDT: the exchange executed order 8812 but it is not booked on the trade, \
beside orders of another bot; not sending it again. Check the trade against the exchange"


@pytest.mark.parametrize(
    ("lookup", "said"),
    [
        # The exchange cannot be asked: the sell may have executed; only logged.
        ({"side_effect": TimeoutError("timed out")}, []),
        # Ours executed beside another bot's order: booking is left to the user.
        (
            {
                "return_value": [
                    {"id": "8812", "side": "sell", "amount": 0.005, "filled": 0.005},
                    {"id": "7001", "side": "buy", "amount": 0.3, "filled": 0.3},
                ]
            },
            [STRANGERS],
        ),
    ],
    ids=["lookup-fails", "beside-another-bot"],
)
def test_when_the_exchange_order_cannot_be_booked_nothing_is_sent_again(mocker, lookup, said):
    glue = live(mocker, dry_run=False)
    in_flight(glue, BTC=InFlight("sell", 0.005, 0.01, False, T0))
    mocker.patch("rebalance_plugin.ft.privates.freqtrade_bot", return_value=SimpleNamespace())
    mocker.patch("rebalance_plugin.ft.privates.exchange_orders", **lookup)
    book = mocker.patch("rebalance_plugin.ft.privates.book_exchange_order")

    glue.recovery.follow({"BTC": btc(0.01)})

    book.assert_not_called()
    assert glue.said == said
    assert glue.desk.orders == {}  # the 0.005 BTC sell may have executed: not risked twice


def test_live_buys_spend_at_most_the_portfolios_cash_fee_included(mocker):
    """The plan values buys at the last price; Freqtrade buys at the ask. On an exchange that
    takes its fee in USDT (Kraken) the last buy would ask for more than the sells freed. The
    desk caps each buy at the cash left / (1 + fee): 100 USDT of cash, fee 0.1%."""
    glue = live(mocker)
    trades = {"BTC": btc(), "ETH": eth()}
    glue.desk.budget = 100.0
    glue.desk.place(
        {"BTC": Leg("BTC", "buy", 0.001, 50000.0), "ETH": Leg("ETH", "buy", 0.0249, 2000.0)},
        trades,
        market=False,
    )
    # BTC at the ask 50050: (0.001 + 0.000005) x 50050 = 50.30025, within 100 / 1.001.
    stake, _ = glue.desk.stake_for(trades["BTC"], 50050.0)
    assert stake == pytest.approx(50.30025)
    # Left: 100 - 50.30025 x 1.001 = 49.64945; ETH wants (0.0249 + 0.00005) x 2002 = 49.9499,
    # more than 49.64945 / 1.001 = 49.599850...: capped there.
    stake, _ = glue.desk.stake_for(trades["ETH"], 2002.0)
    assert stake == pytest.approx((100 - 50.30025 * 1.001) / 1.001)
    assert glue.desk.budget == pytest.approx(0.0, abs=1e-9)


def test_a_backtests_buys_are_not_capped(mocker):
    glue = make_glue(mocker, prices=PRICES, backtest=True)
    glue.start()
    glue.desk.budget = 10.0
    assert glue.desk._within_budget(50.0) == 50.0
