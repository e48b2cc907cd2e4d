"""Every path the tests use, defined once."""

from __future__ import annotations

from pathlib import Path

#: The repository's root (config.json, strategies/, the Makefile).
ROOT = Path(__file__).resolve().parents[2]
#: The strategy folder Freqtrade is pointed at.
STRATEGIES = ROOT / "strategies"
#: Real Binance candles (../shared/data/binance beside the clone); absent on some machines.
SHARED_DATA = ROOT.parent / "shared" / "data" / "binance"
NO_SHARED_DATA = "real candles ../shared/data/binance are absent on this machine"
#: ccxt's own public test fixtures (unified markets, recorded requests and responses of several
#: exchanges; ../shared/ccxt-static beside the clone, see its PROVENANCE.md). Read, never copied.
CCXT_STATIC = ROOT.parent / "shared" / "ccxt-static"
