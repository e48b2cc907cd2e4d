"""What a bot costs: its request weight at the stand-in, its memory and its CPU time.

Weight comes from the stand-in (``GET /sim/weights``: every request is booked under the
``X-Sim-Client`` header, which :class:`~tests.helpers.e2e.Bot` sets to the bot's name). Memory and
CPU come from Linux's ``/proc/<pid>`` of the ``freqtrade trade`` process: resident memory
(``VmRSS``, and its peak ``VmHWM``) and user + system CPU seconds.
"""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class ProcStat:
    """One reading of a process: resident memory and peak (MiB), CPU seconds so far."""

    rss_mib: float
    peak_mib: float
    cpu_s: float


def proc_stat(pid: int) -> ProcStat | None:
    """The process's memory and CPU now, or None when it is gone (or not Linux)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = {}
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024.0  # kB -> MiB
    # stat: "pid (comm) state ..." - comm may hold spaces; fields after ")" are 3.. (1-based)
    after = stat.rsplit(")", 1)[1].split()
    utime, stime = int(after[11]), int(after[12])  # fields 14 and 15
    return ProcStat(fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0), (utime + stime) / _TICKS)


def client_minutes(weights: dict[str, Any], client: str) -> list[tuple[str, int]]:
    """(minute start, weight) of every calendar minute in which ``client`` sent requests."""
    return [
        (m["start"], m["by_client"][client])
        for m in weights.get("minutes", [])
        if client in m["by_client"]
    ]


def endpoint_weights(weights: dict[str, Any], client: str | None = None) -> dict[str, int]:
    """Total weight per endpoint over the recorded minutes (all clients, or the minutes
    ``client`` sent requests in: per endpoint the stand-in does not split by client)."""
    out: dict[str, int] = {}
    for m in weights.get("minutes", []):
        if client is not None and client not in m["by_client"]:
            continue
        for endpoint, w in m["by_endpoint"].items():
            out[endpoint] = out.get(endpoint, 0) + w
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0
