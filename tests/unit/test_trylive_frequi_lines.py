"""try-live's printout says where FreqUI shows the portfolio (issue 22, rebalance_plugin/trylive/
session.py): FreqUI draws the plot configuration saved in the browser ("default", empty), so the
strategy's panels need the cog, "From strategy", "Save"; and each panel's lines, with the band
of this config's trigger."""

from __future__ import annotations

from typing import Any

from rebalance_plugin.ft.chart import PLOT_CONFIG
from rebalance_plugin.trylive.session import _print_frequi


def printed(config: dict[str, Any]) -> str:
    lines: list[str] = []
    _print_frequi(lines.append, config)
    return "\n".join(lines)


def test_the_clicks_and_every_line_of_the_panels_are_named():
    text = printed({"timeframe": "1h", "rebalance": {"threshold": 5}})
    assert '"From strategy" > "Save"' in text
    # every panel and every column of the strategy's plot_config
    for panel, lines in PLOT_CONFIG["subplots"].items():
        assert panel in text
        for column in lines:
            assert column in text, column
    assert "5 points, threshold" in text
    assert "A 1h candle shows what was filled before it closed" in text


def test_the_band_of_an_interval_trigger_in_relative_mode():
    section = {"trigger": "interval", "interval_min_drift": 2, "threshold_mode": "relative"}
    text = printed({"timeframe": "4h", "rebalance": section})
    assert "2% of the target, interval_min_drift" in text
    assert "A 4h candle" in text
