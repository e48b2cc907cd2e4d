"""The exchange's rules for each coin, as Freqtrade will apply them: step, minimum quantity and
minimum order value with Freqtrade's reserves, and the fee."""

from __future__ import annotations

import functools
from collections.abc import Mapping

import ccxt

from ..core.config import RebalanceConfig
from ..core.plan import skip_risk
from ..core.rules import TICK_SIZE, MarketRules
from . import privates, startup
from .context import Context

#: Freqtrade sizes a *first* entry's minimum with a reserve for the stop-loss; with the stop-loss
#: disabled (-1) that reserve is 1.5x the exchange minimum. A position *adjustment* buy is checked
#: against the minimum times (1 + amount_reserve_percent), default 1.05; smaller buys are
#: silently bumped up or dropped (freqtrade/exchange/exchange.py _get_stake_amount_limit,
#: optimize/backtesting.py get_valid_entry_price_and_stake, wallets.py validate_stake_amount).
FIRST_BUY_RESERVE = 1.5
#: Binance's words for an order refused by one of the symbol's rules (its filters).
FILTER_WORDS = "filter failure"
#: The rules a user is told about when the exchange changes them: words -> MarketRules field.
RULE_NAMES = {
    "price tick": "price_tick",
    "amount step": "qty_step",
    "minimum amount": "min_qty",
    "minimum order value": "min_notional",
}
DEFAULT_AMOUNT_RESERVE = 0.05


@functools.cache
def precision_mode(exchange: str) -> int:
    """How ``exchange``'s markets count precision (ccxt's ``precisionMode``: DECIMAL_PLACES,
    SIGNIFICANT_DIGITS or TICK_SIZE), read from its ccxt class: public, the same in every
    run mode, no Freqtrade private. TICK_SIZE (every exchange Freqtrade supports, in today's
    ccxt) for a name ccxt does not know. Cached: building a ccxt exchange takes milliseconds."""
    klass = getattr(ccxt, exchange.lower(), None) if exchange else None
    if not isinstance(klass, type):
        return TICK_SIZE
    return int(klass().precisionMode)


class Markets:
    """Owns the rules of every coin seen (current and earlier allocations) and the fee rate."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.rules: dict[str, MarketRules] = {}
        self.exchange_min: dict[str, float] = {}
        self.exchange_min_qty: dict[str, float] = {}  # in the coin (Kraken, OKX: it binds)
        self._fee_rate: float | None = None
        self.exchange_rules: dict[str, MarketRules] = {}  # as the exchange says, no reserve
        self._market_seen: dict[str, int] = {}  # coin -> id of the ccxt market its rules came from

    @property
    def precision_mode(self) -> int:
        """The config's exchange's ccxt precision mode (:func:`precision_mode`)."""
        return precision_mode(str(self.ctx.config.get("exchange", {}).get("name") or ""))

    @property
    def amount_reserve(self) -> float:
        return 1.0 + float(self.ctx.config.get("amount_reserve_percent", DEFAULT_AMOUNT_RESERVE))

    def add(self, coin: str) -> MarketRules | None:
        """The rules of ``coin``'s pair (looked up once), or None without an active spot
        market. Legs are planned against what Freqtrade will accept, not only the exchange."""
        if coin in self.rules:
            return self.rules[coin]
        dp = self.ctx.dp
        market = dp.market(self.ctx.cfg.pair(coin)) if dp else None
        if not market or not market.get("active", True) or not market.get("spot", True):
            return None
        self._market_seen[coin] = id(market)
        exchange_rules = MarketRules.from_ccxt_market(market, self.precision_mode)
        self.exchange_rules[coin] = exchange_rules
        reserve = self.amount_reserve
        self.rules[coin] = MarketRules(
            qty_step=exchange_rules.qty_step,
            min_qty=exchange_rules.min_qty * reserve,
            min_notional=exchange_rules.min_notional * reserve,
            price_tick=exchange_rules.price_tick,
            qty_digits=exchange_rules.qty_digits,
            price_digits=exchange_rules.price_digits,
        )
        self.exchange_min[coin] = exchange_rules.min_notional
        self.exchange_min_qty[coin] = exchange_rules.min_qty
        return self.rules[coin]

    def refresh(self) -> dict[str, dict[str, tuple[float, float]]]:
        """Dry/live, each loop: the rules of every coin read again where Freqtrade reloaded the
        markets since (hourly, or ``reload_markets`` after a refusal), so that the next legs
        are sized by the exchange's new tick, step or minimum. Returns what changed, by coin
        (``{coin: {rule: (old, new)}}``) for the user. A coin whose market closed keeps its
        last rules (it places no order meanwhile, ``halts.py``)."""
        dp = self.ctx.dp
        changed: dict[str, dict[str, tuple[float, float]]] = {}
        if self.ctx.backtest or dp is None:
            return changed
        for coin, kept in list(self.rules.items()):
            market = dp.market(self.ctx.cfg.pair(coin))
            if market is None or id(market) == self._market_seen.get(coin):
                continue
            old = self.exchange_rules[coin]
            del self.rules[coin]
            if self.add(coin) is None:  # closed: the last rules stay until it returns
                self.rules[coin] = kept
                continue
            new = self.exchange_rules[coin]
            diff = {
                name: (getattr(old, attr), getattr(new, attr))
                for name, attr in RULE_NAMES.items()
                if getattr(old, attr) != getattr(new, attr)
            }
            if diff:
                changed[coin] = diff
        return changed

    def refusals(self, found: list[tuple[str, BaseException]]) -> None:
        """Orders refused since the last loop: one refused by a rule (Binance's "Filter
        failure") makes Freqtrade read the markets again now, so that the next legs are sized
        by the rules in force (``refresh``) instead of being refused again."""
        if any(FILTER_WORDS in str(err).lower() for _, err in found):
            privates.reload_markets(self.ctx.dp)

    def check(
        self, cfg: RebalanceConfig, prices: Mapping[str, float | None] | None = None
    ) -> str | None:
        """bot_start: every coin of ``cfg`` has an active spot market and its first buy clears
        the minimums (else ``startup.Refusal``, naming the fix). Returns the risk of legs
        skipped under the minimums, to be said (None: none). ``prices`` (live: the tickers)
        turn each minimum quantity into a value; a backtest checks again at its first candle
        (:meth:`check_first_buys`)."""
        exchange = self.ctx.config.get("exchange", {}).get("name", "the exchange")
        startup.check_markets(cfg, self.missing(list(cfg.coin_names)), exchange, self.quotes_of)
        self.check_first_buys(cfg, prices or {})
        return skip_risk(
            cfg,
            {c: self.rules[c].min_value((prices or {}).get(c)) for c in cfg.coin_names},
        )

    def check_first_buys(self, cfg: RebalanceConfig, prices: Mapping[str, float | None]) -> None:
        """Each first buy clears Freqtrade's minimum stake: the larger of the minimum order
        value and the minimum quantity at ``prices`` (where known), times its reserve."""
        mins = {c: self.first_buy_min(c, prices.get(c)) for c in cfg.coin_names}
        startup.check_minimums(cfg, mins)

    def quotes_of(self, coin: str) -> list[str]:
        """The stake currencies ``coin`` has an active spot market against (for a refusal)."""
        dp = self.ctx.dp
        found = []
        for quote in startup.QUOTES:
            market = dp.market(f"{coin}/{quote}") if dp else None
            if market and market.get("active", True) and market.get("spot", True):
                found.append(quote)
        return found

    def missing(self, coins: tuple[str, ...] | list[str]) -> list[str]:
        """The coins without an active spot market (their rules are added for the others)."""
        return [c for c in coins if self.add(c) is None]

    def fee(self, pair: str) -> float:
        """The taker fee: the config's ``fee``, else the market's, else 0.1%."""
        fee = self.ctx.config.get("fee")
        if fee is None:
            market = self.ctx.dp.market(pair) or {}
            fee = market.get("taker") or 0.001
        return float(fee)

    @property
    def fee_rate(self) -> float:
        """The fee the plans assume (the first pair's), looked up once."""
        if self._fee_rate is None:
            self._fee_rate = self.fee(self.ctx.cfg.pairs[0])
        return self._fee_rate

    def min_order(self, coin: str, price: float | None = None) -> float:
        """The smallest first buy Freqtrade accepts for ``coin`` (before the fee): as
        Freqtrade's ``get_min_pair_stake_amount``, the larger of the minimum order value and
        the minimum quantity at ``price`` (when known), times the first-buy reserve."""
        value = self.exchange_min.get(coin, 0.0)
        if price:
            value = max(value, self.exchange_min_qty.get(coin, 0.0) * price)
        return value * FIRST_BUY_RESERVE

    def first_buy_min(self, coin: str, price: float | None = None) -> float:
        """The smallest first buy stake for ``coin``: weight x investment / (1 + fee) must
        clear the minimum x reserve."""
        return self.min_order(coin, price) * (1.0 + self.fee(self.ctx.cfg.pair(coin)))

    def keep_min(self, coin: str, price: float | None = None) -> float:
        """Freqtrade refuses a partial exit that leaves less than this (its minimum stake)."""
        return self.min_order(coin, price) * self.amount_reserve
