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

Many bots on one account (issue 12): Freqtrade asks Binance for an order book per open trade
twice per loop and reads the whole account up to three times per order; twenty portfolios on
one IP would pass Binance's request weight limit. :func:`frugal_exchange` makes the bot's own
``Exchange`` instance (``FreqtradeBot.exchange``) answer those reads from what it already knows:

- ``fetch_ticker`` / ``fetch_l2_order_book`` (one level), which ``Exchange.get_rate`` and
  ``get_rates`` call through ``self``, from the loop's tickers (``quotes.py``); the tickers
  themselves come in one request, ``Exchange._api.fetch_tickers`` (ccxt), without touching
  Freqtrade's ticker cache (``_fetch_tickers_cache``, whose full-market content its balance
  conversion expects);
- live only: ``get_balances`` (called by ``Wallets._update_live``), ``create_order``,
  ``fetch_order`` (through ``fetch_order_or_stoploss_order``), ``cancel_order`` (through
  ``cancel_order_with_result``) and ``fetch_orders`` through the :class:`AccountBook`
  (``balances.py``).

Each wrapper is an attribute of that one instance; everything it cannot answer goes to
Freqtrade's own method.

Safety: the source of each of those Freqtrade functions must have a sha256 recorded in
``EXPECTED_SOURCE_SHA256`` (bot access, ``BOT_GUARD``), ``EXPECTED_BOOKING_SHA256`` (booking
unacknowledged orders, ``BOOKING_GUARD``) or ``EXPECTED_FRUGAL_SHA256`` (the frugal exchange,
``FRUGAL_GUARD``): a source read against the uses above in the releases named beside it
(``sourceguard.SourceGuard``, ``sourceguard.RELEASES``). Where it has another, that feature is off
(one warning in the log names the release: the bot then makes Freqtrade's own requests, or sends
a leg whose answer was lost again) and ``tests/unit/test_ft_sourceguard.py`` fails on a release
outside the window, so the access is re-checked against the new code.

Per release (2026.6 to 2026.9; ``make test-compat`` runs each):

- ``FreqtradeBot.handle_onexchange_order`` before 2026.8 appends every order the exchange lists
  for the pair since the trade opened that the trade lacks, including one this bot booked on
  another trade of the pair (2026.8 skips those, and rolls the session back on an error), and
  ``Order.order_by_id`` takes no ``pair`` (the stranger check in ``recovery.py`` passes one):
  booking is off on 2026.6 and 2026.7.
- ``Exchange.create_order`` 2026.6 leaves a finished order without an average price "closed"
  (2026.7 reopens it to be fetched again): the frugal exchange passes the answer on unchanged,
  so Freqtrade acts on it as it would by itself. ``Wallets._update_live`` differs before 2026.9
  only in its futures positions (spot has none). Both are accepted in every release.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .backoff import Gate
from .balances import AccountBook
from .quotes import Quotes
from .sourceguard import Accepted, SourceGuard

logger = logging.getLogger(__name__)


def params_from_file(strategy: Any) -> dict[str, Any]:
    """The strategy's parameter file (``strategies/<Strategy>.json``, written by hyperopt) as
    Freqtrade loaded it: ``HyperStrategyMixin._ft_params_from_file``, set in its ``__init__``
    from ``load_params_from_file`` (no public accessor). {} without a file. The settings check
    and the trigger's parameters read it; ``tests/unit/test_privates.py`` fails if Freqtrade
    renames it."""
    return dict(getattr(strategy, "_ft_params_from_file", None) or {})


def time_in_force(exchange: str) -> list[str]:
    """The times in force Freqtrade accepts on ``exchange`` (``["GTC", "IOC", ...]``): its
    exchange class's ``_ft_has["order_time_in_force"]`` over ``Exchange._ft_has_default``, the
    class found as Freqtrade's ``ExchangeResolver`` finds it (``MAP_EXCHANGE_CHILDCLASS``, then
    the capitalised name, else the generic ``Exchange``). Freqtrade refuses any other at
    start-up (``Exchange.validate_order_time_in_force``); no public accessor exists before the
    exchange is built. ``tests/unit/test_ordertypes.py`` fails if Freqtrade renames these."""
    import freqtrade.exchange as exchanges
    from freqtrade.exchange.common import MAP_EXCHANGE_CHILDCLASS

    name = MAP_EXCHANGE_CHILDCLASS.get(exchange, exchange)
    cls: Any = getattr(exchanges, name.title(), None)
    if not (isinstance(cls, type) and issubclass(cls, exchanges.Exchange)):
        cls = exchanges.Exchange
    has = {**exchanges.Exchange._ft_has_default, **cls._ft_has}
    return [str(v).upper() for v in has.get("order_time_in_force") or ["GTC"]]


def sites() -> dict[str, Any]:
    """The Freqtrade functions through which the running bot is reached (imported when first
    checked: the bot's modules are heavy, and a backtest never needs them)."""
    from freqtrade.data.dataprovider import DataProvider
    from freqtrade.rpc.rpc import RPC
    from freqtrade.rpc.rpc_manager import RPCManager

    return {
        "DataProvider.__init__": DataProvider.__init__,
        "RPCManager.__init__": RPCManager.__init__,
        "RPC.__init__": RPC.__init__,
    }


#: sha256 of ``inspect.getsource`` of each site: the same source in 2026.6 to 2026.9. Add a hash
#: only after re-reading that release's code against the uses above.
EXPECTED_SOURCE_SHA256: dict[str, Accepted] = {
    "DataProvider.__init__": "a47f83f0d7789c9377a0741aad82a355c5db1c0767c0ac8c50ec961869148ca5",
    "RPCManager.__init__": "3b0e116d0513581d6793fc5d097ed6f5e6c70cc4752e70e744fa288d41c841df",
    "RPC.__init__": "58853869acdb981b178408bbde039ee48610b0c25046c23d2e38e3487a4519af",
}

#: Reaching the running bot (its state: /stopentry, /start, the stops' pause).
BOT_GUARD = SourceGuard(
    sites,
    EXPECTED_SOURCE_SHA256,
    "/stopentry, /start and the pause of stop_loss/take_profit are off",
    logger,
)


def booking_sites() -> dict[str, Any]:
    """The Freqtrade code booking an order the exchange executed unacknowledged relies on:
    Freqtrade's recovery, the exchange's order list, and the look-up of a known order by id
    and pair (``recovery.py``'s stranger check)."""
    from freqtrade.exchange import Exchange
    from freqtrade.freqtradebot import FreqtradeBot
    from freqtrade.persistence import Order

    return {
        "FreqtradeBot.handle_onexchange_order": FreqtradeBot.handle_onexchange_order,
        "Exchange.fetch_orders": Exchange.fetch_orders,
        "Order.order_by_id": Order.order_by_id,
    }


#: sha256 of each booking site, with the releases it was read in (2026.6 and 2026.7: not safe,
#: see the module's docstring).
EXPECTED_BOOKING_SHA256: dict[str, Accepted] = {
    "FreqtradeBot.handle_onexchange_order": {
        "195d42551343e080d2ca9d148d9f80ba93794eefe5b13a811c17ab8ff0a563c3": ("2026.8", "2026.9"),
    },
    "Exchange.fetch_orders": "8d62ebcd9544dd0e9397521a38c453b8339d21ac88e1856c8246e1c860ddb923",
    "Order.order_by_id": {
        "2f5dde50eafc09facacd1c81060d352f42f7cf241e9e59b169c304a9bae1e926": ("2026.8", "2026.9"),
    },
}

#: Booking orders the exchange executed without Freqtrade hearing of it.
BOOKING_GUARD = SourceGuard(
    booking_sites,
    EXPECTED_BOOKING_SHA256,
    "the booking of orders the exchange executed unacknowledged is off (a leg whose answer was "
    "lost is sent again)",
    logger,
)


def freqtrade_bot(dp: Any) -> Any:
    """The running FreqtradeBot (to read and set its state), or None: in a backtest, without
    an RPC manager, or when Freqtrade's code changed. The booking's code is checked with it, so
    that a release where booking is off says so at start-up."""
    if dp is None or not BOT_GUARD.verified():
        return None
    manager = getattr(dp, "_DataProvider__rpc", None)
    rpc = getattr(manager, "_rpc", None)
    bot = getattr(rpc, "_freqtrade", None)
    if bot is not None:
        BOOKING_GUARD.verified()
    return bot


def exchange_orders(bot: Any, pair: str, since: datetime) -> list[dict[str, Any]]:
    """The exchange's orders of ``pair`` since ``since`` (ccxt order dicts); [] where the
    booking's code is not verified (``BOOKING_GUARD``): no order is then found to book, and
    the leg is sent again, as without this recovery."""
    if not BOOKING_GUARD.verified():
        return []
    return list(bot.exchange.fetch_orders(pair, since))


def book_exchange_order(bot: Any, trade: Any) -> None:
    """Let Freqtrade book, on ``trade``, the orders the exchange executed for it."""
    bot.handle_onexchange_order(trade)


# ---- the frugal exchange (issue 12: many bots on one IP) --------------------------------------
def frugal_sites() -> dict[str, Any]:
    """The Freqtrade functions whose calls the frugal exchange answers, or whose calling it
    relies on (``get_rate``/``get_rates`` call ``self.fetch_l2_order_book``/``fetch_ticker``,
    ``Wallets._update_live`` calls ``get_balances``, the order look-ups go through
    ``self.fetch_order``, cancels through ``self.cancel_order``)."""
    from freqtrade.exchange import Exchange
    from freqtrade.wallets import Wallets

    return {
        "Exchange.get_rate": Exchange.get_rate,
        "Exchange.get_rates": Exchange.get_rates,
        "Exchange.fetch_ticker": Exchange.fetch_ticker,
        "Exchange.fetch_l2_order_book": Exchange.fetch_l2_order_book,
        "Exchange.get_balances": Exchange.get_balances,
        "Exchange.create_order": Exchange.create_order,
        "Exchange.fetch_order": Exchange.fetch_order,
        "Exchange.fetch_order_or_stoploss_order": Exchange.fetch_order_or_stoploss_order,
        "Exchange.cancel_order": Exchange.cancel_order,
        "Exchange.cancel_order_with_result": Exchange.cancel_order_with_result,
        "Exchange.fetch_orders": Exchange.fetch_orders,
        "Wallets._update_live": Wallets._update_live,
    }


#: sha256 of ``inspect.getsource`` of each frugal site, with the releases it was read in where
#: they differ (see the module's docstring).
EXPECTED_FRUGAL_SHA256: dict[str, Accepted] = {
    "Exchange.get_rate": "2a48ec5364413c4ee130ce372b74afa26bce67f0fc1011b3afa1fafbbfff19b3",
    "Exchange.get_rates": "42228845c87a71b7edb6511977cebc833edd29a5e53c5bbb8f38e4554d450b02",
    "Exchange.fetch_ticker": "83915ff22f22f984546b9d851cef36b96ce91d87ea692de2c1f8869046346917",
    "Exchange.fetch_l2_order_book": (
        "4dca57b69f15823b53bc8edcde8cb8782ea2ec0daa784045cf21b17af00eb9df"
    ),
    "Exchange.get_balances": "4e8dd3458d436f005cb6fa68ef4b256d3cc4cb56c4b90b330dc3309e5b8412c6",
    "Exchange.create_order": {
        "c774db63f45d6478f89096cc76453272118af30b5c2bbaa5fd365a22b05dc7f6": ("2026.6",),
        "327a1f34a6f921030bc9eb10173ff7276304b6cca92fb925dbafcf3a33aea121": (
            "2026.7",
            "2026.8",
            "2026.9",
        ),
    },
    "Exchange.fetch_order": "0d2ff5593b790abd36f03179f9cabb9fb6a8d30003266c95183ef657507d769c",
    "Exchange.fetch_order_or_stoploss_order": (
        "8cf08ab59403aac6ec6d9512633b47c094615aa9de437229e4f435c284fd263c"
    ),
    "Exchange.cancel_order": "546458125b77815344bd4e2cffe98e4ae6c4afc5858c472b84397262478dc51f",
    "Exchange.cancel_order_with_result": (
        "ffa077856c6178dcde7a8a472360ce16ee1b250c22790cae58f9c37a1c508a4c"
    ),
    "Exchange.fetch_orders": "8d62ebcd9544dd0e9397521a38c453b8339d21ac88e1856c8246e1c860ddb923",
    "Wallets._update_live": {
        "b01eb508f50673ce3e34a8ce02ac510d6c52e0ba6445a8f2223168ef2936529a": ("2026.6", "2026.7"),
        "09fd2974e95267eda3b7dd022ee45bb71ae5b9e5f5c2c76148b34433a16f85d2": ("2026.8",),
        "9cff4649e8e1e9310d8870505295b728727605cbb9333edbb0ccd3286e39062f": ("2026.9",),
    },
}

#: The frugal exchange (many bots on one IP).
FRUGAL_GUARD = SourceGuard(
    frugal_sites,
    EXPECTED_FRUGAL_SHA256,
    "the frugal exchange is off: every price and balance is asked of the exchange as Freqtrade "
    "does by itself (more request weight)",
    logger,
)


def fetch_tickers(exchange: Any, pairs: list[str]) -> dict[str, Any]:
    """The tickers of ``pairs`` in one request (Binance: ``ticker/24hr`` with ``symbols``),
    straight from ccxt, leaving Freqtrade's ticker cache alone."""
    return dict(exchange._api.fetch_tickers(pairs))


def frugal_exchange(exchange: Any, quotes: Quotes, book: AccountBook | None) -> bool:
    """Make ``exchange`` (the bot's own instance) answer rate look-ups from ``quotes`` and,
    when ``book`` is given (live), account and finished-order reads from ``book``. Installed
    once per instance (a /reload_config builds a new one); False when Freqtrade's code changed.
    The instance's ccxt clients wait out bans and rate limits from then on (:func:`wait_out_bans`,
    live or dry, whatever this guard says)."""
    wait_out_bans(exchange)
    if exchange is None or not FRUGAL_GUARD.verified():
        return False
    own = exchange.__dict__
    installed = own.get("_rebalance_frugal") is not None
    own["_rebalance_frugal"] = (quotes, book)  # a new plugin on the same exchange: its own
    if not installed:
        _answer_quotes(exchange, own)
        if book is not None:
            _answer_account(exchange, own)
    return True


def _current(own: dict[str, Any]) -> tuple[Quotes, AccountBook | None]:
    """The quotes and account book of the plugin now using the exchange."""
    found: tuple[Quotes, AccountBook | None] = own["_rebalance_frugal"]
    return found


def _answer_quotes(exchange: Any, own: dict[str, Any]) -> None:
    """Rate look-ups (ticker, top of the order book) answered from the quotes, else asked as
    Freqtrade does."""
    fetch_ticker: Callable[..., Any] = exchange.fetch_ticker
    fetch_book: Callable[..., Any] = exchange.fetch_l2_order_book

    def ticker(pair: str) -> Any:
        return _current(own)[0].ticker(pair) or fetch_ticker(pair)

    def order_book(pair: str, limit: int = 100) -> Any:
        return _current(own)[0].order_book(pair, limit) or fetch_book(pair, limit)

    own["fetch_ticker"] = ticker
    own["fetch_l2_order_book"] = order_book


def _answer_account(exchange: Any, own: dict[str, Any]) -> None:
    """Live: balance and finished-order reads answered from the account book, which every
    order placed, looked up or cancelled keeps current."""
    get_balances: Callable[..., Any] = exchange.get_balances
    create_order: Callable[..., Any] = exchange.create_order
    fetch_order: Callable[..., Any] = exchange.fetch_order
    cancel_order: Callable[..., Any] = exchange.cancel_order
    fetch_orders: Callable[..., Any] = exchange.fetch_orders

    def account() -> AccountBook:
        found = _current(own)[1]
        assert found is not None
        return found

    def balances(params: dict | None = None) -> Any:
        if params:
            return get_balances(params)
        return account().balances(get_balances)

    def place(**kwargs: Any) -> Any:
        try:
            order = create_order(**kwargs)
        except Exception as err:
            account().refused(kwargs.get("pair"), err)  # it may have been taken all the same
            raise
        account().placed(order)
        return order

    def look_up(order_id: str, pair: str, params: dict | None = None) -> Any:
        if not params:
            known = account().finished(order_id)
            if known is not None:
                return known
        order = fetch_order(order_id, pair, params)
        account().seen(order)
        return order

    def cancel(order_id: str, pair: str, params: dict | None = None) -> Any:
        account().invalidate()
        try:
            return cancel_order(order_id, pair, params)
        finally:
            account().invalidate()

    def orders_since(pair: str, since: datetime, params: dict | None = None) -> Any:
        found = fetch_orders(pair, since, params)
        account().invalidate()
        return found

    own["get_balances"] = balances
    own["create_order"] = place
    own["fetch_order"] = look_up
    own["cancel_order"] = cancel
    own["fetch_orders"] = orders_since


def frugal_installed(exchange: Any) -> bool:
    return exchange is not None and "_rebalance_frugal" in exchange.__dict__


def reload_markets(dp: Any) -> bool:
    """Read the exchange's markets again now (Freqtrade does it hourly by itself): a market
    that closed, reopened or changed its rules is seen at once. False when it failed."""
    exchange = getattr(freqtrade_bot(dp), "exchange", None)
    if exchange is None:
        return False
    try:
        exchange.reload_markets(force=True)
    except Exception as err:  # the exchange's trouble: tried again later
        logger.debug(f"Could not reload the markets: {err}")
        return False
    return True


# ---- waiting out bans and rate limits (issue 20) ----------------------------------------------
def backoff_sites() -> dict[str, Any]:
    """Where Freqtrade's ``Exchange`` makes the ccxt clients every request goes through: the sync
    ``_api`` (orders, balances, tickers), the async ``_api_async`` (candles, markets) and, with
    websockets on, ``_ws_async``, all three in ``Exchange.__init__``. That function is too large
    and too often changed to pin whole: the guard asks for the three assignments in it."""
    from freqtrade.exchange import Exchange

    return {f"Exchange.__init__ ({attr})": Exchange.__init__ for attr in BACKOFF_CLIENTS}


#: The attributes of Freqtrade's ``Exchange`` holding its ccxt clients.
BACKOFF_CLIENTS = ("_api", "_api_async", "_ws_async")

#: Waiting out a ban (418) or a rate limit (429) without sending anything meanwhile.
BACKOFF_GUARD = SourceGuard(
    backoff_sites,
    {},
    "bans and rate limits are not waited out: Freqtrade retries refused requests as by itself",
    logger,
    calls={
        f"Exchange.__init__ ({attr})": f"self.{attr} = self._init_ccxt(" for attr in BACKOFF_CLIENTS
    },
)


def wait_out_bans(exchange: Any) -> bool:
    """Put one :class:`~rebalance_plugin.ft.backoff.Gate` on every ccxt client of ``exchange``
    (the bot's own Freqtrade ``Exchange``): after a 418 or 429 the requests it would refuse are
    refused locally with ccxt's ``DDoSProtection``, without reaching the exchange, until the
    time it named (``backoff.py``). Installed once per instance (a /reload_config builds a new
    one); False when Freqtrade's code changed."""
    if exchange is None or not BACKOFF_GUARD.verified():
        return False
    own = exchange.__dict__
    if own.get("_rebalance_gate") is None:
        gate = Gate(str(getattr(own.get("_api"), "name", None) or "the exchange"))
        own["_rebalance_gate"] = gate
        from ccxt.base.exchange import BaseExchange

        for attr in BACKOFF_CLIENTS:
            client = own.get(attr)
            if isinstance(client, BaseExchange):  # sync, async and pro clients alike
                gate_ccxt(client, gate)
    return True


def gate_ccxt(api: Any, gate: Gate) -> None:
    """Make the ccxt client ``api`` (sync or async) ask ``gate`` before each request
    (``fetch``, which every ccxt call goes through) and tell it each answer's status
    (``handle_errors``, which ccxt calls with every answer's status and headers)."""
    import ccxt

    fetch: Callable[..., Any] = api.fetch
    handle_errors: Callable[..., Any] = api.handle_errors

    def refuse(method: str, url: str) -> None:
        why = gate.refusal(method, url)
        if why is not None:
            raise ccxt.DDoSProtection(f"{api.id} {why}")

    if inspect.iscoroutinefunction(fetch):

        async def gated_async(
            url: str, method: str = "GET", headers: Any = None, body: Any = None
        ) -> Any:
            refuse(method, url)
            return await fetch(url, method, headers, body)

        api.fetch = gated_async
    else:

        def gated(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
            refuse(method, url)
            return fetch(url, method, headers, body)

        api.fetch = gated

    def noted(
        code: Any, reason: Any, url: str, method: str, headers: Any, body: Any, *rest: Any
    ) -> Any:
        if isinstance(code, int):
            gate.answered(code, headers, body if isinstance(body, str) else None, method, url)
        return handle_errors(code, reason, url, method, headers, body, *rest)

    api.handle_errors = noted


def gate_of(exchange: Any) -> Gate | None:
    """The gate :func:`wait_out_bans` put on ``exchange``, if any."""
    return None if exchange is None else exchange.__dict__.get("_rebalance_gate")
