"""Reading the portfolio from Freqtrade: its open trades, prices (a backtest's candle opens, the
ticker live) and the portfolio's own cash."""

from __future__ import annotations

import math
from typing import Any

from freqtrade.persistence import Trade

from .context import Context
from .store import StateStore


class PortfolioReader:
    """Owns the candle opens of a backtest and the user's ``available_capital``."""

    def __init__(self, ctx: Context, store: StateStore) -> None:
        self.ctx = ctx
        self.store = store
        self.opens: dict[str, dict[int, float]] = {}
        self.capital = ctx.config.get("available_capital")  # as the user set it

    def open_trades(self) -> list[Any]:
        """The open trades; none in an analysis command that runs no backtest (plot-dataframe,
        FreqUI's charts): Freqtrade opened no trade database there."""
        if self.ctx.backtest and Trade.use_db:
            return []
        return list(Trade.get_trades_proxy(is_open=True))

    def by_coin(self, trades: list[Any]) -> dict[str, Any]:
        """Each open trade under its coin (one trade per coin)."""
        return {self.ctx.cfg.coin_of(t.pair): t for t in trades}

    def holdings(self, trades: list[Any]) -> dict[str, float]:
        """The coins held by the open trades, by coin."""
        return {c: t.amount for c, t in self.by_coin(trades).items()}

    def closed_profit(self) -> float:
        """Freqtrade's profit of closed trades (0 in a backtest, where trades close at the end)."""
        return 0.0 if self.ctx.backtest else float(Trade.get_total_closed_profit())

    def remember_opens(self, dataframe: Any, pair: str) -> None:
        """Backtest: keep the candle opens, the price each candle trades at."""
        if self.ctx.backtest:
            secs = dataframe["date"].dt.as_unit("s").astype("int64")
            self.opens[pair] = dict(zip(secs.tolist(), dataframe["open"].tolist()))

    def first_candles(self) -> dict[str, float]:
        """Backtest: each coin's first candle (POSIX seconds), for the coins with data."""
        return {self.ctx.cfg.coin_of(p): min(o) for p, o in self.opens.items() if o}

    def price(self, pair: str, ts: int) -> float | None:
        """The price a decision at ``ts`` uses: the candle's open (backtest), the ticker (live)."""
        if self.ctx.backtest:
            return self.opens.get(pair, {}).get(ts)
        ticker = self.ctx.dp.ticker(pair) or {}
        price: float | None = ticker.get("last") or ticker.get("close")
        return price

    def cash(self, trades: list[Any]) -> float:
        """The portfolio's own cash (``own_cash``), never more than the wallet's free stake."""
        own = self.own_cash(trades)
        wallets = self.ctx.wallets
        free = wallets.get_free(self.ctx.stake) if wallets else own
        return max(0.0, min(own, free))

    def own_cash(self, trades: list[Any]) -> float:
        """The portfolio's own cash: what it was funded with, plus what its trades returned,
        less what they cost (Freqtrade books the entry fee of a position only at exit, so it
        is taken here). Closed trades count from the portfolio's start (in a backtest trades
        close only at the end)."""
        book = self.store.book
        own = book.funded + math.fsum(
            t.realized_profit - t.stake_amount * (1.0 + (t.fee_open or 0.0)) for t in trades
        )
        if not self.ctx.backtest:
            own += Trade.get_total_closed_profit() - book.closed_base
        return float(own)

    def count_realized_profit(self, trades: list[Any]) -> None:
        """With ``available_capital``, Freqtrade caps every buy at that capital plus the profit
        of *closed* trades, less the open stakes; a rebalancer's trades never close, so the
        profit its partial sells realised would never be spendable again (its dry-run wallet
        does count it). The bot's capital is kept at the user's figure plus that realised
        profit and the auto-invest deposits, in memory only (``/show_config`` shows it)."""
        if self.capital is None:
            return
        realized = math.fsum(t.realized_profit for t in trades)
        self.ctx.config["available_capital"] = self.capital + realized + self.store.book.deposited
