"""The fast harness: a backtest of the plugin without Freqtrade's engine, for the sweep.

The decisions are the core's own (:mod:`rebalance_plugin.core`: the engine, the plan, the
triggers, the rules), driven candle by candle as the plugin's glue drives them in a Freqtrade
backtest; the orders fill by the rules of Freqtrade's backtest (the candle's open, the pairs'
visiting order, the amount and price precision, the minimum stakes with their reserves, the
fee). The candles are numpy arrays loaded once, and the candles on which nothing can happen are
skipped. A five-year point takes well under a second where Freqtrade's engine takes about 30;
``freqtrade-rebalance sweep`` checks a sample of points against Freqtrade's own ``Backtesting``
(``--verify``).

- :mod:`.inputs`: the candles, markets and price precisions, read with Freqtrade's functions;
- :mod:`.candles`, :mod:`.market`, :mod:`.trades`: the arrays, Freqtrade's exchange arithmetic,
  Freqtrade's books (trades, wallet);
- :mod:`.run`: the loop (:func:`simulate`), :mod:`.ahead` its fast-forward,
  :mod:`.deposits` auto-invest;
- :mod:`.figures`: a run's figures, computed as the report computes them.
"""

from __future__ import annotations

from .run import Result, simulate
from .setup import Setup, Unsupported

__all__ = ["Result", "Setup", "Unsupported", "simulate"]
