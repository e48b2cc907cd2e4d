"""Coins that stop trading, an exchange that stops answering, rules that change (issue 20):
the core's view of a halted coin, and the glue objects that notice each event and say it once."""

from __future__ import annotations

import ccxt
import pytest
from freqtrade.exceptions import TemporaryError

from rebalance_plugin.core.config import parse_rebalance_config
from rebalance_plugin.core.engine import Snapshot, State, step
from rebalance_plugin.core.halts import among_trading
from rebalance_plugin.core.portfolio import Portfolio
from rebalance_plugin.ft import halts as halts_mod
from rebalance_plugin.ft.halts import Halts, closed_market
from rebalance_plugin.ft.outage import SAY_AFTER, Outage, unavailable
from tests.unit.ft_fakes import T0, make_glue, market, plain

pytestmark = pytest.mark.unit

FOUR = {"coins": {"BTC": 40, "ETH": 30, "BNB": 15, "SOL": 15}, "investment": 1000}


def _four_cfg():
    return parse_rebalance_config(FOUR, "USDT")


def test_a_halted_coin_is_held_as_it_is_and_the_others_share_the_rest():
    # BTC doubled: 0.01 BTC at 80 000 = 800; ETH 0.1 at 3 000 = 300; BNB 0.5 at 300 = 150;
    # SOL 1 at 200 = 200 (halted). The trading coins hold 1 250: their targets 40/85, 30/85,
    # 15/85 of it are 588.235..., 441.176..., 220.588...: sell 211.765 of BTC (0.0026470 BTC),
    # buy 141.18 ETH and 70.59 BNB; nothing for SOL.
    pf = Portfolio(
        {"BTC": 0.01, "ETH": 0.1, "BNB": 0.5, "SOL": 1.0},
        {"BTC": 80000.0, "ETH": 3000.0, "BNB": 300.0, "SOL": 200.0},
    )
    trading = among_trading(_four_cfg(), pf, ["SOL"])
    assert trading.halted == ("SOL",)
    assert dict(trading.cfg.coins) == pytest.approx(
        {"BTC": 4000 / 85, "ETH": 3000 / 85, "BNB": 1500 / 85}
    )
    assert trading.portfolio is not None and "SOL" not in trading.portfolio.quantities
    result = step(
        trading.cfg,
        State(),
        Snapshot(now=T0, portfolio=trading.portfolio, rules={}, fee=0.0, first_buy=T0 - 3600),
    )
    assert set(result.orders) == {"BTC"}  # sells first
    assert result.orders["BTC"].side == "sell"
    assert result.orders["BTC"].qty == pytest.approx((800 - 1250 * 40 / 85) / 80000)
    assert result.state.pending_buys == pytest.approx(
        {"ETH": 1250 * 30 / 85 - 300, "BNB": 1250 * 15 / 85 - 150}
    )


def test_a_coin_halted_between_the_sells_and_the_buys_gets_no_buy():
    # The sells freed 300 USDT for ETH 200 and SOL 100; SOL halted since: ETH alone is bought.
    pending = State(phase="selling", pending_buys={"ETH": 200.0, "SOL": 100.0})
    pf = Portfolio({"BTC": 0.01, "ETH": 0.1}, {"BTC": 60000.0, "ETH": 3000.0}, cash=300.0)
    result = step(
        _four_cfg(), pending, Snapshot(now=T0, portfolio=pf, rules={}, fee=0.0, first_buy=T0)
    )
    assert {c: (leg.side, round(leg.value, 6)) for c, leg in result.orders.items()} == {
        "ETH": ("buy", 200.0)
    }


def test_no_coin_left_trading_decides_nothing():
    pf = Portfolio({"BTC": 0.01, "ETH": 0.1}, {"BTC": 1.0, "ETH": 1.0})
    cfg = parse_rebalance_config({"coins": {"BTC": 50, "ETH": 50}, "investment": 100}, "USDT")
    assert among_trading(cfg, pf, ["BTC", "ETH"]).portfolio is None


def _closed(symbol_error: type[Exception], text: str) -> TemporaryError:
    """Freqtrade's exception for an order, raised from ccxt's, as ``create_order`` does."""
    try:
        try:
            raise symbol_error(text)
        except ccxt.BaseError as e:
            raise TemporaryError(
                f"Could not place buy order due to {e.__class__.__name__}. Message: {e}"
            ) from e
    except TemporaryError as err:
        return err


def test_the_words_of_a_closed_market_and_of_an_exchange_that_does_not_answer():
    closed = _closed(ccxt.MarketClosed, 'binance {"code":-1013,"msg":"Market is closed."}')
    gone = _closed(ccxt.BadSymbol, 'binance {"code":-1121,"msg":"Invalid symbol."}')
    down = _closed(ccxt.OnMaintenance, "binance System is under maintenance.")
    clock = _closed(ccxt.InvalidNonce, 'binance {"code":-1021,"msg":"Timestamp ..."}')
    funds = _closed(ccxt.InsufficientFunds, "binance Account has insufficient balance")
    assert [closed_market(e) for e in (closed, gone, down, clock, funds)] == [
        True,
        True,
        False,
        False,
        False,
    ]
    assert [unavailable(e) for e in (closed, gone, down, clock, funds)] == [
        False,
        False,
        True,
        True,
        False,
    ]


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _halts(mocker):
    glue = make_glue(mocker)
    reloads = mocker.patch.object(halts_mod.privates, "reload_markets", return_value=True)
    clock = Clock()
    return glue, Halts(glue.ctx, glue.store, glue.notifier, clock), reloads, clock


def test_a_market_that_closes_is_said_once_with_the_holdings_and_its_return_once(mocker):
    glue, halts, reloads, clock = _halts(mocker)
    halts.seen({"BTC": 60000.0, "ETH": 3000.0})
    held = {"BTC": 0.01, "ETH": 0.2}
    assert halts.check(["BTC", "ETH"], held, T0) == ()
    glue.dp.markets["ETH/USDT"] = {**market(1e-04, active=False), "info": {"status": "BREAK"}}
    assert halts.check(["BTC", "ETH"], held, T0 + 60) == ("ETH",)
    for i in range(5):  # loops later: held, said once
        clock.t += 5
        assert halts.check(["BTC", "ETH"], held, T0 + 65 + 5 * i) == ("ETH",)
    said = [plain(m) for m in glue.dp.messages]
    assert len(said) == 1
    assert "ETH cannot trade: ETH/USDT's market is closed on binance (status BREAK)" in said[0]
    assert "holds 0.2 ETH (about 600.00 USDT at its last price 3000)" in said[0]
    assert "freqtrade-rebalance init --coins BTC NEWCOIN" in said[0]
    assert "/reload_config" in said[0]
    # while halted, the markets are read again once a minute to see it return
    assert reloads.call_count == 1  # at the first check after the halt was seen
    clock.t += 61
    glue.dp.markets["ETH/USDT"] = market(1e-04)
    assert halts.check(["BTC", "ETH"], held, T0 + 30 * 60) == ()
    assert reloads.call_count == 2
    assert [plain(m) for m in glue.dp.messages[1:]] == [
        "ETH trades again after 29 min: it rejoins the rebalancing at its target weight"
    ]


def test_a_delisted_pair_and_a_refused_order_halt_their_coin(mocker):
    glue, halts, reloads, clock = _halts(mocker)
    del glue.dp.markets["BTC/USDT"]  # gone from the markets: delisted
    assert halts.check(["BTC", "ETH"], {"BTC": 0.01}, T0) == ("BTC",)
    assert "BTC/USDT is no longer listed on binance" in plain(glue.dp.messages[0])
    # The exchange refuses ETH's order as a closed market before the markets say so: halted
    # at once, the markets read again at once; a minute later the markets decide.
    halts.refusals([("ETH/USDT", _closed(ccxt.MarketClosed, "Market is closed."))])
    assert halts.check(["BTC", "ETH"], {}, T0 + 5) == ("BTC", "ETH")
    assert "binance refused its order: the market is closed" in plain(glue.dp.messages[1])
    reads = reloads.call_count
    clock.t += 61
    assert halts.check(["BTC", "ETH"], {}, T0 + 70) == ("BTC",)  # ETH's market trades
    assert reloads.call_count == reads + 1


def _outage(mocker):
    glue = make_glue(mocker)
    wall = Clock()
    return glue, Outage(glue.ctx, glue.notifier, wall), wall


def test_an_exchange_down_for_minutes_is_said_once_and_its_return_once(mocker):
    glue, outage, _ = _outage(mocker)
    assert outage.loop(T0, True, None, None, []) is True
    t = T0 + 5
    while t < T0 + 5 + SAY_AFTER:  # a blip shorter than SAY_AFTER is not said
        down = outage.loop(t, False, "OnMaintenance: System is under maintenance.", None, [])
        assert down is False
        t += 5
    assert glue.dp.messages == []
    for _ in range(40):  # minutes more: said once
        outage.loop(t, False, "OnMaintenance: System is under maintenance.", None, [])
        t += 5
    assert [plain(m) for m in glue.dp.messages] == [
        "binance is not answering since 2024-01-01 10:00 UTC (OnMaintenance: System is under "
        "maintenance.): the bot places no order until it answers again, and says so then. "
        "Nothing to do meanwhile"
    ]
    assert outage.loop(t, True, None, None, []) is True
    assert outage.loop(t + 5, True, None, None, []) is True
    assert [plain(m) for m in glue.dp.messages[1:]] == [
        "binance answers again after 4 min: the bot rebalances as before"
    ]


def test_stale_prices_count_as_the_exchange_not_answering(mocker):
    glue, outage, wall = _outage(mocker)
    wall.t = 1_700_000_000.0
    fresh = [wall.t * 1000 - 3000, wall.t * 1000 - 500_000]  # the freshest is 3 s old
    assert outage.stale(fresh) is None
    old = [wall.t * 1000 - 180_000, None]  # the freshest is 3 min old
    assert outage.stale(old) == "its prices have not moved for 3 min"
    assert outage.stale([None, None]) is None  # no timestamp given: not judged


def test_a_refused_order_of_an_exchange_that_does_not_answer_counts(mocker):
    glue, outage, _ = _outage(mocker)
    clock = _closed(
        ccxt.InvalidNonce,
        'binance {"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}',
    )
    closed = _closed(ccxt.MarketClosed, "Market is closed.")
    assert outage.loop(T0, True, None, None, [("BTC/USDT", closed)]) is True
    assert outage.loop(T0 + 5, True, None, None, [("BTC/USDT", clock)]) is False
    assert outage.why.startswith("InvalidNonce: ")
    # the public tickers answer, but the signed requests stay in doubt until one goes through
    assert outage.loop(T0 + 10, True, None, None, []) is False
    assert outage.loop(T0 + 15, True, None, None, [], signed_ok=False) is False
    assert outage.loop(T0 + 20, True, None, None, [], signed_ok=True) is True


def test_new_rules_are_read_when_the_markets_are_reloaded(mocker):
    glue = make_glue(mocker)
    mk = glue.markets
    assert mk.refresh() == {}  # the same markets: nothing read again
    before = mk.rules["BTC"]
    # Binance raises BTC's step to 0.001 and its minimum order value to 10 USDT.
    glue.dp.markets["BTC/USDT"] = market(1e-03, 10.0)
    assert mk.refresh() == {
        "BTC": {
            "amount step": (1e-05, 1e-03),
            "minimum amount": (1e-05, 1e-03),
            "minimum order value": (5.0, 10.0),
        }
    }
    assert mk.rules["BTC"].qty_step == 1e-03 and mk.rules["BTC"].min_notional > 10.0
    assert mk.rules["BTC"] != before
    assert mk.refresh() == {}
    # A closed market keeps its last rules (no order goes to it meanwhile)
    glue.dp.markets["BTC/USDT"] = market(1e-02, 20.0, active=False)
    assert mk.refresh() == {} and mk.rules["BTC"].qty_step == 1e-03


def test_an_order_refused_by_a_rule_reads_the_markets_again(mocker):
    glue = make_glue(mocker)
    reloads = mocker.patch("rebalance_plugin.ft.markets.privates.reload_markets")
    glue.markets.refusals([("BTC/USDT", _closed(ccxt.InsufficientFunds, "insufficient"))])
    assert reloads.call_count == 0
    refused = _closed(ccxt.InvalidOrder, 'binance {"code":-1013,"msg":"Filter failure: NOTIONAL"}')
    glue.markets.refusals([("BTC/USDT", refused)])
    assert reloads.call_count == 1


def test_a_coin_halted_before_the_bot_saw_its_price_is_counted_at_its_trades_price(mocker):
    glue, halts, _, _ = _halts(mocker)
    from tests.unit.ft_fakes import FakeTrade

    trades = {"ETH": FakeTrade("ETH/USDT", 0.2, 400.0, open_rate=2000.0)}
    halts.seen({"BTC": 60000.0})
    assert halts.prices(["BTC", "ETH"], trades) == {"BTC": 60000.0, "ETH": 2000.0}
