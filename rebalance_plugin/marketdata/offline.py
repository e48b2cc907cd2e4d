"""Run Freqtrade against Binance spot *offline*, from a bundled markets snapshot.

Why this exists
---------------
Every Freqtrade command that builds an exchange object (``backtesting``,
``list-markets``, ``list-pairs``, ``hyperopt``, ...) loads the exchange's markets
first: ``Exchange.reload_markets()`` -> ccxt ``load_markets()`` ->
``binance.fetch_markets()``, which calls Binance's ``GET /api/v3/exchangeInfo``
(plus the USD-M/COIN-M futures ``exchangeInfo``). Without network access this
fails and Freqtrade stops with "Could not load markets, therefore cannot start".
Freqtrade has no option to read markets from a file, so this module patches
ccxt's ``binance`` classes instead (sync ``ccxt.binance`` and
``ccxt.async_support.binance``; ``ccxt.pro.binance``, which Freqtrade uses as
its async API, inherits from the latter):

* ``fetch_markets``    -> the unified markets in ``data/binance_spot_markets.json``
* ``fetch_currencies`` -> ``{}`` (what ccxt itself returns without API keys)
* ``fetch_tickers``    -> ``{}`` (no live prices offline; ``list-markets`` and
  ``list-pairs`` ask for them to show a "Min Stake" column)
* ``fetch``            -> raises :class:`OfflineModeError`: any other HTTP request
  of a ``binance`` instance fails at once instead of hanging on a dead network.

Only instances whose ``id`` is ``"binance"`` are affected (binanceus/binanceusdm/
binancecoinm subclass ``binance`` and keep their original methods).

Data files (both in ``rebalance_plugin/data``, each with a ``_provenance`` key):

* ``binance_exchange_info.json`` - raw ``exchangeInfo``-style symbols with Binance's
  real filters, copied from a public exchangeInfo dump (see its ``_provenance``).
* ``binance_spot_markets.json`` - the same symbols in ccxt's unified market format,
  produced by ccxt's own ``binance.parse_market`` from the raw file. Regenerate
  after editing the raw file or upgrading ccxt::

      python -c "import rebalance_plugin.marketdata.offline as o; o.write_markets_snapshot()"

Usage (exactly ``freqtrade ...``, but offline)::

    python -m rebalance_plugin.marketdata.offline backtesting --config cfg.json --strategy X ...

Offline backtest configs need ``"fee": 0.001`` (no fee look-up) and local data
(e.g. ``"dataformat_ohlcv": "feather"``) with a StaticPairList.
"""

from __future__ import annotations

import copy
import functools
import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import ccxt
import ccxt.async_support as ccxt_async

EXCHANGE_INFO_FILE = "binance_exchange_info.json"
MARKETS_FILE = "binance_spot_markets.json"
EXCHANGE_ID = "binance"


class OfflineModeError(ccxt.BaseError):
    """Raised instead of sending an HTTP request while offline mode is installed.

    Derives from ``ccxt.BaseError`` (not ``NetworkError``) so that Freqtrade's retry
    wrappers give up at once instead of retrying a request that can never succeed.
    """


def _data_path(name: str) -> Path:
    return Path(str(resources.files("rebalance_plugin").joinpath("data", name)))


@functools.cache
def _read_json(name: str) -> dict[str, Any]:
    return json.loads(_data_path(name).read_text(encoding="utf-8"))


def load_exchange_info() -> dict[str, Any]:
    """The raw Binance ``exchangeInfo``-style document (incl. ``_provenance``)."""
    return copy.deepcopy(_read_json(EXCHANGE_INFO_FILE))


def load_markets_snapshot() -> dict[str, dict[str, Any]]:
    """Symbol -> ccxt unified market dict (a fresh deep copy on each call)."""
    data = _read_json(MARKETS_FILE)
    return {k: copy.deepcopy(v) for k, v in data.items() if not k.startswith("_")}


def snapshot_date() -> str:
    """The UTC day Binance answered the ``exchangeInfo`` the snapshot was parsed from
    (``YYYY-MM-DD``), or ``undated``: a user is told how old the minimums checked are."""
    provenance = _read_json(MARKETS_FILE).get("_provenance") or {}
    raw = provenance.get("raw_data_provenance") or {}
    return str((raw.get("source") or {}).get("serverTime_utc") or "")[:10] or "undated"


def build_markets_from_exchange_info(exchange_info: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Parse raw exchangeInfo symbols with ccxt's own binance parser (no network)."""
    api = ccxt.binance()
    # fetch_markets() initialises these before parsing; without API keys they stay empty.
    api.options["crossMarginPairsData"] = []
    api.options["isolatedMarginPairsData"] = []
    markets = {}
    for raw in exchange_info["symbols"]:
        market = api.parse_market(copy.deepcopy(raw))
        if market is not None:
            markets[market["symbol"]] = market
    return markets


def write_markets_snapshot(path: str | Path | None = None) -> Path:
    """(Re)generate ``binance_spot_markets.json`` from ``binance_exchange_info.json``."""
    info = load_exchange_info()
    out: dict[str, Any] = {
        "_provenance": {
            "generated_from": f"rebalance_plugin/data/{EXCHANGE_INFO_FILE}",
            "generator": "rebalance_plugin.marketdata.offline.build_markets_from_exchange_info "
            "(ccxt.binance().parse_market, precisionMode TICK_SIZE)",
            "ccxt_version": ccxt.__version__,
            "raw_data_provenance": info["_provenance"],
        }
    }
    out.update(build_markets_from_exchange_info(info))
    target = Path(path) if path is not None else _data_path(MARKETS_FILE)
    target.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    _read_json.cache_clear()
    return target


def _offline_markets(api: Any, params: Any = None) -> list[dict[str, Any]]:
    # Same side effects as binance.fetch_markets() without fetchMargins/credentials.
    api.options["crossMarginPairsData"] = []
    api.options["isolatedMarginPairsData"] = []
    return list(load_markets_snapshot().values())


def _offline_empty(api: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    return {}


def _offline_fetch(api: Any, url: str, method: str = "GET", *args: Any, **kwargs: Any) -> Any:
    raise OfflineModeError(
        f"{api.id}: offline mode (rebalance_plugin.marketdata.offline) refuses HTTP {method} {url}"
    )


# method name -> offline implementation (sync signature; wrapped for the async class)
_OFFLINE_METHODS = {
    "fetch_markets": _offline_markets,  # GET /api/v3/exchangeInfo (+ fapi/dapi)
    "fetch_currencies": _offline_empty,  # ccxt returns {} without API keys anyway
    "fetch_tickers": _offline_empty,  # no live prices offline (list-markets/list-pairs ask)
    "fetch": _offline_fetch,  # any other HTTP request fails immediately
}


def _make_patch(name: str, offline: Any, original: Any, is_async: bool) -> Any:
    if is_async:

        async def patched(self, *args, **kwargs):
            if self.id != EXCHANGE_ID:
                return await original(self, *args, **kwargs)
            return offline(self, *args, **kwargs)

    else:

        def patched(self, *args, **kwargs):  # type: ignore[misc]
            if self.id != EXCHANGE_ID:
                return original(self, *args, **kwargs)
            return offline(self, *args, **kwargs)

    patched.__name__ = name
    patched.__doc__ = f"rebalance_plugin.marketdata.offline replacement of {name} (binance only)."
    return patched


_ORIGINALS: dict[type, dict[str, Any]] = {}  # class -> {name: original __dict__ entry}
_MISSING = object()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _refresh_camelcase_aliases(cls: type) -> None:
    # ccxt copies e.g. fetch_markets to a class attribute fetchMarkets on every
    # instantiation; re-point existing aliases (also on subclasses, e.g. ccxt.pro.binance).
    todo = [cls]
    while todo:
        klass = todo.pop()
        todo.extend(klass.__subclasses__())
        for name in _OFFLINE_METHODS:
            alias = _camel(name)
            if alias != name and alias in klass.__dict__:
                setattr(klass, alias, getattr(klass, name))


def install_offline_markets() -> None:
    """Make ccxt's binance classes load markets from the snapshot, never from the network.

    Idempotent: a second call does nothing.
    """
    for cls in (ccxt.binance, ccxt_async.binance):
        if cls in _ORIGINALS:
            continue
        is_async = cls is ccxt_async.binance
        _ORIGINALS[cls] = {name: cls.__dict__.get(name, _MISSING) for name in _OFFLINE_METHODS}
        for name, offline in _OFFLINE_METHODS.items():
            setattr(cls, name, _make_patch(name, offline, getattr(cls, name), is_async))
        _refresh_camelcase_aliases(cls)


def uninstall_offline_markets() -> None:
    """Undo :func:`install_offline_markets` (used by tests)."""
    for cls, originals in list(_ORIGINALS.items()):
        for name, original in originals.items():
            if original is _MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, original)
        _refresh_camelcase_aliases(cls)
        del _ORIGINALS[cls]


def main(argv: list[str] | None = None) -> None:
    """Install offline markets, then run the unchanged Freqtrade CLI (which calls sys.exit)."""
    install_offline_markets()
    from freqtrade.main import main as freqtrade_main

    freqtrade_main(sys.argv[1:] if argv is None else list(argv))


if __name__ == "__main__":
    main()
