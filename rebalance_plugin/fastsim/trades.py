"""Freqtrade's books of a backtest: each coin's trade (amount, stake, realised profit) and the
wallet's free stake currency, kept with Freqtrade's own arithmetic.

The plugin reads the portfolio's cash from them (``PortfolioReader.cash``: the realised profit
and the stake of each open trade, capped by the wallet's free stake), and Freqtrade caps every
buy at the wallet's available stake: a cent's difference could move an order by a quantity
step. So the figures follow ``LocalTrade.recalc_trade_from_orders`` (Freqtrade 2026.9) step by
step, in ccxt's exact decimal ``Precise`` where Freqtrade uses it (``FtPrecise``), each order
folded in as it fills (the recalculation is a left fold over the orders: the same result).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ccxt import Precise

from .market import PairMarket

_ZERO = Precise("0")


def _p(x: float) -> Precise:
    return Precise(str(x))


@dataclass
class Order:
    """A filled order, as the report reads Freqtrade's (``report.loading.orders_from_trades``)."""

    time: float  # POSIX seconds: the candle it filled on
    coin: str
    side: str  # "buy" or "sell"
    amount: float
    price: float
    fee: float
    tag: str


@dataclass
class Trade:
    """One coin's Freqtrade trade: opened by the first buy, kept open through the rebalances."""

    pair: str
    coin: str
    market: PairMarket
    open_time: float
    fee: float
    price_precision: float | None
    price_mode: int
    amount: float = 0.0
    stake_amount: float = 0.0
    realized_profit: float = 0.0
    close_profit_abs: float = 0.0
    is_open: bool = True
    # recalc_trade_from_orders' running state
    _amount: Precise = field(default_factory=lambda: _ZERO)
    _stake: Precise = field(default_factory=lambda: _ZERO)
    _avg: Precise = field(default_factory=lambda: _ZERO)
    _total_stake: float = 0.0
    # an exit order that did not fill on its candle (its price outside the candle's range)
    open_exit: float | None = None

    def __post_init__(self) -> None:
        self._fee = _p(self.fee)

    def buy(self, amount: float, rate: float) -> None:
        """An entry order of ``amount`` filled at ``rate``."""
        qty, price = _p(amount), _p(rate)
        self._amount = self._amount + qty
        self._stake = self._stake + price * qty
        if self._amount > _ZERO:
            self._avg = self._stake.div(self._amount)
        open_value = qty * price
        self._total_stake += float(open_value + open_value * self._fee)
        self._settle()

    def sell(self, amount: float, rate: float) -> None:
        """An exit order of ``amount`` filled at ``rate``: its profit against the average entry
        price, rounded to 8 decimals (``calculate_profit``)."""
        qty = _p(amount)
        avg = self._avg
        self._amount = self._amount - qty
        self._stake = self._stake - avg * qty
        close_value = qty * _p(rate)
        close = float(close_value - close_value * self._fee)
        open_value = qty * _p(float(avg))
        opened = float(open_value + open_value * self._fee)
        self.close_profit_abs += round(close - opened, 8)
        if self._total_stake > 0 and self.close_profit_abs / self._total_stake:
            self.realized_profit = self.close_profit_abs
        self._settle()

    def _settle(self) -> None:
        """The trade's amount and stake after an order (a whole exit closes it)."""
        amount = self.market.truncate(float(self._amount))
        if amount > 0.0:
            self.amount = amount
            self.stake_amount = float(self._stake)
        else:
            self.is_open = False


@dataclass
class Books:
    """Every trade of the run (open ones in the order they opened) and the wallet."""

    start_cap: float  # dry_run_wallet
    tradable_ratio: float = 1.0
    trades: list[Trade] = field(default_factory=list)
    closed_profit: float = 0.0  # LocalTrade.bt_total_profit
    orders: list[Order] = field(default_factory=list)
    _open: list[Trade] = field(default_factory=list)  # in the order they opened
    _by_pair: dict[str, Trade] = field(default_factory=dict)

    def open_trades(self) -> list[Trade]:
        """The open trades, in the order they opened (do not change the list)."""
        return self._open

    def of_pair(self, pair: str) -> Trade | None:
        return self._by_pair.get(pair)

    def add(self, trade: Trade) -> None:
        """``LocalTrade.add_bt_trade``."""
        self.trades.append(trade)
        self._open = [*self._open, trade]
        self._by_pair[trade.pair] = trade

    def close(self, trade: Trade) -> None:
        """``LocalTrade.close_bt_trade``: the trade's profit joins the closed profit."""
        trade.is_open = False
        self._open = [t for t in self._open if t is not trade]
        self._by_pair.pop(trade.pair, None)
        self.closed_profit += trade.close_profit_abs

    def free(self) -> float:
        """The wallet's free stake currency (``Wallets._update_dry`` in a backtest)."""
        open_trades = self.open_trades()
        profit = self.closed_profit
        profit += sum(t.realized_profit for t in open_trades)
        tied = sum(t.stake_amount for t in open_trades)
        return self.start_cap + profit - tied

    def available(self) -> float:
        """``Wallets.get_available_stake_amount``: what a new order may spend."""
        free = self.free()
        tied = sum(t.stake_amount for t in self.open_trades())
        total = (tied + free) * self.tradable_ratio
        return min(total - tied, free)

    def validate_stake(
        self, stake: float, min_stake: float | None, max_stake: float, trade_stake: float | None
    ) -> float:
        """``Wallets.validate_stake_amount``: bumped to the minimum (by at most 30%), capped at
        the maximum and at what is available; 0 when it cannot be placed."""
        if not stake or stake <= 0:
            return 0.0
        allowed = min(max_stake, self.available())
        if trade_stake:
            allowed = min(allowed, max_stake - trade_stake)
        if min_stake is not None and min_stake > allowed:
            return 0.0
        if min_stake is not None and stake < min_stake:
            if stake * 1.3 < min_stake:
                return 0.0
            stake = min_stake
        return min(stake, allowed)
