"""Shared test set-up: markers by folder, and the fixtures every kind of test uses.

Markers (``pytest -m``): ``unit`` (tests/unit, milliseconds, no Freqtrade process or backtest),
``cli`` (tests/cli: the ``freqtrade-rebalance`` command in-process on real candles and the
CoinGecko stand-in, about a second each), ``backtest`` (real in-process Freqtrade backtests),
``e2e`` (the Binance stand-in with real ``freqtrade trade`` processes or a real FreqtradeBot),
``scale`` (tests/scale: twenty bots on one account, minutes; left out unless asked for,
``make test-scale``). A test in tests/unit that runs a backtest carries
``@pytest.mark.backtest`` itself; ``make test-fast`` runs ``-m unit``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.paths import NO_SHARED_DATA, ROOT, SHARED_DATA

KINDS = ("unit", "cli", "backtest", "e2e", "scale")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.get_closest_marker(kind) for kind in KINDS):
            continue
        folder = Path(str(item.fspath)).parent.name
        item.add_marker(getattr(pytest.mark, folder if folder in KINDS else "unit"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository's root: config.json, strategies/."""
    return ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Real Binance candles; the test is skipped where they are absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(NO_SHARED_DATA)
    return SHARED_DATA
