"""Run Freqtrade against an exchange *offline*, from a file of its markets.

Why this exists
---------------
Every Freqtrade command that builds an exchange object (``backtesting``,
``list-markets``, ``list-pairs``, ``hyperopt``, ...) loads the exchange's markets
first: ``Exchange.reload_markets()`` -> ccxt ``load_markets()`` ->
``<exchange>.fetch_markets()``, which asks the exchange (Binance: ``GET
/api/v3/exchangeInfo`` plus the futures ``exchangeInfo``). Without network access this
fails and Freqtrade stops with "Could not load markets, therefore cannot start".
Freqtrade has no option to read markets from a file, so this module patches the
exchange's ccxt classes instead (sync ``ccxt.<id>``, ``ccxt.async_support.<id>`` and
``ccxt.pro.<id>``, which Freqtrade uses as its async API; ``ccxt.pro.binanceus`` does not
derive from ``ccxt.async_support.binanceus``, so each is patched itself):

* ``fetch_markets``    -> the unified markets of the file (for Binance by default the
  bundled ``data/binance_spot_markets.json``)
* ``fetch_currencies`` -> ``{}`` (what ccxt itself returns without API keys)
* ``fetch_tickers``    -> ``{}`` (no live prices offline; ``list-markets`` and
  ``list-pairs`` ask for them to show a "Min Stake" column)
* ``fetch``            -> raises :class:`OfflineModeError`: any other HTTP request
  of that exchange fails at once instead of hanging on a dead network.

Only instances whose ``id`` is an installed exchange's are affected (binanceus subclasses
binance, and keeps its original methods unless it is installed itself).

Markets files
-------------
Any JSON file in ccxt's unified-market format: ``{symbol: market}`` (keys starting with
``_`` are notes, e.g. ``_provenance``) or a list of markets, as ccxt's own test fixtures
(``ts/src/test/static/markets/<exchange>.json``) or ``json.dump(exchange.markets)`` of a
live ccxt write them. Their precision is in the precision mode of the ccxt that wrote them,
which need not be today's (:func:`file_precision_mode`); they are converted to the loading
class's ``precisionMode`` (:func:`normalise_precision`), else Freqtrade would read Binance's
old "amount": 5 (five decimals) as a step of 5.

Data files (both in ``rebalance_plugin/data``, each with a ``_provenance`` key):

* ``binance_exchange_info.json`` - raw ``exchangeInfo``-style symbols with Binance's
  real filters, copied from a public exchangeInfo dump (see its ``_provenance``).
* ``binance_spot_markets.json`` - the same symbols in ccxt's unified market format,
  produced by ccxt's own ``binance.parse_market`` from the raw file. Regenerate
  after editing the raw file or upgrading ccxt::

      python -c "import rebalance_plugin.marketdata.offline as o; o.write_markets_snapshot()"

Usage (exactly ``freqtrade ...``, but offline)::

    python -m rebalance_plugin.marketdata.offline backtesting --config cfg.json --strategy X ...
    python -m rebalance_plugin.marketdata.offline --markets okx.json backtesting --config ...

``--markets FILE`` is taken off the arguments before Freqtrade sees them; the markets are
the exchange's the configuration names (``exchange.name``, or ``--exchange``).

Offline backtest configs need local data (e.g. ``"dataformat_ohlcv": "feather"``) with a
StaticPairList; the fee is the config's ``fee``, else the market's (no request either way).
"""

from __future__ import annotations

import copy
import functools
import json
import sys
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import ccxt
import ccxt.async_support as ccxt_async

from ..core.rules import (
    DECIMAL_PLACES,
    PRECISION_MODES,
    SIGNIFICANT_DIGITS,
    TICK_SIZE,
    decimal_step,
)

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


# --- markets files in any ccxt era ------------------------------------------------------------


class MarketsFileError(ValueError):
    """A markets file that cannot be read or converted (the message says which and why)."""


def read_markets_file(path: str | Path) -> tuple[dict[str, dict[str, Any]], int | None]:
    """The markets of a JSON file (``{symbol: market}`` or a list of markets), and the
    precision mode it declares in an optional ``"_precisionMode"`` key (2, 3 or 4), if any."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise MarketsFileError(f"markets file {path}: {err}") from err
    if not isinstance(data, (dict, list)):
        raise MarketsFileError(f"markets file {path}: neither {{symbol: market}} nor a list")
    declared = data.get("_precisionMode") if isinstance(data, dict) else None
    items = data.items() if isinstance(data, dict) else ((None, m) for m in data)
    markets = {
        str(m.get("symbol") or key): m
        for key, m in items
        if not (isinstance(key, str) and key.startswith("_")) and isinstance(m, dict)
    }
    if not markets:
        raise MarketsFileError(f"markets file {path}: no ccxt unified markets in it")
    return markets, declared


def _precision_values(markets: dict[str, dict[str, Any]]) -> list[float]:
    values = []
    for market in markets.values():
        for key in ("amount", "price"):
            value = (market.get("precision") or {}).get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                values.append(float(value))
    return values


def file_precision_mode(markets: dict[str, dict[str, Any]], declared: Any = None) -> int:
    """The ccxt precision mode a markets file was written in.

    The file's own ``"_precisionMode"`` if it has one; else TICK_SIZE when any market's
    ``precision.amount`` or ``precision.price`` is a fraction, DECIMAL_PLACES when all are
    whole numbers. Why that tells them apart: in DECIMAL_PLACES every precision is a count of
    decimals (Binance's BTC/USDT "amount": 5, XRP "amount": 0), while a TICK_SIZE file lists
    the steps themselves, and every exchange lists some coin whose amount step or price tick is
    below 1 (BTC's amount step; ccxt's fixtures of ten exchanges all do). SIGNIFICANT_DIGITS
    also counts in whole numbers: such a file (Bitfinex, Bithumb) must declare
    ``"_precisionMode": 3``."""
    if declared is not None:
        if declared not in PRECISION_MODES:
            raise MarketsFileError(f"_precisionMode {declared!r}: not 2, 3 or 4")
        return int(declared)
    values = _precision_values(markets)
    if values and all(v.is_integer() for v in values):
        return DECIMAL_PLACES
    return TICK_SIZE


def _places_of(step: float) -> int:
    """The decimals of a power-of-ten step (0.001 -> 3, 10 -> -1); refuses any other step."""
    d = Decimal(repr(step)).normalize()
    if step <= 0 or d.as_tuple().digits != (1,):
        raise MarketsFileError(f"step {step!r} has no DECIMAL_PLACES equivalent")
    return -d.as_tuple().exponent  # type: ignore[operator]


def normalise_precision(
    markets: dict[str, dict[str, Any]], source: int, target: int
) -> dict[str, dict[str, Any]]:
    """``markets`` (copied) with every ``precision`` value converted from ccxt's precision mode
    ``source`` to ``target``: DECIMAL_PLACES 5 <-> TICK_SIZE 0.00001. Limits are values in
    every mode and stay. SIGNIFICANT_DIGITS cannot be converted (its step depends on the value):
    a file in it loads only into a class of that mode."""
    if source == target:
        return copy.deepcopy(markets)
    if SIGNIFICANT_DIGITS in (source, target):
        raise MarketsFileError(
            f"markets in {PRECISION_MODES[source]} cannot be converted to "
            f"{PRECISION_MODES[target]} (significant digits have no fixed step)"
        )
    convert = decimal_step if source == DECIMAL_PLACES else _places_of
    out = copy.deepcopy(markets)
    for market in out.values():
        precision = market.get("precision") or {}
        for key, value in precision.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                precision[key] = convert(value)
    return out


def class_precision_mode(exchange_id: str) -> int:
    """The precision mode of ccxt's class for ``exchange_id`` (today's ccxt: TICK_SIZE for
    every exchange Freqtrade supports)."""
    return int(getattr(ccxt, exchange_id)().precisionMode)


def load_markets_file(path: str | Path, exchange_id: str) -> dict[str, dict[str, Any]]:
    """The markets of ``path`` in the precision mode of ccxt's ``exchange_id`` class.

    A market whose ``precision`` is null or missing (ccxt's Binance fixture has a future and an
    option so) gets ``{}``: ccxt would keep the null, and Freqtrade reads
    ``market["precision"].get("price")`` of every market it lists."""
    markets, declared = read_markets_file(path)
    source = file_precision_mode(markets, declared)
    out = normalise_precision(markets, source, class_precision_mode(exchange_id))
    for market in out.values():
        if not isinstance(market.get("precision"), dict):
            market["precision"] = {}
    return out


# --- the patch ------------------------------------------------------------------------------------

#: exchange id -> the markets its instances load while offline mode is installed.
_INSTALLED: dict[str, dict[str, dict[str, Any]]] = {}


def _offline_markets(api: Any, params: Any = None) -> list[dict[str, Any]]:
    if api.id.startswith("binance"):
        # Same side effects as binance.fetch_markets() without fetchMargins/credentials.
        api.options["crossMarginPairsData"] = []
        api.options["isolatedMarginPairsData"] = []
    return list(copy.deepcopy(_INSTALLED[api.id]).values())


def _offline_empty(api: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    return {}


def _offline_fetch(api: Any, url: str, method: str = "GET", *args: Any, **kwargs: Any) -> Any:
    raise OfflineModeError(
        f"{api.id}: offline mode (rebalance_plugin.marketdata.offline) refuses HTTP {method} {url}"
    )


# method name -> offline implementation (sync signature; wrapped for the async class)
_OFFLINE_METHODS = {
    "fetch_markets": _offline_markets,  # e.g. GET /api/v3/exchangeInfo (+ fapi/dapi)
    "fetch_currencies": _offline_empty,  # ccxt returns {} without API keys anyway
    "fetch_tickers": _offline_empty,  # no live prices offline (list-markets/list-pairs ask)
    "fetch": _offline_fetch,  # any other HTTP request fails immediately
}


def _make_patch(name: str, offline: Any, original: Any, is_async: bool) -> Any:
    if is_async:

        async def patched(self, *args, **kwargs):
            if self.id not in _INSTALLED:
                return await original(self, *args, **kwargs)
            return offline(self, *args, **kwargs)

    else:

        def patched(self, *args, **kwargs):  # type: ignore[misc]
            if self.id not in _INSTALLED:
                return original(self, *args, **kwargs)
            return offline(self, *args, **kwargs)

    patched.__name__ = name
    patched.__doc__ = f"rebalance_plugin.marketdata.offline replacement of {name} (offline ids)."
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


def _exchange_classes(exchange_id: str) -> list[tuple[type, bool]]:
    """ccxt's sync, async and pro classes of ``exchange_id`` (class, is_async)."""
    import ccxt.pro as ccxt_pro

    found = [(getattr(ccxt, exchange_id, None), False)]
    found += [(getattr(mod, exchange_id, None), True) for mod in (ccxt_async, ccxt_pro)]
    return [(cls, is_async) for cls, is_async in found if isinstance(cls, type)]


def install_offline_markets(
    exchange_id: str = EXCHANGE_ID, markets_file: str | Path | None = None
) -> None:
    """Make ccxt's ``exchange_id`` classes load markets from ``markets_file`` (Binance: the
    bundled snapshot by default), never from the network.

    Idempotent: a second call for an installed exchange changes nothing unless it names a
    markets file (whose markets then replace the earlier ones)."""
    if exchange_id not in ccxt.exchanges:
        raise MarketsFileError(f"ccxt knows no exchange {exchange_id!r}")
    if markets_file is not None:
        _INSTALLED[exchange_id] = load_markets_file(markets_file, exchange_id)
    elif exchange_id not in _INSTALLED:
        if exchange_id != EXCHANGE_ID:
            raise MarketsFileError(f"offline markets of {exchange_id}: give a markets file")
        _INSTALLED[exchange_id] = load_markets_snapshot()
    for cls, is_async in _exchange_classes(exchange_id):
        if cls in _ORIGINALS:
            continue
        _ORIGINALS[cls] = {name: cls.__dict__.get(name, _MISSING) for name in _OFFLINE_METHODS}
        for name, offline in _OFFLINE_METHODS.items():
            setattr(cls, name, _make_patch(name, offline, getattr(cls, name), is_async))
        _refresh_camelcase_aliases(cls)


def uninstall_offline_markets() -> None:
    """Undo :func:`install_offline_markets` for every exchange (used by tests)."""
    for cls, originals in reversed(list(_ORIGINALS.items())):
        for name, original in originals.items():
            if original is _MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, original)
        _refresh_camelcase_aliases(cls)
        del _ORIGINALS[cls]
    _INSTALLED.clear()


# --- the command ----------------------------------------------------------------------------------


def split_markets_option(argv: list[str]) -> tuple[str | None, list[str]]:
    """``--markets FILE`` (or ``--markets=FILE``) taken off ``argv``: (FILE or None, the rest)."""
    rest: list[str] = []
    markets: str | None = None
    args = iter(argv)
    for arg in args:
        if arg == "--markets":
            markets = next(args, None)
            if markets is None:
                raise MarketsFileError("--markets needs a file")
        elif arg.startswith("--markets="):
            markets = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    return markets, rest


def configured_exchange(argv: list[str]) -> str | None:
    """The exchange Freqtrade will build for ``argv``: ``--exchange``, else ``exchange.name``
    of its config files (Freqtrade's own parsing, ``add_config_files`` and the
    ``FREQTRADE__EXCHANGE__NAME`` variable included); None without one."""
    from freqtrade.commands import Arguments
    from freqtrade.configuration.environment_vars import environment_vars_to_dict
    from freqtrade.configuration.load_config import load_from_files

    args = Arguments(argv).get_parsed_arg()
    if args.get("exchange"):
        return str(args["exchange"]).lower()
    files = list(args.get("config") or [])
    config = load_from_files(files) if files and "-" not in files else {}
    name = (environment_vars_to_dict().get("exchange") or {}).get("name") or (
        config.get("exchange") or {}
    ).get("name")
    return str(name).lower() if name else None


def main(argv: list[str] | None = None) -> None:
    """Install offline markets, then run the unchanged Freqtrade CLI (which calls sys.exit).

    Without ``--markets`` Binance loads the bundled snapshot; with it, the configured exchange
    loads the file's markets."""
    markets_file, args = split_markets_option(sys.argv[1:] if argv is None else list(argv))
    if markets_file is None:
        install_offline_markets()
    else:
        exchange = configured_exchange(args) if args else None
        if exchange is None:
            sys.exit("offline: --markets needs an exchange: exchange.name in the config")
        try:
            install_offline_markets(exchange, markets_file)
        except MarketsFileError as err:
            sys.exit(f"offline: {err}")
    from freqtrade.main import main as freqtrade_main

    freqtrade_main(args)


if __name__ == "__main__":
    main()
