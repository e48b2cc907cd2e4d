"""The Freqtrade glue: small objects that each own one concern, assembled in ``plugin.py``.

- ``startup``: checks before any order; ``markets``: exchange rules with Freqtrade's reserves;
- ``store``: the portfolio's record in Freqtrade's database; ``reader``: trades, prices, cash;
- ``decider``: the core's engine, its orders placed and events reported; ``orders``: legs to
  Freqtrade stakes; ``recovery``: orders in flight followed until they close (dry/live);
  ``turns``: a backtest's runs and the turn order of its candles; ``deposits``: auto-invest;
- ``lifecycle``: trigger, stop, resume, commands; ``changes``: config changes; ``notify``:
  messages and the journal; ``status``: the per-trade custom data;
- ``privates`` and ``fastpath``: every touch of a Freqtrade internal, hash-guarded.
"""

from .plugin import RebalanceMixin, RebalancePlugin

__all__ = ["RebalanceMixin", "RebalancePlugin"]
