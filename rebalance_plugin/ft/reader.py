"""Reading the portfolio from Freqtrade: its open trades, prices (a backtest's candle opens; live,
the tickers fetched once per loop, ``quotes.py``) and the portfolio's own cash."""

from __future__ import annotations

import bisect
import math
from typing import Any

from freqtrade.persistence import Trade

from ..core.portfolio import Portfolio
from . import privates
from .balances import AccountBook
from .context import Context
from .quotes import Quotes
from .store import StateStore

#: Seconds a loop's tickers answer Freqtrade's own rate look-ups, beyond the loop's throttle.
QUOTE_SLACK = 10.0


class PortfolioReader:
    """Owns the candle opens of a backtest and the user's ``available_capital``."""

    def __init__(self, ctx: Context, store: StateStore) -> None:
        self.ctx = ctx
        self.store = store
        self.opens: dict[str, dict[int, float]] = {}
        self._sorted: dict[str, list[int]] = {}  # a coin's candle times (last_opens)
        self.capital = ctx.config.get("available_capital")  # as the user set it
        throttle = float(ctx.config.get("internals", {}).get("process_throttle_secs", 5))
        self.quotes = Quotes(self._fetch_tickers, throttle + QUOTE_SLACK)
        # Live: the account as last read plus this bot's own fills (balances.py).
        self.account = None if ctx.config.get("dry_run", True) else AccountBook()
        self.frugal = False  # the bot's exchange answers from the quotes and the account
        self.quoted = False  # this loop's tickers were fetched

    def carry(self, last: PortfolioReader) -> None:
        """A simulated run after ``last``'s (hyperopt's next epoch): the candles, read once, and
        the capital, raised by the last run's realised profit."""
        self.opens = last.opens
        self._sorted = last._sorted
        self.capital = last.capital
        if last.capital is not None:
            self.ctx.config["available_capital"] = last.capital

    def _exchange(self) -> Any:
        bot = privates.freqtrade_bot(self.ctx.dp)
        return getattr(bot, "exchange", None)

    def _fetch_tickers(self, pairs: list[str]) -> dict[str, Any]:
        return privates.fetch_tickers(self._exchange(), pairs)

    def refresh_prices(self, trades: list[Any]) -> None:
        """Dry/live, at the start of each loop: the tickers of every pair the portfolio
        targets or holds, in one request; Freqtrade's rate look-ups of this loop use them."""
        if self.ctx.backtest:
            return
        if not self.frugal:
            self.frugal = privates.frugal_exchange(self._exchange(), self.quotes, self.account)
        if not self.frugal:  # Freqtrade's code changed: every price is asked as before
            return
        pairs = set(self.ctx.cfg.pairs) | {t.pair for t in trades}
        pairs |= {self.ctx.cfg.pair(c) for c, _ in self.store.book.coins}
        dp = self.ctx.dp
        self.quoted = self.quotes.refresh(p for p in pairs if dp.market(p))  # listed ones

    def take_refusals(self) -> list[tuple[str, BaseException]]:
        """Live: the orders the exchange refused since the last call, (pair, error)."""
        return self.account.take_refusals() if self.account is not None else []

    def probe_account(self) -> bool:
        """Live: read the account from the exchange now (a signed request); False when the
        exchange refused or did not answer."""
        try:
            self.refresh_wallets()
        except Exception:  # the exchange's trouble: Outage says it
            return False
        return True

    def refresh_wallets(self) -> None:
        """Read the account from the exchange now (a deposit shows up at once)."""
        if self.account is not None:
            self.account.invalidate()
        wallets = self.ctx.wallets
        if wallets:
            wallets.update()

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

    def last_opens(self, coins: list[str], now: float) -> dict[str, float]:
        """Backtest: the open of each coin's last candle before ``now`` (the price it last
        traded at), for the coins that have one. Asked only while some coin has no candle."""
        out: dict[str, float] = {}
        for coin in coins:
            opens = self.opens.get(self.ctx.cfg.pair(coin), {})
            times = self._sorted.get(coin)
            if times is None or len(times) != len(opens):  # sorted once per run
                times = self._sorted[coin] = sorted(opens)
            k = bisect.bisect_left(times, now)
            if k and opens[times[k - 1]] > 0:
                out[coin] = opens[times[k - 1]]
        return out

    def first_candles(self) -> dict[str, float]:
        """Backtest: each coin's first candle (POSIX seconds), for the coins with data."""
        return {self.ctx.cfg.coin_of(p): min(o) for p, o in self.opens.items() if o}

    def first_opens(self, since: float) -> dict[str, float | None]:
        """Backtest: each coin's open at its first candle from ``since`` on (the price of its
        first buy; the dataframes also hold the startup candles before the run)."""
        out: dict[str, float | None] = {}
        for pair, opens in self.opens.items():
            times = [t for t in opens if t >= since]
            if times:
                out[self.ctx.cfg.coin_of(pair)] = opens[min(times)]
        return out

    def price(self, pair: str, ts: int) -> float | None:
        """The price a decision at ``ts`` uses: the candle's open (backtest), this loop's
        ticker (live; None when this loop's tickers could not be fetched)."""
        if self.ctx.backtest:
            return self.opens.get(pair, {}).get(ts)
        if self.frugal:
            quoted = self.quotes.price(pair)
            if quoted or not self.quoted:
                return quoted
        ticker = self.ctx.dp.ticker(pair) or {}
        price: float | None = ticker.get("last") or ticker.get("close")
        return price

    def portfolio(
        self,
        coins: list[str],
        by_coin: dict[str, Any],
        trades: list[Any],
        now: float,
        held_at: dict[str, float] | None = None,
        quantities: dict[str, float] | None = None,
    ) -> tuple[Portfolio | None, list[str]]:
        """The portfolio of ``coins`` at ``now``: each one's quantity (none without a trade) at
        its price, with the portfolio's own cash. None, with the coins that have no price, when
        any has none: nothing is decided on a partial picture. ``held_at``: the last prices of
        coins that cannot trade (``halts.py``), used when the exchange gives none now;
        ``quantities``: holdings that are not the trades' amounts (``hands.py``)."""
        prices: dict[str, float] = {}
        missing = []
        for coin in coins:
            price = self.price(self.ctx.cfg.pair(coin), int(now))
            if not price and held_at:
                price = held_at.get(coin)
            if not price:
                missing.append(coin)
            else:
                prices[coin] = price
        if missing:
            return None, missing
        held = {c: (by_coin[c].amount if c in by_coin else 0.0) for c in coins}
        if quantities:  # not Freqtrade's amounts: hands on the account (hands.py)
            held.update({c: q for c, q in quantities.items() if c in held})
        return Portfolio(held, prices, self.cash(trades)), missing

    def own_cash(self, trades: list[Any]) -> float:
        """The portfolio's own cash by its books: what it was funded with, plus what its
        trades returned, less what they cost (Freqtrade books the entry fee of a position only
        at exit, so it is taken here). Closed trades count from the portfolio's start (in a
        backtest trades close only at the end)."""
        book = self.store.book
        own = book.funded + math.fsum(
            t.realized_profit - t.stake_amount * (1.0 + (t.fee_open or 0.0)) for t in trades
        )
        if not self.ctx.backtest:
            own += Trade.get_total_closed_profit() - book.closed_base
        return float(own)

    def cash(self, trades: list[Any]) -> float:
        """The portfolio's own cash (``own_cash``), never more than the wallet's free stake."""
        own = self.own_cash(trades)
        wallets = self.ctx.wallets
        free = wallets.get_free(self.ctx.stake) if wallets else own
        return max(0.0, min(own, free))

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
