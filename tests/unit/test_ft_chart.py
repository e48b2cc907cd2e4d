"""The live entry signal (rebalance_plugin/ft/chart.py): the strategy answers Freqtrade's
``get_entry_signal`` for the latest candle itself, so that the dataframe's ``enter_long`` can
mark only the real first buys. That relies on Freqtrade's code: this fails when an upgrade
changes it, so that the override is checked again against the new code (until then the plugin
falls back to marking the latest candle, as before)."""

from __future__ import annotations

from rebalance_plugin.ft import chart


def test_freqtrades_entry_signal_is_the_code_the_override_was_written_for():
    assert chart.SIGNAL_GUARD.hashes() == {"IStrategy.get_entry_signal": chart.ENTRY_SIGNAL_SHA256}
    assert chart.signal_override_verified()
