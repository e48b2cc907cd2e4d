"""``python -m coingecko_standin --port PORT [--coins FILE]``: serve until interrupted.

``--coins`` is a JSON list of ``{"id", "symbol", "name", "price", "circulating_supply"}``;
without it a few coins are served (prices and supplies for testing, not real data).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from coingecko_standin import Coin, start_server

EXAMPLE = [
    Coin("bitcoin", "btc", "Bitcoin", 60000.0, 20_000_000.0),
    Coin("ethereum", "eth", "Ethereum", 2000.0, 120_000_000.0),
    Coin("tether", "usdt", "Tether", 1.0, 180_000_000_000.0),
    Coin("solana", "sol", "Solana", 100.0, 560_000_000.0),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m coingecko_standin",
        description="Local stand-in for CoinGecko's /api/v3/ping and /api/v3/coins/markets "
        "(tests only).",
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any)")
    parser.add_argument("--coins", default=None, help="JSON list of coins to serve")
    args = parser.parse_args(argv)
    coins = EXAMPLE
    if args.coins:
        with open(args.coins, encoding="utf-8") as fh:
            coins = [Coin(**c) for c in json.load(fh)]
    server = start_server(coins, args.port)
    print(f"coingecko stand-in listening on {server.api_url}", flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
