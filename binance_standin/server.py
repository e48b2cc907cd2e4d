"""Serving the stand-in: the HTTP server in a thread, and the ccxt config that points
ccxt's ``binance`` at it."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from binance_standin.common import HOST
from binance_standin.exchange import SimExchange
from binance_standin.routes import Handler


class SimHTTPServer(ThreadingHTTPServer):
    """The HTTP front of a :class:`SimExchange` (``.sim``); ``shutdown()`` stops and closes."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sim: SimExchange) -> None:
        super().__init__(address, Handler)
        self.sim = sim
        self._serving = threading.Event()
        self._closed = False

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}"

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self._serving.set()
        super().serve_forever(poll_interval)

    def shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._serving.is_set():
            super().shutdown()
        self.server_close()


def start_server(
    port: int = 0, datadir: str | Path | None = None, *, dialect: str = "binance", **options: Any
) -> tuple[SimHTTPServer, str]:
    """Start the sim on 127.0.0.1:``port`` (0 = any free port) in a daemon thread.

    ``options`` go to :class:`SimExchange` (timeframe, start, balances, fee, key, secret,
    spread, depth, levels, clock, exchange_info, weight_limit). Returns ``(server, base_url)``;
    ``server.sim`` is the exchange, ``server.shutdown()`` stops it. ``dialect="kraken"``
    serves Kraken's REST API instead (``binance_standin.kraken``; ``maker_fee`` too).
    """
    if datadir is None:
        raise ValueError("start_server: datadir is required")
    server: SimHTTPServer
    if dialect == "kraken":
        from binance_standin.kraken.server import kraken_server

        server = kraken_server(port, datadir, **options)
    elif dialect == "binance":
        server = SimHTTPServer((HOST, int(port)), SimExchange(datadir, **options))
    else:
        raise ValueError(f"start_server: unknown dialect {dialect!r} (binance, kraken)")
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.02},
        name=f"binance-sim-{server.server_address[1]}",
        daemon=True,
    )
    thread.start()
    server._serving.wait(5)
    return server, server.url


# ---------------------------------------------------------------------------- ccxt side
def _redirect_urls(value: Any, base: str, ws_base: str) -> Any:
    """Map every URL of ccxt's binance ``urls`` tree to the sim (structure kept)."""
    if isinstance(value, dict):
        return {k: _redirect_urls(v, base, ws_base) for k, v in value.items()}
    if not isinstance(value, str):
        return value
    parts = urlsplit(value)
    if parts.scheme in ("ws", "wss"):
        return f"{ws_base}/ws-not-served/{parts.netloc.split(':')[0]}{parts.path}"
    if parts.scheme in ("http", "https"):
        if parts.netloc == "api.binance.com":
            return base + parts.path  # spot: /api/v3, /api/v1, /sapi/v1 ... as on Binance
        return f"{base}/{parts.netloc}{parts.path}"  # others: 404 at the sim, visibly
    return value


def ccxt_overrides(base_url: str) -> dict[str, Any]:
    """ccxt config for ``binance`` against the sim at ``base_url`` (JSON-serialisable).

    For Freqtrade put it into both ``exchange.ccxt_config`` and ``exchange.ccxt_async_config``
    (and set ``exchange.enable_ws`` false). It points every API URL ccxt's binance (and
    ccxt.pro's, websockets included) knows - all of ``urls.api`` - at the sim:
    Binance spot paths keep their path (``/api/v3``, ``/sapi/v1``), everything else gets
    ``/<original host>/<path>`` (futures, options, portfolio margin) or
    ``ws://.../ws-not-served/...`` (websockets), which the sim answers with a logged 404.
    The options stop ccxt from asking for what the sim does not serve:

    * ``fetchMarkets.types = ["spot"]`` - no USD-M/COIN-M futures ``exchangeInfo``
      (fapi/dapi) in ``load_markets``;
    * ``fetchMargins = false`` - no ``sapi margin/allPairs`` and ``margin/isolated/allPairs``
      in ``load_markets`` when API keys are set;
    * ``fetchCurrencies = false`` - no ``sapi capital/config/getall`` in ``load_markets``
      when API keys are set.
    """
    import ccxt  # lazily: the sim process itself does not need ccxt

    base = base_url.rstrip("/")
    ws_base = "ws://" + urlsplit(base).netloc
    urls: dict[str, Any] = {}
    sources = [ccxt.binance().urls]
    try:
        import ccxt.pro

        sources.append(ccxt.pro.binance().urls)
    except Exception:  # pragma: no cover - ccxt without pro
        pass
    for src in sources:
        urls.setdefault("api", {}).update(_redirect_urls(src["api"], base, ws_base))
    return {
        "urls": urls,
        "options": {
            "fetchMarkets": {"types": ["spot"]},
            "fetchMargins": False,
            "fetchCurrencies": False,
        },
    }
