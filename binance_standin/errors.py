"""Binance's error answers and the request-parameter parsing that raises them."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

_NUMBER = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
_NUMBER_RANGE = "'^([0-9]{1,20})(\\.[0-9]{1,20})?$'"


class BinanceError(Exception):
    """An error answer in Binance's format: HTTP ``status`` + ``{"code", "msg"}``."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(f"{code} {msg}")
        self.code, self.msg, self.status = code, msg, status

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "msg": self.msg}


def invalid_symbol() -> BinanceError:
    return BinanceError(-1121, "Invalid symbol.")


def market_closed() -> BinanceError:
    """A new order on a symbol that does not trade (status ``BREAK``/``HALT``): what Binance
    answers (errors.md lists "Market is closed." among the order refusals; clients record it
    with -1013); ccxt's binance raises ``MarketClosed`` for the message."""
    return BinanceError(-1013, "Market is closed.")


def outside_recv_window() -> BinanceError:
    """-1021 INVALID_TIMESTAMP: the request's timestamp is older than its ``recvWindow``."""
    return BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")


def mandatory(name: str) -> BinanceError:
    return BinanceError(
        -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def not_required(name: str) -> BinanceError:
    return BinanceError(-1106, f"Parameter '{name}' sent when not required.")


def filter_failure(name: str) -> BinanceError:
    return BinanceError(-1013, f"Filter failure: {name}")


def insufficient() -> BinanceError:
    return BinanceError(-2010, "Account has insufficient balance for requested action.")


def int_param(params: dict[str, str], name: str, default: int | None = None) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BinanceError(
            -1100,
            f"Illegal characters found in parameter '{name}'; legal "
            "range is '^(-)?[0-9]{1,20}$'.",
        ) from None


def dec_param(params: dict[str, str], name: str) -> Decimal | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not _NUMBER.match(raw):
        raise BinanceError(
            -1100,
            f"Illegal characters found in parameter '{name}'; legal range is {_NUMBER_RANGE}.",
        )
    return Decimal(raw)


def symbols_param(raw: str) -> list[str]:
    try:
        symbols = json.loads(raw)
        if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
            raise ValueError
    except ValueError:
        raise BinanceError(
            -1100,
            "Illegal characters found in parameter 'symbols'; legal "
            'range is \'^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}")'
            "{0,}){0,1}\\]$'.",
        ) from None
    return symbols
