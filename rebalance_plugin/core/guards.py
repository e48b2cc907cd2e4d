"""When the portfolio starts and when it ends on its own: ``trigger_price``, ``stop_loss`` and
``take_profit`` (docs/configuration.md#the-rebalance-section; stopping and resuming:
docs/live-trading.md#stopping-and-resuming). Pure Python, no Freqtrade import.

What each level is measured on (``config.Level``):

- ``trigger_price``: a coin's price (a plain number means the first coin listed in ``coins``:
  before the first buy there is no portfolio to value). The level is *reached* when the price
  touches or crosses it from the side it was on when the bot started waiting: a trigger below
  the price waits for a dip, one above waits for a breakout.
- ``stop_loss`` / ``take_profit``: the portfolio's value in stake currency (a plain number), or a
  coin's price (``{"BTC": 50000}``). Stop-loss fires at or below its level, take-profit at or
  above. Either ends the portfolio, applying ``on_stop``.
"""

from __future__ import annotations

from collections.abc import Mapping

from .config import Level, RebalanceConfig


def level_reading(level: Level, value: float, prices: Mapping[str, float]) -> float | None:
    """The figure ``level`` is compared with: the portfolio's value or the coin's price."""
    if level.coin is None:
        return value
    return prices.get(level.coin)


def trigger_reached(level: Level, reference: float, price: float) -> bool:
    """``price`` has reached ``level`` coming from ``reference`` (the price when waiting began)."""
    if reference >= level.value:
        return price <= level.value
    return price >= level.value


def stop_reason(cfg: RebalanceConfig, value: float, prices: Mapping[str, float]) -> str | None:
    """Why the portfolio must end now (stop-loss or take-profit reached), or None."""
    stake = cfg.stake_currency
    if cfg.stop_loss is not None:
        reading = level_reading(cfg.stop_loss, value, prices)
        if reading is not None and reading <= cfg.stop_loss.value:
            return (
                f"stop_loss reached: {_what(cfg.stop_loss)} {reading:.2f} {stake} <= "
                f"{cfg.stop_loss.value:g} {stake}"
            )
    if cfg.take_profit is not None:
        reading = level_reading(cfg.take_profit, value, prices)
        if reading is not None and reading >= cfg.take_profit.value:
            return (
                f"take_profit reached: {_what(cfg.take_profit)} {reading:.2f} {stake} >= "
                f"{cfg.take_profit.value:g} {stake}"
            )
    return None


def _what(level: Level) -> str:
    return "portfolio value" if level.coin is None else f"{level.coin} price"
