"""Every touch of a Freqtrade private the live glue needs, in one hash-guarded module (the
backtest's speed patches are beside it, in ``fastpath.py``, guarded the same way).

Freqtrade gives a strategy no public way to read or set the bot's state (RUNNING / PAUSED) or
to book an order the exchange executed without Freqtrade hearing of it. The plugin needs both:

- ``/stopentry`` (FreqUI's "Pause") stops the portfolio, and ``stop_loss`` / ``take_profit``
  pause the bot: the strategy reads and sets ``FreqtradeBot.state``. The bot is reached through
  the DataProvider's name-mangled RPC manager: ``dp._DataProvider__rpc._rpc._freqtrade``
  (set in ``DataProvider.__init__``, ``RPCManager.__init__`` and ``RPC.__init__``);
- an order executed at the exchange but never booked (a timeout after the exchange accepted
  it, a crash before the fill was stored) is booked with Freqtrade's own recovery,
  ``FreqtradeBot.handle_onexchange_order``, and looked up with ``Exchange.fetch_orders``.

Safety: the source of each of those Freqtrade functions must still have the sha256 recorded
in ``EXPECTED_SOURCE_SHA256`` (freqtrade==2026.9). After an upgrade that changes one, the bot
is not reached (the features above are off, with one warning in the log) and
``tests/unit/test_privates.py`` fails, so the access is re-checked against the new code.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
from datetime import datetime
from typing import Any

logger = logging.getLogger(__name__)


def sites() -> dict[str, Any]:
    """The Freqtrade functions whose code this module relies on (imported when first checked:
    the bot's modules are heavy, and a backtest never needs them)."""
    from freqtrade.data.dataprovider import DataProvider
    from freqtrade.exchange import Exchange
    from freqtrade.freqtradebot import FreqtradeBot
    from freqtrade.rpc.rpc import RPC
    from freqtrade.rpc.rpc_manager import RPCManager

    return {
        "DataProvider.__init__": DataProvider.__init__,
        "RPCManager.__init__": RPCManager.__init__,
        "RPC.__init__": RPC.__init__,
        "FreqtradeBot.handle_onexchange_order": FreqtradeBot.handle_onexchange_order,
        "Exchange.fetch_orders": Exchange.fetch_orders,
    }


#: sha256 of ``inspect.getsource`` of each site, as of freqtrade==2026.9. Regenerate with
#: ``source_hashes()`` only after re-reading the new Freqtrade code against the uses above.
EXPECTED_SOURCE_SHA256: dict[str, str] = {
    "DataProvider.__init__": "a47f83f0d7789c9377a0741aad82a355c5db1c0767c0ac8c50ec961869148ca5",
    "RPCManager.__init__": "3b0e116d0513581d6793fc5d097ed6f5e6c70cc4752e70e744fa288d41c841df",
    "RPC.__init__": "58853869acdb981b178408bbde039ee48610b0c25046c23d2e38e3487a4519af",
    "FreqtradeBot.handle_onexchange_order": (
        "195d42551343e080d2ca9d148d9f80ba93794eefe5b13a811c17ab8ff0a563c3"
    ),
    "Exchange.fetch_orders": "8d62ebcd9544dd0e9397521a38c453b8339d21ac88e1856c8246e1c860ddb923",
}

_checked: bool | None = None


def source_hashes() -> dict[str, str]:
    """Current sha256 of the source of every Freqtrade function this module relies on."""
    return {
        name: hashlib.sha256(inspect.getsource(func).encode()).hexdigest()
        for name, func in sites().items()
    }


def verified() -> bool:
    """True when Freqtrade's code is the code this module was written against (checked once)."""
    global _checked
    if _checked is None:
        current = source_hashes()
        changed = [n for n, h in EXPECTED_SOURCE_SHA256.items() if current.get(n) != h]
        _checked = not changed and set(current) == set(EXPECTED_SOURCE_SHA256)
        if not _checked:
            logger.warning(
                "freqtrade-rebalance: Freqtrade internals changed (%s); /stopentry, /start and "
                "the booking of unacknowledged orders are off. Pin freqtrade==2026.9.",
                ", ".join(changed) or "hash table incomplete",
            )
    return _checked


def freqtrade_bot(dp: Any) -> Any:
    """The running FreqtradeBot (to read and set its state), or None: in a backtest, without
    an RPC manager, or when Freqtrade's code changed."""
    if dp is None or not verified():
        return None
    manager = getattr(dp, "_DataProvider__rpc", None)
    rpc = getattr(manager, "_rpc", None)
    return getattr(rpc, "_freqtrade", None)


def exchange_orders(bot: Any, pair: str, since: datetime) -> list[dict[str, Any]]:
    """The exchange's orders of ``pair`` since ``since`` (ccxt order dicts)."""
    return list(bot.exchange.fetch_orders(pair, since))


def book_exchange_order(bot: Any, trade: Any) -> None:
    """Let Freqtrade book, on ``trade``, the orders the exchange executed for it."""
    bot.handle_onexchange_order(trade)
