"""The portfolio's record (book.py) and its start/stop conditions (guards.py): pure core."""

from __future__ import annotations

import json

import pytest

from rebalance_plugin.core.book import Book
from rebalance_plugin.core.config import Level, parse_rebalance_config
from rebalance_plugin.core.engine import State
from rebalance_plugin.core.funds import classify_change, fund_limits
from rebalance_plugin.core.guards import stop_reason, trigger_reached
from rebalance_plugin.core.inflight import InFlight

BASE = {"coins": {"BTC": 40, "ETH": 30, "BNB": 15, "SOL": 15}, "investment": 1000}


def cfg(**changes):
    return parse_rebalance_config({**BASE, **changes})


def test_book_round_trips_through_json_with_a_half_done_rebalance():
    book = Book.fresh(cfg())
    book = Book(
        coins=book.coins,
        investment=1000.0,
        funded=950.0,
        started=1.7e9,
        triggered=True,
        stopped=None,
        entries={"XRP": 50.0},
        inflight={
            "BTC": InFlight("sell", 0.001, 0.004, False, 1.7e9 + 60),
            "XRP": InFlight("buy", 120.0, 0.0, False),
        },
        engine=State(phase="selling", pending_buys={"ETH": 40.0}, rebalances=2),
    )
    assert Book.from_dict(json.loads(json.dumps(book.to_dict()))) == book


def test_fresh_book_waits_only_when_a_trigger_price_is_set():
    assert Book.fresh(cfg()).triggered is True
    assert Book.fresh(cfg(trigger_price=60000)).triggered is False
    assert Book.fresh(cfg()).funded == 1000.0


def test_config_edits_are_classified():
    book = Book.fresh(cfg())
    assert classify_change(book, cfg()) == ("none", 0.0)
    assert classify_change(book, cfg(investment=1500)) == ("add", 500.0)
    assert classify_change(book, cfg(investment=800)) == ("remove", 200.0)
    new = {"BTC": 50, "ETH": 50}
    assert classify_change(book, cfg(coins=new)) == ("coins", 0.0)
    assert classify_change(book, cfg(coins=new, investment=1200)) == ("coins", 200.0)
    assert classify_change(book, cfg(coins=new, investment=900))[0] == "refused"


def test_the_book_runs_on_the_applied_allocation_until_a_change_is_accepted():
    book = Book.fresh(cfg())
    edited = cfg(coins={"BTC": 50, "ETH": 50}, investment=900)
    applied = book.applied(edited)
    assert applied.weights == {"BTC": 0.4, "ETH": 0.3, "BNB": 0.15, "SOL": 0.15}
    assert applied.investment == 1000 and applied.threshold == edited.threshold


def test_fund_limits():
    weights = {"BTC": 0.4, "ETH": 0.3, "BNB": 0.15, "SOL": 0.15}
    mins = {c: 7.5 for c in weights}  # Binance's 5 USDT x 1.5 reserve
    # Add: the 15% coins need 7.5 / 0.15 = 50; at most what is free beyond the portfolio.
    assert fund_limits("add", weights, mins, 1000, available=300) == (pytest.approx(50), 300)
    # Remove: BTC's 40% clears 7.5 from 18.75; what stays must give the 15% coins 50.
    assert fund_limits("remove", weights, mins, 1000) == (pytest.approx(18.75), pytest.approx(950))


def test_trigger_price_is_reached_from_either_side():
    dip = Level(60000.0, "BTC")
    assert not trigger_reached(dip, 65000, 60001)
    assert trigger_reached(dip, 65000, 60000)  # touched from above
    assert trigger_reached(dip, 65000, 59000)
    breakout = Level(70000.0, "BTC")
    assert not trigger_reached(breakout, 65000, 69999)
    assert trigger_reached(breakout, 65000, 70500)  # crossed from below


def test_stop_loss_and_take_profit_on_the_portfolio_value_or_a_coin():
    c = cfg(stop_loss=800, take_profit=1500)
    prices = {"BTC": 60000.0}
    assert stop_reason(c, 900.0, prices) is None
    assert "stop_loss reached" in stop_reason(c, 800.0, prices)
    assert "take_profit reached: portfolio value 1500.00 USDT >= 1500" in stop_reason(
        c, 1500.0, prices
    )
    coin = cfg(stop_loss={"BTC": 50000})
    assert stop_reason(coin, 10.0, {"BTC": 50001.0}) is None  # value ignored: BTC's price
    assert "BTC price 49000.00" in stop_reason(coin, 10.0, {"BTC": 49000.0})
