"""Fault injection (``POST /sim/fault``): armed faults, their firing, and the HTTP answers of
the network faults. What each kind does is described in the package docstring."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from binance_standin.common import normalize_symbol
from binance_standin.errors import insufficient

log = logging.getLogger(__name__)

ORDER_FAULTS = ("reject", "partial", "expire", "chase")
NET_FAULTS = ("http429", "http5xx", "timeout")
#: The exchange's own troubles (Binance dialect): maintenance, a client clock out of the receive
#: window, market data stuck at an earlier moment.
SERVICE_FAULTS = ("maintenance", "clock", "stale")
FAULT_KINDS = ORDER_FAULTS + NET_FAULTS + SERVICE_FAULTS
#: The kinds claimed as a request arrives, before it is processed (``routes.Handler._api``).
FIRST_FAULTS = NET_FAULTS + ("maintenance",)
#: The market-data paths a ``stale`` fault answers with the data of its start.
STALE_PATHS = (
    "/api/v3/ticker/24hr",
    "/api/v3/ticker/price",
    "/api/v3/ticker/bookTicker",
    "/api/v3/depth",
    "/api/v3/klines",
    "/api/v3/uiKlines",
)
SYSTEM_STATUS_PATH = "/sapi/v1/system/status"
#: Binance's answer to any request during a maintenance (ccxt's binance: ``OnMaintenance``):
#: HTTP 503 with this body - the message ccxt's exception table records for Binance.
MAINTENANCE_BODY = {"code": 1, "msg": "System is under maintenance."}
#: ``GET /sapi/v1/system/status`` during a maintenance, as Binance documents it.
MAINTENANCE_STATUS = {"status": 1, "msg": "system maintenance"}


class FaultBook:
    """The pending and fired faults (call under the sim's lock); ``clock`` gives "now"."""

    def __init__(self, clock: Callable[[], int]) -> None:
        self.clock = clock
        self.reset()

    def reset(self) -> None:
        """No fault armed or fired; ids start again."""
        self.pending: list[dict[str, Any]] = []
        self.fired: list[dict[str, Any]] = []
        self._next_id = 1

    def add(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Arm a fault; returns it as stored."""
        kind = spec.get("kind")
        if kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {FAULT_KINDS}, not {kind!r}")
        count: int | None = int(spec.get("count", 1))
        until = _window_end(kind, spec, int(self.clock()))
        if until is not None:
            count = None  # a time window: every matching request until it ends
        elif count is None or count < 1:
            raise ValueError("fault count must be >= 1")
        # order faults default to order placement; a given path matches any method
        # unless "method" says otherwise
        default_order = kind in ORDER_FAULTS and "path" not in spec
        fault: dict[str, Any] = {
            "id": self._next_id,
            "kind": kind,
            "count": count,
            "remaining": count,
            "until": until,
            "path": spec.get("path", "/api/v3/order" if default_order else None),
            "method": spec.get("method", "POST" if default_order else None),
            "symbol": normalize_symbol(spec["symbol"]) if spec.get("symbol") else None,
            "side": spec["side"].upper() if spec.get("side") else None,
            "created": int(self.clock()),
        }
        if fault["method"]:
            fault["method"] = str(fault["method"]).upper()
        fault.update(_kind_options(kind, spec))
        self._next_id += 1
        self.pending.append(fault)
        log.info("fault armed: %s", fault)
        return dict(fault)

    def clear(self) -> int:
        n = len(self.pending)
        self.pending.clear()
        return n

    def prune(self) -> None:
        """Forget the faults whose time window has ended."""
        now = int(self.clock())
        self.pending = [f for f in self.pending if f["until"] is None or now < f["until"]]

    def claim(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        kinds: Iterable[str],
        applies: Callable[[dict], bool] | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """Consume one firing of the first pending fault of ``kinds`` matching the request:
        (fault, its ``fired`` entry - the caller fills in ``effect``), or None."""
        kinds = tuple(kinds)
        self.prune()
        for fault in self.pending:
            if (
                fault["kind"] in kinds
                and (fault["path"] is None or fault["path"] == path)
                and (fault["method"] is None or fault["method"] == method)
                and (fault["symbol"] is None or fault["symbol"] == params.get("symbol"))
                and (fault["side"] is None or fault["side"] == params.get("side"))
                and (applies is None or applies(fault))
            ):
                if fault["until"] is None:
                    fault["remaining"] -= 1
                    if fault["remaining"] <= 0:
                        self.pending.remove(fault)
                fired = {
                    "fault_id": fault["id"],
                    "kind": fault["kind"],
                    "method": method,
                    "path": path,
                    "symbol": params.get("symbol"),
                    "time": int(self.clock()),
                    "effect": "",
                }
                self.fired.append(fired)
                return dict(fault), fired
        return None


def _window_end(kind: str, spec: dict[str, Any], now: int) -> int | None:
    """The end (sim ms) of a fault's time window: ``"seconds": S`` from arming (``"window"``
    says the same, and is the only way for ``timeout``, whose ``seconds`` is its sleep)."""
    raw = spec.get("window")
    if raw is None and kind != "timeout":
        raw = spec.get("seconds")
    if raw is None:
        return None
    seconds = float(raw)
    if seconds <= 0:
        raise ValueError("fault window: seconds must be > 0")
    return now + int(seconds * 1000)


def _kind_options(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """The options of one fault kind, checked, with their defaults."""
    out: dict[str, Any] = {}
    if kind == "reject":
        out["code"] = int(spec.get("code", -2010))
        out["msg"] = str(spec.get("msg", insufficient().msg))
    elif kind == "partial":
        out["fraction"] = float(spec.get("fraction", 0.5))
        if not 0 <= out["fraction"] < 1:
            raise ValueError("partial fault: fraction must be in [0, 1)")
    elif kind == "chase":
        out["bps"] = float(spec.get("bps", 10.0))
        if out["bps"] <= 0:
            raise ValueError("chase fault: bps must be > 0")
    elif kind == "http5xx":
        out["status"] = int(spec.get("status", 503))
        if not 500 <= out["status"] <= 599:
            raise ValueError("http5xx fault: status must be 500..599")
        if "code" in spec or "msg" in spec:
            out["code"] = int(spec.get("code", -1001))
            out["msg"] = str(
                spec.get("msg", "Internal error; unable to process your request. Please try again.")
            )
    elif kind == "timeout":
        out["seconds"] = float(spec.get("seconds", 5.0))
        if out["seconds"] < 0:
            raise ValueError("timeout fault: seconds must be >= 0")
    if kind in NET_FAULTS:
        out["process"] = bool(spec.get("process", False))
    return out


def answer_net_fault(
    fault: dict[str, Any],
    fired: dict[str, Any],
    run: Callable[[], tuple[int, Any]],
    headers: dict[str, str],
) -> tuple[int, Any, dict[str, str], str]:
    """The HTTP answer of a fired ``http429``/``http5xx``/``timeout``/``maintenance`` fault:
    (status, payload, headers, log note); ``run`` processes the request (``"process": true``)."""
    kind = fault["kind"]
    if kind == "maintenance":
        return answer_maintenance(fired, headers)
    effect = ""
    if fault.get("process"):
        status, payload = run()
        effect = f"request processed (-> {status}); "
    if kind == "timeout":
        effect += f"slept {fault['seconds']:g}s"
        fired["effect"] = effect + (
            " then answered" if fault["process"] else " then answered 504 without processing"
        )
        time.sleep(fault["seconds"])
        if fault["process"]:
            return status, payload, headers, f"FAULT timeout ({effect})"
        return 504, "Gateway Time-out", headers, f"FAULT timeout ({effect})"
    if kind == "http429":
        fired["effect"] = effect + "answered HTTP 429 -1003"
        return (
            429,
            {
                "code": -1003,
                "msg": "Too many requests; current limit of IP(127.0.0.1)"
                " is 6000 requests per minute. Please use the websocket for live "
                "updates to avoid bans.",
            },
            {**headers, "Retry-After": "1"},
            "FAULT http429",
        )
    # http5xx
    if "code" in fault:
        payload5: Any = {"code": fault["code"], "msg": fault["msg"]}
    elif fault["status"] == 503:
        payload5 = "Service Unavailable"
    else:
        payload5 = {
            "code": -1001,
            "msg": "Internal error; unable to process your request. Please try again.",
        }
    fired["effect"] = effect + f"answered HTTP {fault['status']}"
    return fault["status"], payload5, headers, f"FAULT http5xx {fault['status']}"


def answer_maintenance(
    fired: dict[str, Any], headers: dict[str, str]
) -> tuple[int, Any, dict[str, str], str]:
    """A request during a maintenance, unprocessed: HTTP 503 :data:`MAINTENANCE_BODY`, except
    ``GET /sapi/v1/system/status``, which says so (:data:`MAINTENANCE_STATUS`)."""
    if fired["path"] == SYSTEM_STATUS_PATH:
        fired["effect"] = "system/status answered status 1 (system maintenance)"
        return 200, dict(MAINTENANCE_STATUS), headers, "FAULT maintenance (status 1)"
    fired["effect"] = "answered HTTP 503 System is under maintenance."
    return 503, dict(MAINTENANCE_BODY), headers, "FAULT maintenance"
