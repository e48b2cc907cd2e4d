"""A local stand-in for CoinGecko's public API v3 on 127.0.0.1 (a test tool, not shipped).

Serves the two endpoints the presets use, in CoinGecko's format:

* ``GET /api/v3/ping`` -> ``{"gecko_says": "(V3) To the Moon!"}``
* ``GET /api/v3/coins/markets?vs_currency=usd[&order=market_cap_desc][&per_page=N][&page=P]
  [&ids=a,b]`` -> a list of coin objects (id, symbol, name, current_price, market_cap,
  market_cap_rank, circulating_supply, last_updated, ...), largest market cap first. Without
  ``vs_currency`` it answers 400 ``{"error": "Missing parameter vs_currency"}``, as CoinGecko
  does.

The coins are given as :class:`Coin` (price and circulating supply; the market cap is their
product, as CoinGecko computes it). ``server.status`` forces every answer to one HTTP status
(e.g. 429, CoinGecko's rate limit) to test fallbacks; ``server.requests`` records each request
(path and query). ``pycoingecko`` reaches it with ``api.api_base_url = server.url + "/api/v3/"``.

    python -m coingecko_standin --port 8765 [--coins FILE.json]
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

HOST = "127.0.0.1"
LAST_UPDATED = "2026-06-02T23:59:00.000Z"


@dataclass(frozen=True)
class Coin:
    id: str
    symbol: str
    name: str
    price: float
    circulating_supply: float

    @property
    def market_cap(self) -> float:
        return self.price * self.circulating_supply


def market_entry(coin: Coin, rank: int, last_updated: str = LAST_UPDATED) -> dict[str, Any]:
    """One element of ``/coins/markets``, with CoinGecko's field names."""
    cap = coin.market_cap
    return {
        "id": coin.id,
        "symbol": coin.symbol.lower(),
        "name": coin.name,
        "image": f"https://coin-images.coingecko.com/coins/images/0/large/{coin.id}.png",
        "current_price": coin.price,
        "market_cap": cap,
        "market_cap_rank": rank,
        "fully_diluted_valuation": cap,
        "total_volume": cap / 20,
        "high_24h": coin.price,
        "low_24h": coin.price,
        "price_change_24h": 0.0,
        "price_change_percentage_24h": 0.0,
        "market_cap_change_24h": 0.0,
        "market_cap_change_percentage_24h": 0.0,
        "circulating_supply": coin.circulating_supply,
        "total_supply": coin.circulating_supply,
        "max_supply": None,
        "ath": coin.price,
        "ath_change_percentage": 0.0,
        "ath_date": last_updated,
        "atl": coin.price,
        "atl_change_percentage": 0.0,
        "atl_date": last_updated,
        "roi": None,
        "last_updated": last_updated,
    }


class _Handler(BaseHTTPRequestHandler):
    server: CoinGeckoServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.server.requests.append((parts.path, query))
        if self.server.status is not None:
            self._send(self.server.status, {"status": {"error_code": self.server.status}})
            return
        path = parts.path.rstrip("/")
        if path == "/api/v3/ping":
            self._send(200, {"gecko_says": "(V3) To the Moon!"})
        elif path == "/api/v3/coins/markets":
            if "vs_currency" not in query:
                self._send(400, {"error": "Missing parameter vs_currency"})
                return
            self._send(200, self.server.markets(query))
        else:
            self._send(
                404, {"error": "Incorrect path. Please check https://www.coingecko.com/api/"}
            )


class CoinGeckoServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, coins: list[Coin], port: int = 0) -> None:
        super().__init__((HOST, port), _Handler)
        self.coins = list(coins)
        self.status: int | None = None
        self.requests: list[tuple[str, dict[str, str]]] = []

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v3/"

    def markets(self, query: dict[str, str]) -> list[dict[str, Any]]:
        ranked = sorted(self.coins, key=lambda c: -c.market_cap)
        entries = [market_entry(c, i + 1) for i, c in enumerate(ranked)]
        if query.get("ids"):
            ids = set(query["ids"].split(","))
            entries = [e for e in entries if e["id"] in ids]
        per_page = max(1, min(int(query.get("per_page", 100)), 250))
        page = max(1, int(query.get("page", 1)))
        return entries[(page - 1) * per_page : page * per_page]


def start_server(coins: list[Coin], port: int = 0) -> CoinGeckoServer:
    """Serve ``coins`` on 127.0.0.1:``port`` (0: any free port) in a daemon thread;
    ``server.shutdown(); server.server_close()`` stops it."""
    server = CoinGeckoServer(coins, port)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    return server
