"""The Freqtrade glue: small objects that each own one concern, assembled in ``plugin.py``.

- ``startup``: checks before any order; ``markets``: exchange rules with Freqtrade's reserves;
- ``store``: the portfolio's record in Freqtrade's database; ``reader``: trades, prices, cash;
- ``orders``: legs to Freqtrade stakes, orders in flight; ``lifecycle``: trigger, stop, resume,
  commands; ``changes``: config changes; ``notify``: messages and the journal; ``status``: the
  per-trade custom data;
- ``privates`` and ``fastpath``: every touch of a Freqtrade internal, hash-guarded.
"""

from .plugin import RebalanceMixin, RebalancePlugin

__all__ = ["RebalanceMixin", "RebalancePlugin"]
