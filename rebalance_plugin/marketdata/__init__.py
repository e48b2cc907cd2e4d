"""Market data the plugin's commands run on without an exchange: where the candles are, the
exchange's markets offline, and a synthetic market when no real candles exist.

* :mod:`.candles`: :func:`find_candles`, the one search for a portfolio's candle folder (the
  report, the demo, try-live and the presets look in the same places in the same order).
* :mod:`.offline`: Freqtrade run against Binance spot from a bundled markets snapshot
  (``python -m rebalance_plugin.marketdata.offline <freqtrade arguments>``).
* :mod:`.synthetic`: a seeded random-walk market, labelled SYNTHETIC wherever it is shown
  (``python -m rebalance_plugin.marketdata.synthetic``).

Importing the package is cheap: ccxt, numpy and Freqtrade come with the modules that need them.
"""

from __future__ import annotations

from .candles import SHARED_CANDLES, candle_folders, find_candles, has_candles

__all__ = ["SHARED_CANDLES", "candle_folders", "find_candles", "has_candles"]
