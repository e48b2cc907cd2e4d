"""The control API (JSON, no auth) tests use to steer the stand-in: ``/sim/state``,
``/sim/price``, ``/sim/balance``, ``/sim/fault``, ``/sim/reset``, ``/sim/weights`` (see the
package doc)."""

from __future__ import annotations

import json
from decimal import InvalidOperation
from typing import Any

from binance_standin.exchange import SimExchange


def control(sim: SimExchange, method: str, path: str, body: str) -> tuple[int, Any, dict[str, str]]:
    """Answer one control request: (HTTP status, JSON payload, headers)."""
    try:
        data = json.loads(body) if body.strip() else {}
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        if (method, path) == ("GET", "/sim/state"):
            return 200, sim.state(), {}
        if (method, path) == ("POST", "/sim/price"):
            if data.get("clear"):
                sim.clear_prices(data.get("symbol"))
            elif "multiplier" in data:
                if not isinstance(data["multiplier"], dict):
                    raise ValueError('"multiplier" must be {"SYMBOL": factor, ...}')
                sim.set_multipliers(data["multiplier"])
            elif "symbol" in data and "price" in data:
                sim.set_price(data["symbol"], float(data["price"]))
            else:
                raise ValueError(
                    'expected {"symbol","price"}, {"multiplier":{..}} or {"clear":true}'
                )
            return 200, {"prices": sim.prices()}, {}
        if (method, path) == ("POST", "/sim/balance"):
            if "asset" not in data or "delta" not in data:
                raise ValueError('expected {"asset": "USDT", "delta": 500}')
            return (
                200,
                {
                    "asset": data["asset"].upper(),
                    **sim.adjust_balance(data["asset"], float(data["delta"])),
                },
                {},
            )
        if (method, path) == ("POST", "/sim/fault"):
            if data.get("clear"):
                return 200, {"cleared": sim.clear_faults()}, {}
            return 200, sim.add_fault(data), {}
        if (method, path) == ("GET", "/sim/weights"):
            return 200, sim.limiter.history(), {}
        if (method, path) == ("POST", "/sim/weights"):
            if not data.get("reset") and "limit" not in data:
                raise ValueError('expected {"reset": true} and/or {"limit": 6000}')
            limit = data.get("limit")
            sim.limiter.reset(int(limit) if limit is not None else None)
            return 200, sim.limiter.summary(), {}
        if (method, path) == ("POST", "/sim/reset"):
            sim.reset(data.get("balances"))
            return 200, {"balances": sim.balances()}, {}
    except (ValueError, TypeError, KeyError, InvalidOperation) as err:
        return 400, {"error": str(err)}, {}
    return 404, {"error": f"no control endpoint {method} {path}"}, {}
