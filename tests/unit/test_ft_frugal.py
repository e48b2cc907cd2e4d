"""Many bots on one IP (issue 12): the loop's tickers answer Freqtrade's rate look-ups
(rebalance_plugin/ft/quotes.py), the account is read once and kept up to date with the bot's own
fills (balances.py), and privates.frugal_exchange wires both into the bot's own Exchange."""

from __future__ import annotations

from typing import Any

import pytest

from rebalance_plugin.ft import privates
from rebalance_plugin.ft.balances import AccountBook
from rebalance_plugin.ft.quotes import Quotes


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


TICKERS = {
    "BTC/USDT": {"last": 50000.0, "bid": 49990.0, "ask": 50010.0, "bidVolume": 1.5},
    "ETH/USDT": {"last": None, "close": None, "bid": 2999.0, "ask": 3001.0},
}


def test_one_request_gives_every_price_and_the_top_of_each_book():
    calls: list[list[str]] = []

    def fetch(pairs: list[str]) -> dict[str, Any]:
        calls.append(pairs)
        return TICKERS

    clock = Clock()
    quotes = Quotes(fetch, max_age=15, clock=clock)
    assert quotes.refresh(["ETH/USDT", "BTC/USDT", "BTC/USDT"])
    assert calls == [["BTC/USDT", "ETH/USDT"]]
    assert quotes.price("BTC/USDT") == 50000.0
    assert quotes.price("ETH/USDT") == 3000.0  # no last trade: the middle of bid and ask
    book = quotes.order_book("BTC/USDT", 1)
    assert book["bids"] == [[49990.0, 1.5]] and book["asks"] == [[50010.0, 0.0]]
    assert quotes.order_book("BTC/USDT", 20) is None  # deeper: the exchange's own book
    assert quotes.ticker("BTC/USDT")["bid"] == 49990.0
    assert quotes.price("SOL/USDT") is None
    clock.now += 16  # older than max_age: no decision is taken on it any more
    assert quotes.price("BTC/USDT") is None


def test_a_loop_that_outlasts_the_snapshot_renews_it_in_one_request_not_a_book_per_pair():
    # Ten orders on a busy machine can take longer than max_age: Freqtrade's next rate look-up
    # gets the tickers of all the portfolio's pairs again (one request, 2 weight) instead of
    # an order book of its own (5 weight per pair).
    calls: list[list[str]] = []
    answer: dict[str, Any] = {"BTC/USDT": {"last": 50000.0, "bid": 49990.0, "ask": 50010.0}}

    def fetch(pairs: list[str]) -> dict[str, Any]:
        calls.append(pairs)
        if isinstance(answer, Exception):
            raise answer
        return {p: answer[p] for p in pairs if p in answer}

    clock = Clock()
    quotes = Quotes(fetch, max_age=15, clock=clock)
    quotes.refresh(["BTC/USDT", "ETH/USDT"])
    answer = {"BTC/USDT": {"last": 51000.0, "bid": 50990.0, "ask": 51010.0}}
    clock.now += 16
    assert quotes.order_book("BTC/USDT", 1)["bids"] == [[50990.0, 0.0]]  # the new bid
    assert calls == [["BTC/USDT", "ETH/USDT"]] * 2  # all the portfolio's pairs, one request
    assert quotes.ticker("BTC/USDT")["last"] == 51000.0 and len(calls) == 2  # fresh again
    assert quotes.order_book("SOL/USDT", 1) is None and len(calls) == 2  # not the portfolio's
    # The exchange does not answer: Freqtrade asks it itself, and the renewal is tried again
    # at most once a second.
    answer = TimeoutError("no answer")  # type: ignore[assignment]
    clock.now += 16
    assert quotes.order_book("BTC/USDT", 1) is None and len(calls) == 3
    clock.now += 0.5
    assert quotes.ticker("BTC/USDT") is None and len(calls) == 3
    clock.now += 1
    assert quotes.ticker("BTC/USDT") is None and len(calls) == 4


def test_a_failed_fetch_keeps_nothing_new_and_is_said_once(caplog):
    def fetch(pairs: list[str]) -> dict[str, Any]:
        raise TimeoutError("no answer")

    quotes = Quotes(fetch, max_age=15, clock=Clock())
    assert not quotes.refresh(["BTC/USDT"])
    assert not quotes.refresh(["BTC/USDT"])
    assert quotes.price("BTC/USDT") is None
    assert len([r for r in caplog.records if "Could not fetch the tickers" in r.message]) == 1


BALANCES = {
    "USDT": {"free": 1000.0, "used": 0.0, "total": 1000.0},
    "BTC": {"free": 0.0, "used": 0.0, "total": 0.0},
}


def buy(order_id: str = "1", status: str = "closed") -> dict[str, Any]:
    return {
        "id": order_id,
        "symbol": "BTC/USDT",
        "side": "buy",
        "status": status,
        "filled": 0.002,
        "cost": 100.0,
        "fees": [{"currency": "BTC", "cost": 0.000002}],
        "fee": {"currency": "BTC", "cost": 0.000002},
    }


def test_the_account_is_read_once_and_follows_the_bots_own_fills():
    fetched: list[int] = []

    def fetch() -> dict[str, Any]:
        fetched.append(1)
        return {k: dict(v) for k, v in BALANCES.items()}

    clock = Clock()
    book = AccountBook(max_age=60, clock=clock)
    assert book.balances(fetch)["USDT"]["free"] == 1000.0
    book.placed(buy())
    after = book.balances(fetch)
    assert len(fetched) == 1
    assert after["USDT"]["free"] == pytest.approx(900.0)
    assert after["BTC"]["total"] == pytest.approx(0.001998)  # the fee is taken in the coin
    sell = {
        "id": "2",
        "symbol": "BTC/USDT",
        "side": "sell",
        "status": "expired",  # an IOC that filled in part
        "filled": 0.001,
        "cost": 51.0,
        "fees": [{"currency": "USDT", "cost": 0.051}],
    }
    book.placed(sell)
    after = book.balances(fetch)
    assert after["USDT"]["free"] == pytest.approx(950.949)
    assert after["BTC"]["free"] == pytest.approx(0.000998)
    assert len(fetched) == 1
    # A finished order answers Freqtrade's later look-up, fee included.
    assert book.finished("1")["fees"] == [{"currency": "BTC", "cost": 0.000002}]
    assert book.finished("3") is None
    clock.now += 61  # another bot may have traded on the account: read it again
    book.balances(fetch)
    assert len(fetched) == 2


@pytest.mark.parametrize(
    "event",
    ["open order", "unknown outcome", "order seen elsewhere", "invalidate"],
)
def test_whatever_the_bot_cannot_account_for_makes_the_next_read_a_fetch(event):
    fetched: list[int] = []

    def fetch() -> dict[str, Any]:
        fetched.append(1)
        return {k: dict(v) for k, v in BALANCES.items()}

    book = AccountBook(max_age=60, clock=Clock())
    book.balances(fetch)
    if event == "open order":
        book.placed(buy(status="open"))
    elif event == "unknown outcome":
        book.placed({**buy(), "cost": None})
    elif event == "order seen elsewhere":
        book.seen(buy("9"))  # found at the exchange, never placed by this process
        assert book.finished("9") is not None
    else:
        book.invalidate()
    book.balances(fetch)
    assert len(fetched) == 2


class FakeExchange:
    """The methods of Freqtrade's Exchange the frugal wrappers call."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def fetch_ticker(self, pair: str) -> dict[str, Any]:
        self.calls.append(f"ticker {pair}")
        return {"last": 1.0}

    def fetch_l2_order_book(self, pair: str, limit: int = 100) -> dict[str, Any]:
        self.calls.append(f"book {pair} {limit}")
        return {"bids": [], "asks": []}

    def get_balances(self, params: dict | None = None) -> dict[str, Any]:
        self.calls.append("balances")
        return {k: dict(v) for k, v in BALANCES.items()}

    def create_order(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append("create")
        if kwargs.get("fail"):
            raise TimeoutError("lost answer")
        return buy("7")

    def fetch_order(self, order_id: str, pair: str, params: dict | None = None) -> dict:
        self.calls.append(f"order {order_id}")
        return buy(order_id)

    def cancel_order(self, order_id: str, pair: str, params: dict | None = None) -> dict:
        self.calls.append("cancel")
        return {}

    def fetch_orders(self, pair: str, since: Any, params: dict | None = None) -> list:
        self.calls.append("orders")
        return []


@pytest.fixture
def frugal(monkeypatch):
    monkeypatch.setattr(privates.FRUGAL_GUARD, "_verdict", None)
    exchange = FakeExchange()
    quotes = Quotes(lambda pairs: TICKERS, max_age=15, clock=Clock())
    quotes.refresh(["BTC/USDT"])
    book = AccountBook(max_age=60, clock=Clock())
    assert privates.frugal_exchange(exchange, quotes, book)
    return exchange, book


def test_the_bots_exchange_answers_what_it_knows(frugal):
    exchange, book = frugal
    assert exchange.fetch_l2_order_book("BTC/USDT", 1)["asks"] == [[50010.0, 0.0]]
    assert exchange.fetch_ticker("BTC/USDT")["last"] == 50000.0
    assert exchange.calls == []
    exchange.fetch_l2_order_book("BTC/USDT", 20)  # deeper than the snapshot
    exchange.fetch_ticker("SOL/USDT")  # not in it
    assert exchange.calls == ["book BTC/USDT 20", "ticker SOL/USDT"]
    exchange.calls.clear()
    exchange.get_balances()
    exchange.create_order(pair="BTC/USDT")
    exchange.get_balances()
    assert exchange.fetch_order("7", "BTC/USDT")["id"] == "7"  # the answer to the order
    assert exchange.calls == ["balances", "create"]
    exchange.fetch_order("8", "BTC/USDT")
    exchange.get_balances()  # an order it did not place: the account is read again
    assert exchange.calls[-2:] == ["order 8", "balances"]
    with pytest.raises(TimeoutError):
        exchange.create_order(pair="BTC/USDT", fail=True)
    exchange.get_balances()
    assert exchange.calls[-2:] == ["create", "balances"]


def test_installed_once_per_exchange_and_a_new_plugin_takes_over(frugal):
    exchange, _ = frugal
    quotes = Quotes(lambda pairs: {"BTC/USDT": {"last": 7.0}}, max_age=15, clock=Clock())
    quotes.refresh(["BTC/USDT"])
    assert privates.frugal_exchange(exchange, quotes, AccountBook())
    assert exchange.fetch_ticker("BTC/USDT")["last"] == 7.0
    assert privates.frugal_installed(exchange)


def test_dry_run_keeps_freqtrades_own_account_and_orders(monkeypatch):
    monkeypatch.setattr(privates.FRUGAL_GUARD, "_verdict", None)
    exchange = FakeExchange()
    quotes = Quotes(lambda pairs: TICKERS, max_age=15, clock=Clock())
    assert privates.frugal_exchange(exchange, quotes, None)
    assert "get_balances" not in exchange.__dict__ and "create_order" not in exchange.__dict__


def test_changed_freqtrade_code_leaves_the_exchange_alone(monkeypatch, caplog):
    monkeypatch.setattr(privates.FRUGAL_GUARD, "_verdict", None)
    changed = dict(privates.EXPECTED_FRUGAL_SHA256, **{"Exchange.get_rates": "0" * 64})
    monkeypatch.setattr(privates.FRUGAL_GUARD, "expected", changed)
    exchange = FakeExchange()
    quotes = Quotes(lambda pairs: TICKERS, max_age=15)
    assert not privates.frugal_exchange(exchange, quotes, AccountBook())
    assert not privates.frugal_installed(exchange)
    assert any("Exchange.get_rates" in r.getMessage() for r in caplog.records)


class FakeApi:
    """ccxt's client: one fetch_tickers request for all pairs."""

    def __init__(self, prices: dict[str, float]) -> None:
        self.prices = prices
        self.requests: list[list[str]] = []

    def fetch_tickers(self, pairs: list[str]) -> dict[str, Any]:
        self.requests.append(list(pairs))
        return {
            p: {"last": self.prices[p], "bid": self.prices[p], "ask": self.prices[p]} for p in pairs
        }


def test_the_reader_prices_every_coin_from_one_request_per_loop(mocker, monkeypatch):
    from tests.unit.ft_fakes import FakeTrade, make_glue

    monkeypatch.setattr(privates.BOT_GUARD, "_verdict", None)
    monkeypatch.setattr(privates.FRUGAL_GUARD, "_verdict", None)
    glue = make_glue(mocker, dry_run=False, prices={"BTC/USDT": 1.0, "ETH/USDT": 1.0})
    exchange = FakeExchange()
    exchange._api = FakeApi({"BTC/USDT": 50000.0, "ETH/USDT": 3000.0})  # type: ignore[attr-defined]
    bot = type("Bot", (), {"exchange": exchange})()
    glue.dp._DataProvider__rpc = type("M", (), {"_rpc": type("R", (), {"_freqtrade": bot})()})()
    trades = [FakeTrade("BTC/USDT", 0.01, 500.0), FakeTrade("ETH/USDT", 0.1, 300.0, id=2)]
    glue.reader.refresh_prices(trades)
    assert exchange._api.requests == [["BTC/USDT", "ETH/USDT"]]
    assert glue.reader.price("BTC/USDT", 0) == 50000.0  # not the data provider's ticker (1.0)
    assert glue.reader.price("ETH/USDT", 0) == 3000.0
    # Freqtrade's own rate look-ups of the loop: answered from the same request.
    assert exchange.fetch_l2_order_book("ETH/USDT", 1)["bids"] == [[3000.0, 0.0]]
    assert exchange.calls == []
    # Live: the account is kept by the bot (a deposit is read at once when asked for).
    assert isinstance(glue.reader.account, AccountBook)
    glue.reader.refresh_wallets()
    assert glue.wallets.updates == 1
