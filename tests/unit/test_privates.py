"""The live glue's touches of Freqtrade privates (rebalance_plugin/ft/privates.py) are guarded by
the hashes of the Freqtrade code they rely on (compared per release in
tests/unit/test_ft_sourceguard.py): where that code is not the code verified, the running bot
turns the features off instead of misbehaving."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from rebalance_plugin.ft import privates


def _dp_holding(bot):
    dp = SimpleNamespace()
    dp._DataProvider__rpc = SimpleNamespace(_rpc=SimpleNamespace(_freqtrade=bot))
    return dp


def test_the_running_bot_is_reached_through_the_data_provider(monkeypatch):
    monkeypatch.setattr(privates.BOT_GUARD, "_verdict", None)
    bot = object()
    assert privates.freqtrade_bot(_dp_holding(bot)) is bot
    assert privates.freqtrade_bot(None) is None  # backtest: no data provider RPC


def test_changed_freqtrade_code_turns_the_access_off_with_one_warning(monkeypatch, caplog):
    monkeypatch.setattr(privates.BOT_GUARD, "_verdict", None)
    changed = dict(privates.EXPECTED_SOURCE_SHA256, **{"RPC.__init__": "0" * 64})
    monkeypatch.setattr(privates.BOT_GUARD, "expected", changed)
    dp = _dp_holding(object())
    assert privates.freqtrade_bot(dp) is None
    assert privates.freqtrade_bot(dp) is None
    warnings = [r for r in caplog.records if "internals changed" in r.getMessage()]
    assert len(warnings) == 1 and "RPC.__init__" in warnings[0].getMessage()


def test_where_booking_is_not_verified_no_order_is_found_to_book(monkeypatch, caplog):
    # 2026.6 and 2026.7: Freqtrade's recovery would book another trade's orders on this one.
    # The exchange is not asked, so the leg is sent again as without the recovery.
    monkeypatch.setattr(privates.BOOKING_GUARD, "_verdict", None)
    monkeypatch.setattr(privates.BOT_GUARD, "_verdict", True)
    changed = {"FreqtradeBot.handle_onexchange_order": {"0" * 64: ("2026.8", "2026.9")}}
    monkeypatch.setattr(
        privates.BOOKING_GUARD, "expected", dict(privates.EXPECTED_BOOKING_SHA256, **changed)
    )
    asked = []
    exchange = SimpleNamespace(fetch_orders=lambda pair, since: asked.append(pair) or [{}])
    bot = SimpleNamespace(exchange=exchange)
    assert privates.freqtrade_bot(_dp_holding(bot)) is bot  # the bot's state is still reached
    assert privates.exchange_orders(bot, "BTC/USDT", datetime(2026, 1, 1, tzinfo=UTC)) == []
    assert asked == []
    warned = [r.getMessage() for r in caplog.records if "internals changed" in r.getMessage()]
    assert len(warned) == 1, warned
    assert "handle_onexchange_order" in warned[0] and "(verified on 2026.8, 2026.9)" in warned[0]
    assert "a leg whose answer was lost is sent again" in warned[0]


def test_the_parameter_file_is_read_where_freqtrade_keeps_it():
    # Freqtrade keeps the loaded parameter file in HyperStrategyMixin._ft_params_from_file (no
    # public accessor); the settings check relies on it to refuse exit settings there. A rename
    # would let such a file through unseen: fail here instead.
    import inspect

    from freqtrade.strategy.hyper import HyperStrategyMixin

    assert "self._ft_params_from_file = params" in inspect.getsource(HyperStrategyMixin.__init__)

    class Strategy:
        _ft_params_from_file = {"buy": {"threshold": 2}}

    assert privates.params_from_file(Strategy()) == {"buy": {"threshold": 2}}
    assert privates.params_from_file(object()) == {}
