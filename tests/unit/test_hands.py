"""Hands on the account (issue 20): the account holds less of a coin than the portfolio's book.
Said once with both amounts; the plans count and sell only what the account holds; the next
start adopts the account's amount."""

from __future__ import annotations

import pytest

from rebalance_plugin.ft.hands import CHECK_EVERY, Hands
from tests.unit.ft_fakes import FakeTrade, make_glue, plain

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def _hands(mocker, dry_run=False):
    glue = make_glue(mocker, dry_run=dry_run)
    glue.start()
    clock = Clock()
    return glue, Hands(glue.ctx, glue.store, glue.markets, glue.notifier, clock=clock), clock


def _trades():
    return {
        "BTC": FakeTrade("BTC/USDT", 0.01, 600.0),
        "ETH": FakeTrade("ETH/USDT", 0.2, 400.0, id=2),
    }


def test_a_coin_sold_by_hand_is_said_once_and_only_what_is_left_is_counted(mocker):
    glue, hands, clock = _hands(mocker)
    by_coin = _trades()
    glue.wallets.total = {"BTC": 0.01, "ETH": 0.2}
    hands.check(by_coin, busy=False)
    assert glue.dp.messages == [] and hands.holdings(by_coin) == {}
    # The user sells 0.05 ETH by hand: the account holds 0.15 of the book's 0.2.
    glue.wallets.total = {"BTC": 0.01, "ETH": 0.15}
    hands.check(by_coin, busy=False)
    assert glue.dp.messages == []  # compared once a minute
    clock.t += CHECK_EVERY
    hands.check(by_coin, busy=False)
    assert glue.dp.messages == []  # counted at once, said when the next comparison agrees
    assert hands.holdings(by_coin) == pytest.approx({"ETH": 0.15})
    clock.t += CHECK_EVERY
    hands.check(by_coin, busy=False)
    assert [plain(m) for m in glue.dp.messages] == [
        "The account holds 0.15 ETH, the portfolio's book 0.2 ETH: 0.05 ETH left the account "
        "outside the bot (sold or withdrawn by hand?). The bot counts and sells only the 0.15 "
        "ETH the account holds. /reload_config (or a restart) adopts the account's amount as the "
        "portfolio's holding"
    ]
    assert hands.holdings(by_coin) == pytest.approx({"ETH": 0.15})
    # The bot buys 0.1 ETH back: the trade says 0.3, the account 0.25 (the comparison is a
    # minute old): 0.25 is counted, not the 0.15 of the last comparison.
    by_coin["ETH"].amount = 0.3
    assert hands.holdings(by_coin) == pytest.approx({"ETH": 0.25})
    glue.wallets.total = {"BTC": 0.01, "ETH": 0.25}
    for _ in range(5):  # minutes later: not said again
        clock.t += CHECK_EVERY
        hands.check(by_coin, busy=False)
    assert len(glue.dp.messages) == 1
    assert glue.store.book.short == pytest.approx({"ETH": 0.05})
    # 0.05 more taken: said again, with the new amounts
    glue.wallets.total = {"BTC": 0.01, "ETH": 0.2}
    for _ in range(2):
        clock.t += CHECK_EVERY
        hands.check(by_coin, busy=False)
    assert len(glue.dp.messages) == 2
    assert "The account holds 0.2 ETH, the portfolio's book 0.3 ETH" in plain(glue.dp.messages[1])


def test_nothing_is_compared_while_an_order_is_in_flight_or_in_a_dry_run(mocker):
    glue, hands, clock = _hands(mocker)
    glue.wallets.total = {"BTC": 0.0, "ETH": 0.2}  # BTC's sell is in flight, not yet booked
    hands.check(_trades(), busy=True)
    assert glue.dp.messages == [] and glue.wallets.updates == 0
    dry, dry_hands, _ = _hands(mocker, dry_run=True)
    dry_hands.check(_trades(), busy=False)
    assert dry.dp.messages == [] and dry.wallets.updates == 0


def test_rounding_and_coins_beyond_the_book_are_not_hands(mocker):
    glue, hands, clock = _hands(mocker)
    # 0.00001 BTC short is one amount step; 2 ETH more is another bot's or the user's
    glue.wallets.total = {"BTC": 0.00999, "ETH": 2.2}
    hands.check(_trades(), busy=False)
    assert glue.dp.messages == [] and hands.holdings(_trades()) == {}


def test_the_next_start_adopts_the_accounts_amount(mocker):
    glue, hands, clock = _hands(mocker)
    by_coin = _trades()
    glue.wallets.total = {"BTC": 0.01, "ETH": 0.15}
    hands.check(by_coin, busy=False)
    clock.t += CHECK_EVERY
    hands.check(by_coin, busy=False)
    # /reload_config: a new plugin on the same record
    again = Hands(glue.ctx, glue.store, glue.markets, glue.notifier, clock=Clock())
    again.adopt(by_coin)
    assert glue.store.book.adopted == pytest.approx({"ETH": -0.05})
    assert glue.store.book.short == {}
    assert plain(glue.dp.messages[-1]) == "Holdings adopted from the account: ETH 0.2 -> 0.15"
    # Freqtrade's trade still says 0.2; the portfolio counts 0.15, and later sells of ETH
    # (the trade 0.2 -> 0.1 after selling 0.1) keep the difference: 0.05 left.
    assert again.holdings(by_coin) == pytest.approx({"ETH": 0.15})
    by_coin["ETH"].amount = 0.1
    glue.wallets.total = {"BTC": 0.01, "ETH": 0.05}
    again.check(by_coin, busy=False)
    assert again.holdings(by_coin) == pytest.approx({"ETH": 0.05})
    assert len(glue.dp.messages) == 2  # nothing more said: account and book agree


def test_an_order_booked_between_two_comparisons_is_not_called_hands(mocker):
    # A sell the exchange executed whose answer was lost: the account has 0.05 ETH less than
    # the trade until Freqtrade books it; by the next comparison it is booked: nothing said.
    glue, hands, clock = _hands(mocker)
    by_coin = _trades()
    glue.wallets.total = {"BTC": 0.01, "ETH": 0.15}
    hands.check(by_coin, busy=False)
    by_coin["ETH"].amount = 0.15
    clock.t += CHECK_EVERY
    hands.check(by_coin, busy=False)
    assert glue.dp.messages == [] and hands.holdings(by_coin) == {}
    assert glue.store.book.short == {}
