"""Freqtrade glue: turns Freqtrade's trades, wallet and candles into the core's inputs, and the
core's orders into ``adjust_trade_position`` answers. The strategy file mixes this in.

Mapping (one Freqtrade trade per coin, opened once and kept for the life of the portfolio):

- ``__init__``: parses the ``rebalance`` section (refusing bad input before any order), checks
  the pair whitelist against the coins and derives ``max_open_trades`` from them.
- ``bot_start``: checks every coin has a market and the investment clears the minimums.
- ``custom_stake_amount``: the first buy of a coin is ``weight × investment / (1 + fee)``, so the
  first buys with their fees cost exactly the investment.
- ``bot_loop_start``: once per candle (backtest) or loop (live) takes a snapshot of the portfolio
  and runs the core's ``engine.step``; the orders it returns wait in ``self._rb_orders``.
- ``adjust_trade_position``: hands each trade its order, converting a coin quantity to
  Freqtrade's cost-basis stake (a negative stake sells ``|stake| × amount / stake_amount``).

Prices: in a backtest Freqtrade fills at the *open* of the candle at ``current_time``; the
snapshot uses exactly those opens (kept from ``populate_indicators``), never a later price. Live,
it uses the ticker.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import datetime
from pathlib import Path
from typing import Any

from freqtrade.enums import RunMode
from freqtrade.exceptions import OperationalException
from freqtrade.persistence import Trade

from . import ft_fastpath
from .config import (ConfigError, RebalanceConfig, check_investment_clears_minimums,
                     parse_rebalance_config)
from .engine import Event, Snapshot, State, describe, step
from .plan import Leg
from .portfolio import Portfolio
from .rules import MarketRules

logger = logging.getLogger(__name__)

#: Freqtrade sizes a *first* entry's minimum with a reserve for the stop-loss; with the stop-loss
#: disabled (-1) that reserve is 1.5x the exchange minimum. A position *adjustment* buy is checked
#: against the minimum times (1 + amount_reserve_percent), default 1.05; smaller buys are
#: silently bumped up or dropped (freqtrade/exchange/exchange.py _get_stake_amount_limit,
#: optimize/backtesting.py get_valid_entry_price_and_stake, wallets.py validate_stake_amount).
FIRST_BUY_RESERVE = 1.5
DEFAULT_AMOUNT_RESERVE = 0.05
JOURNAL_NAME = "rebalance_journal.jsonl"


def load_config(config: dict[str, Any]) -> RebalanceConfig:
    """Parse the ``rebalance`` section; bad input becomes a clear OperationalException."""
    try:
        return parse_rebalance_config(config.get("rebalance"), config.get("stake_currency", "USDT"))
    except ConfigError as err:
        raise OperationalException(f"Invalid rebalance config: {err}") from err


def check_pairs(config: dict[str, Any], cfg: RebalanceConfig) -> None:
    """The coins are the single source of truth. Freqtrade's StaticPairList needs the pairs in
    ``exchange.pair_whitelist`` before any strategy loads, so the list cannot be derived: it is
    checked, and a whitelist that disagrees with the coins is refused by name. ``max_open_trades``
    is derived (-1 or absent) or checked."""
    whitelist = list(config.get("exchange", {}).get("pair_whitelist") or [])
    pairs = cfg.pairs
    if set(whitelist) != set(pairs) or len(whitelist) != len(pairs):
        missing = [p for p in pairs if p not in whitelist]
        extra = [p for p in whitelist if p not in pairs]
        raise OperationalException(
            "Invalid rebalance config: exchange.pair_whitelist must list exactly the pairs of "
            f"rebalance.coins: {', '.join(pairs)}. "
            + (f"Missing: {', '.join(missing)}. " if missing else "")
            + (f"Not in rebalance.coins: {', '.join(extra)}." if extra else "")
        )
    mot = config.get("max_open_trades")
    if mot is None or mot == -1 or mot == float("inf"):
        config["max_open_trades"] = len(pairs)
    elif mot < len(pairs):
        raise OperationalException(
            f"Invalid rebalance config: max_open_trades = {mot} is below the number of coins "
            f"({len(pairs)}); set it to {len(pairs)} or -1"
        )
    if config.get("dry_run", True) and isinstance(config.get("dry_run_wallet"), (int, float)):
        if config["dry_run_wallet"] < cfg.investment:
            raise OperationalException(
                f"Invalid rebalance config: dry_run_wallet = {config['dry_run_wallet']:g} is "
                f"below rebalance.investment = {cfg.investment:g}"
            )


class RebalanceMixin(ft_fastpath.NoTradeCopyMixin):
    """Mix into an ``IStrategy`` (before it) to make it a portfolio rebalancer."""

    def __init__(self, config: dict[str, Any]) -> None:
        if config.get("runmode") == RunMode.LIVE:
            raise OperationalException(
                "freqtrade-rebalance: live trading with real money is not supported by this "
                "version yet (backtesting and dry-run only); set \"dry_run\": true"
            )
        self.rebalance = load_config(config)
        check_pairs(config, self.rebalance)
        ft_fastpath.install()
        super().__init__(config)  # type: ignore[call-arg]
        self._rb_state = State()
        self._rb_orders: dict[str, Leg] = {}
        self._rb_opens: dict[str, dict[int, float]] = {}
        self._rb_rules: dict[str, MarketRules] = {}
        self._rb_exchange_min: dict[str, float] = {}
        self._rb_coin_of = {self.rebalance.pair(c): c for c in self.rebalance.coin_names}
        self._rb_is_backtest = config.get("runmode") in (RunMode.BACKTEST, RunMode.HYPEROPT)
        self._rb_first_buy: float | None = None
        self._rb_fee_rate: float | None = None
        self._rb_outside_cash: float | None = None
        self._rb_journal: Path | None = None

    # ---- start-up checks -------------------------------------------------------------------
    def bot_start(self, **kwargs) -> None:
        cfg = self.rebalance
        exchange = self.config.get("exchange", {}).get("name", "the exchange")
        for coin in cfg.coin_names:
            pair = cfg.pair(coin)
            market = self.dp.market(pair)
            if not market or not market.get("active", True) or not market.get("spot", True):
                raise OperationalException(
                    f"Invalid rebalance config: rebalance.coins: {coin} has no spot market "
                    f"{pair} on {exchange}"
                )
            exchange_rules = MarketRules.from_ccxt_market(market)
            # Legs are planned against what Freqtrade will accept, not only the exchange.
            reserve = 1.0 + float(self.config.get("amount_reserve_percent", DEFAULT_AMOUNT_RESERVE))
            self._rb_rules[coin] = MarketRules(
                qty_step=exchange_rules.qty_step,
                min_qty=exchange_rules.min_qty * reserve,
                min_notional=exchange_rules.min_notional * reserve,
                price_tick=exchange_rules.price_tick,
            )
            self._rb_exchange_min[coin] = exchange_rules.min_notional
        # Each first buy is weight x investment / (1 + fee) and must clear the minimum x reserve.
        first_buy_min = {
            coin: self._rb_exchange_min[coin] * FIRST_BUY_RESERVE
            * (1.0 + self._rb_fee(cfg.pair(coin)))
            for coin in cfg.coin_names
        }
        try:
            check_investment_clears_minimums(cfg, first_buy_min)
        except ConfigError as err:
            raise OperationalException(f"Invalid rebalance config: {err}") from err
        if self._rb_is_backtest:
            results = Path(self.config.get("user_data_dir", "user_data")) / "backtest_results"
            results.mkdir(parents=True, exist_ok=True)
            self._rb_journal = results / JOURNAL_NAME
            self._rb_journal.write_text("")

    # ---- helpers ---------------------------------------------------------------------------
    def _rb_fee(self, pair: str) -> float:
        fee = self.config.get("fee")
        if fee is None:
            market = self.dp.market(pair) or {}
            fee = market.get("taker") or 0.001
        return float(fee)

    def _rb_price(self, pair: str, now: datetime, ts: int) -> float | None:
        if self._rb_is_backtest:
            return self._rb_opens.get(pair, {}).get(ts)
        ticker = self.dp.ticker(pair) or {}
        return ticker.get("last") or ticker.get("close")

    def _rb_cash(self, trades: list[Any]) -> float:
        """The portfolio's own cash: the wallet's free stake, less the entry fees Freqtrade
        books only at exit, less money in the wallet that is not part of the investment."""
        stake = self.rebalance.stake_currency
        free = self.wallets.get_free(stake) if self.wallets else 0.0
        if self._rb_outside_cash is None:
            start = free if not trades else float(self.config.get("dry_run_wallet", free))
            self._rb_outside_cash = max(0.0, start - self.rebalance.investment)
        unpaid_fees = math.fsum(t.stake_amount * (t.fee_open or 0.0) for t in trades)
        cash = free - unpaid_fees - self._rb_outside_cash
        if self.wallets and self.config.get("tradable_balance_ratio", 0.99) < 1.0:
            cash = min(cash, self.wallets.get_available_stake_amount())
        return max(0.0, cash)

    def _rb_report(self, event: Event) -> None:
        text = describe(event, self.rebalance.stake_currency)
        if self._rb_journal is not None:
            record = {
                "time": datetime.fromtimestamp(event.time).astimezone().isoformat(),
                "ts": event.time,
                "kind": event.kind,
                "drift": round(event.drift, 6),
                "weights_before": event.weights_before,
                "weights_after": event.weights_after,
                "legs": [{"coin": leg.coin, "side": leg.side, "qty": leg.qty,
                          "price": leg.price} for leg in event.legs],
                "skipped": [{"coin": s.coin, "side": s.side, "value": s.value,
                             "reason": s.reason} for s in event.skipped],
                "message": event.message,
            }
            with self._rb_journal.open("a") as fh:
                fh.write(json.dumps(record) + "\n")
            logger.debug(text)
        else:
            logger.info(text)
            if self.dp:
                self.dp.send_msg(text, always_send=True)

    # ---- Freqtrade callbacks ---------------------------------------------------------------
    def rebalance_indicators(self, dataframe, metadata: dict) -> Any:
        """Keep the candle opens in a backtest: the price each candle trades at."""
        if self._rb_is_backtest:
            secs = dataframe["date"].dt.as_unit("s").astype("int64")
            self._rb_opens[metadata["pair"]] = dict(zip(secs.tolist(), dataframe["open"].tolist()))
        return dataframe

    def custom_stake_amount(self, pair: str, current_time: datetime, current_rate: float,
                            proposed_stake: float, min_stake: float | None, max_stake: float,
                            leverage: float, entry_tag: str | None, side: str,
                            **kwargs) -> float:
        weight = self.rebalance.weights.get(self.rebalance.coin_of(pair), 0.0)
        return weight * self.rebalance.investment / (1.0 + self._rb_fee(pair))

    def bot_loop_start(self, current_time: datetime, **kwargs) -> None:
        # Runs once per candle in a backtest: kept lean (see `make bench`).
        cfg = self.rebalance
        self._rb_orders = {}
        trades = Trade.get_trades_proxy(is_open=True)
        coin_of = self._rb_coin_of
        by_coin = {coin_of.get(t.pair) or cfg.coin_of(t.pair): t for t in trades}
        if len(by_coin) < len(coin_of) or any(
                coin not in by_coin or by_coin[coin].amount <= 0 for coin in cfg.coin_names):
            if not trades:
                self._rb_cash(trades)  # remember the wallet's start before the first buy
            self._rb_first_buy = None
            return  # the first buys are not all done yet
        now = current_time.timestamp()
        prices = {}
        for coin in by_coin:
            price = self._rb_price(cfg.pair(coin), current_time, int(now))
            if not price:
                return  # a coin has no price at this candle: decide nothing
            prices[coin] = price
        if self._rb_fee_rate is None:
            self._rb_fee_rate = self._rb_fee(cfg.pairs[0])
        if self._rb_first_buy is None:  # the portfolio's trades stay open: computed once
            self._rb_first_buy = min(t.open_date_utc for t in trades).timestamp()
        snap = Snapshot(
            now=now,
            portfolio=Portfolio({c: t.amount for c, t in by_coin.items()}, prices,
                                self._rb_cash(trades)),
            rules=self._rb_rules,
            fee=self._rb_fee_rate,
            first_buy=self._rb_first_buy,
            busy=any(t.has_open_orders for t in trades),
        )
        result = step(cfg, self._rb_state, snap)
        self._rb_state = result.state
        self._rb_orders = {cfg.pair(coin): leg for coin, leg in result.orders.items()}
        for event in result.events:
            self._rb_report(event)

    def ft_adjust_wanted(self, pair: str) -> bool:
        """Backtest fast path (ft_fastpath): False when this pair has no order this candle."""
        return pair in self._rb_orders

    def rebalance_order(self, trade: Any, current_rate: float) -> tuple[float, str] | None:
        """This trade's share of the current rebalance, as Freqtrade's stake (or None)."""
        leg = self._rb_orders.pop(trade.pair, None)
        if leg is None:
            return None
        step_ = self._rb_rules[self.rebalance.coin_of(trade.pair)].qty_step
        if leg.side == "sell":
            if leg.qty >= trade.amount:
                return -trade.stake_amount, "rebalance sell"
            # Freqtrade sells |stake| * amount / stake_amount, truncated to the step: ask for half
            # a step more so float error cannot truncate it one step short.
            qty = min(leg.qty + step_ / 2, trade.amount)
            return -(qty * trade.stake_amount / trade.amount), "rebalance sell"
        # Freqtrade buys floor(stake / rate) to the step: again half a step of margin.
        return (leg.qty + step_ / 2) * current_rate, "rebalance buy"
