"""The command line: ``python -m binance_standin --port PORT --datadir DIR ...``.

Prints ``sim listening on http://127.0.0.1:PORT`` once it accepts connections and serves until
SIGTERM/SIGINT; every request is logged to stderr in one line (method, path, status).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from decimal import Decimal, InvalidOperation
from typing import Any

from binance_standin.common import DAY, INTERVALS, iso
from binance_standin.orderlimits import DEFAULT_PER_10S, DEFAULT_PER_DAY
from binance_standin.server import start_server
from binance_standin.weights import DEFAULT_LIMIT

log = logging.getLogger("binance_standin")


def _parse_balance(text: str) -> tuple[str, Decimal]:
    asset, sep, amount = text.partition("=")
    try:
        value = Decimal(amount)
    except InvalidOperation:
        value = None
    if not sep or not asset or value is None or value < 0:
        raise argparse.ArgumentTypeError(f"--balance wants ASSET=AMOUNT >= 0, not {text!r}")
    return asset.upper(), value


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value >= 1:  # also NaN
        raise argparse.ArgumentTypeError(f"--speed wants a number >= 1, not {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m binance_standin",
        description="Local stand-in for Binance's spot REST API on 127.0.0.1 (tests only).",
    )
    p.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = any free)")
    p.add_argument("--datadir", required=True, help="Freqtrade feather candles")
    p.add_argument(
        "--timeframe",
        default="1h",
        choices=sorted(INTERVALS, key=INTERVALS.__getitem__),
        help="candles that give the current price (default 1h)",
    )
    p.add_argument(
        "--start",
        default=None,
        help="historical date shown at start-up (default: 30 days before the end of the data)",
    )
    p.add_argument(
        "--speed",
        type=_speed,
        default=1.0,
        help="replay history N times faster than the wall clock from --start (e.g. 2400: an "
        "hour of candles per 1.5 s); candle times stay on the wall clock's grid (default 1)",
    )
    p.add_argument(
        "--balance",
        action="append",
        type=_parse_balance,
        default=None,
        metavar="ASSET=AMOUNT",
        help="starting balance, repeatable (default USDT=10000)",
    )
    p.add_argument(
        "--dialect",
        choices=("binance", "kraken"),
        default="binance",
        help="the REST API served: Binance's (default) or Kraken's (binance_standin/kraken)",
    )
    p.add_argument(
        "--fee",
        type=float,
        default=None,
        help="commission rate (default 0.001; kraken: 0.0026 on taker fills)",
    )
    p.add_argument(
        "--maker-fee", type=float, default=None, help="kraken: maker fills' rate (0.0016)"
    )
    p.add_argument("--key", default="simkey", help="API key signed requests must carry")
    p.add_argument(
        "--secret",
        default=None,
        help="API secret for the signatures (default simsecret; kraken: base64 of it)",
    )
    p.add_argument("--spread", type=float, default=0.0005, help="relative bid/ask spread")
    p.add_argument(
        "--depth",
        type=float,
        default=50000.0,
        help="quote value per order-book level (default 50000)",
    )
    p.add_argument("--levels", type=int, default=10, help="order-book levels per side")
    p.add_argument(
        "--weight-limit",
        type=int,
        default=DEFAULT_LIMIT,
        help=f"request weight per minute before 429/418, as Binance (default {DEFAULT_LIMIT})",
    )
    p.add_argument(
        "--order-limit-10s",
        type=int,
        default=DEFAULT_PER_10S,
        help=f"the account's new orders per 10 s before 429 -1015 (default {DEFAULT_PER_10S})",
    )
    p.add_argument(
        "--order-limit-day",
        type=int,
        default=DEFAULT_PER_DAY,
        help=f"the account's new orders per UTC day before 429 -1015 (default {DEFAULT_PER_DAY})",
    )
    p.add_argument(
        "--order-count-no-fill-credit",
        action="store_true",
        help="every new order counts (Binance gives one back at an order's first fill)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s sim %(levelname)s %(message)s"
    )
    balances = dict(args.balance) if args.balance else None
    dialect: dict[str, Any] = {
        "fee": 0.001 if args.fee is None else args.fee,
        "secret": "simsecret" if args.secret is None else args.secret,
    }
    if args.dialect == "kraken":  # None: Kraken's defaults (binance_standin/kraken)
        dialect = {"dialect": "kraken", "fee": args.fee, "maker_fee": args.maker_fee}
        dialect["secret"] = args.secret
    try:
        server, url = start_server(
            args.port,
            args.datadir,
            timeframe=args.timeframe,
            start=args.start,
            balances=balances,
            key=args.key,
            spread=args.spread,
            depth=args.depth,
            levels=args.levels,
            weight_limit=args.weight_limit,
            speed=args.speed,
            order_limit_10s=args.order_limit_10s,
            order_limit_day=args.order_limit_day,
            order_fill_credit=not args.order_count_no_fill_credit,
            **dialect,
        )
    except (OSError, ValueError) as err:
        print(f"sim: cannot start: {err}", file=sys.stderr, flush=True)
        return 2
    sim = server.sim
    log.info(
        "serving %d symbols %s; price timeframe %s; history now %s (offset %d days, speed %g); "
        "balances %s",
        len(sim.rules),
        ",".join(sorted(sim.rules)),
        sim.timeframe,
        iso(sim.hist_ms()),
        sim.offset_ms // DAY,
        sim.replay.speed,
        {a: float(v) for a, v in sim.ledger.initial.items()},
    )
    stop = threading.Event()

    def _on_signal(signum: int, _frame: Any) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    print(f"sim listening on {url}", flush=True)
    while not stop.wait(0.5):
        pass
    server.shutdown()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
