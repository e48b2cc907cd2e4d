"""Constants and small helpers shared by the stand-in: time, decimals, symbols, exchangeInfo."""

from __future__ import annotations

import json
import secrets
import string
import time
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from importlib import resources
from typing import Any

import pandas as pd

HOST = "127.0.0.1"
SECOND, MINUTE, HOUR, DAY = 1_000, 60_000, 3_600_000, 86_400_000

#: Binance kline intervals with a fixed length (``1M`` is not served).
INTERVALS: dict[str, int] = {
    "1s": SECOND,
    "1m": MINUTE,
    "3m": 3 * MINUTE,
    "5m": 5 * MINUTE,
    "15m": 15 * MINUTE,
    "30m": 30 * MINUTE,
    "1h": HOUR,
    "2h": 2 * HOUR,
    "4h": 4 * HOUR,
    "6h": 6 * HOUR,
    "8h": 8 * HOUR,
    "12h": 12 * HOUR,
    "1d": DAY,
    "3d": 3 * DAY,
    "1w": 7 * DAY,
}
#: Binance's weekly candles open on Mondays; 1970-01-05 (epoch + 4 days) was a Monday.
WEEK_ORIGIN = 4 * DAY

DEFAULT_BALANCES = {"USDT": 10000}
DEFAULT_START_BEFORE_END = 30 * DAY
OPEN_STATUSES = ("NEW", "PARTIALLY_FILLED")

#: The raw Binance exchangeInfo document, bundled with the plugin (``rebalance_plugin/data``).
EXCHANGE_INFO_PACKAGE, EXCHANGE_INFO_FILE = "rebalance_plugin", "binance_exchange_info.json"

Q8 = Decimal("0.00000001")
ZERO = Decimal(0)
BP = Decimal("0.0001")
_ID_CHARS = string.ascii_letters + string.digits


def wall_ms() -> int:
    return int(time.time() * 1000)


def dec(value: Any) -> Decimal:
    """Decimal from str/int/float (floats via their shortest repr)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


def floor_to(x: Decimal, step: Decimal) -> Decimal:
    return (x / step).to_integral_value(ROUND_FLOOR) * step if step > 0 else x


def ceil_to(x: Decimal, step: Decimal) -> Decimal:
    return (x / step).to_integral_value(ROUND_CEILING) * step if step > 0 else x


def round_to(x: Decimal, step: Decimal) -> Decimal:
    return (x / step).to_integral_value(ROUND_HALF_UP) * step if step > 0 else x


def fmt(x: Decimal | float | int) -> str:
    """Binance's 8-decimal string (amounts truncated, never rounded up)."""
    return format(dec(x).quantize(Q8, rounding=ROUND_DOWN), "f")


def decimals(x: Decimal) -> int:
    exp = x.normalize().as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


def to_ms(value: str | int | float | pd.Timestamp) -> int:
    """A date (string, Timestamp) or epoch milliseconds -> epoch milliseconds (UTC)."""
    if isinstance(value, (int, float)):
        return int(value)
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.value // 1_000_000)


def iso(ms: int | None) -> str | None:
    return None if ms is None else pd.Timestamp(int(ms), unit="ms", tz="UTC").isoformat()


def new_client_id() -> str:
    return "".join(secrets.choice(_ID_CHARS) for _ in range(22))


def normalize_symbol(symbol: str) -> str:
    """``"BTC/USDT"`` or ``"btcusdt"`` -> ``"BTCUSDT"``."""
    return symbol.replace("/", "").replace("-", "").replace("_", "").upper()


def load_exchange_info() -> dict[str, Any]:
    """The bundled raw Binance exchangeInfo document
    (``rebalance_plugin/data/binance_exchange_info.json``)."""
    path = resources.files(EXCHANGE_INFO_PACKAGE).joinpath("data", EXCHANGE_INFO_FILE)
    return json.loads(path.read_text(encoding="utf-8"))
