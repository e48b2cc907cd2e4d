"""The live glue's touches of Freqtrade privates (rebalance_plugin/ft/privates.py) are guarded by
the hashes of the Freqtrade code they rely on: a Freqtrade upgrade that changes that code fails
here, and the running bot turns the features off instead of misbehaving."""

from __future__ import annotations

from types import SimpleNamespace

from rebalance_plugin.ft import privates


def test_freqtrade_code_is_the_code_the_privates_were_written_against():
    # If this fails after upgrading Freqtrade: re-read the functions named in privates.sites()
    # against their uses in privates.py, then update EXPECTED_SOURCE_SHA256.
    assert privates.BOT_GUARD.hashes() == privates.EXPECTED_SOURCE_SHA256
    # The frugal exchange (many bots on one IP): re-read privates.frugal_sites() against
    # frugal_exchange(), then update EXPECTED_FRUGAL_SHA256.
    assert privates.FRUGAL_GUARD.hashes() == privates.EXPECTED_FRUGAL_SHA256


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
    warnings = [r for r in caplog.records if "Freqtrade internals changed" in r.getMessage()]
    assert len(warnings) == 1 and "RPC.__init__" in warnings[0].getMessage()


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


def test_a_source_guard_fails_on_changed_code_with_one_warning(caplog):
    # The one guard of every reach into Freqtrade (privates, fastpath, chart): a changed hash,
    # a call no longer made and an incomplete table each turn the feature off, warned once.
    import logging

    from rebalance_plugin.ft.sourceguard import SourceGuard, source_sha256

    def used():
        return "self.strategy.get_entry_signal(pair)"

    sites = {"used": used, "caller": used}
    good = {"used": source_sha256(used)}
    logger = logging.getLogger("test.sourceguard")
    calls = {"caller": "get_entry_signal("}
    assert SourceGuard(lambda: sites, good, "off", logger, calls=calls).verified()

    changed = SourceGuard(lambda: sites, {"used": "0" * 64}, "the fast path is off", logger)
    assert not changed.verified() and not changed.verified()
    warned = [r.getMessage() for r in caplog.records if r.name == "test.sourceguard"]
    assert warned == [
        "freqtrade-rebalance: Freqtrade internals changed (used); the fast path is off"
    ]
    assert not SourceGuard(lambda: sites, good, "off", logger, calls={"caller": "x("}).verified()
    assert not SourceGuard(lambda: {}, good, "off", logger).verified()
    assert SourceGuard(lambda: sites, {}, "off", logger, calls=calls).changed() == [
        "hash table incomplete"
    ]
