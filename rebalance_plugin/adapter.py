"""Freqtrade glue: turns Freqtrade's trades, wallet and candles into the core's inputs, and the
core's orders into ``adjust_trade_position`` answers. The strategy file mixes this in.

Mapping (one Freqtrade trade per coin, opened once and kept for the life of the portfolio):

- ``__init__``: parses the ``rebalance`` section (refusing bad input before any order), checks
  the pair whitelist against the coins, derives ``max_open_trades`` and checks the security
  settings (REST API password, Telegram chat).
- ``bot_start``: checks every coin has a market and the investment clears the minimums, and
  loads the portfolio's record (``book.Book``) from Freqtrade's database (dry/live).
- ``confirm_trade_entry`` / ``custom_stake_amount``: a coin is bought as a new trade only for
  the first buys (``weight × investment / (1 + fee)``, after ``trigger_price``) or when a new
  coin joins the allocation.
- ``bot_loop_start``: once per candle (backtest) or loop (live) takes a snapshot of the
  portfolio and runs the core's ``engine.step``; the orders it returns wait in
  ``self._rb_orders``. It also applies config changes (funds, coins), ``stop_loss`` /
  ``take_profit``, the stop/resume commands, and finishes partly filled orders at market.
- ``adjust_trade_position``: hands each trade its order, converting a coin quantity to
  Freqtrade's cost-basis stake (a negative stake sells ``|stake| × amount / stake_amount``).

Orders (dry/live): a limit Immediate-Or-Cancel order at the best price (``entry_pricing`` /
``exit_pricing`` ``price_side: other``); what it leaves unfilled is sent as a market order on the
next loop. Freqtrade reads ``order_types`` and ``order_time_in_force`` when it places each order,
so the strategy switches them per order.

Stop and resume (dry/live): Freqtrade's own commands. ``/stopentry`` (``/pause``; FreqUI's
"Pause") stops the portfolio and applies ``on_stop``; ``/start`` resumes it. A user
``/forceexit`` also stops it. ``stop_loss`` / ``take_profit`` stop it and pause the bot.

Prices: in a backtest Freqtrade fills at the *open* of the candle at ``current_time``; the
snapshot uses exactly those opens (kept from ``populate_indicators``), never a later price. Live,
it uses the ticker.
"""

from __future__ import annotations

import ipaddress
import json
import re
import logging
import math
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from freqtrade.enums import RunMode, State as BotState
from freqtrade.exceptions import OperationalException
from freqtrade.persistence import KeyValueStore, Trade

from . import ft_fastpath
from .book import Book, change_signature, classify_change, fund_limits
from .config import (ConfigError, RebalanceConfig, check_investment_clears_minimums,
                     parse_rebalance_config)
from .engine import Event, Snapshot, describe, step
from .guards import stop_reason, trigger_reached
from .plan import FundsError, Leg, check_fund_change
from .portfolio import Portfolio, drift_points
from .rules import MarketRules
from .triggers import IntervalTrigger, trigger_for

logger = logging.getLogger(__name__)

#: Freqtrade sizes a *first* entry's minimum with a reserve for the stop-loss; with the stop-loss
#: disabled (-1) that reserve is 1.5x the exchange minimum. A position *adjustment* buy is checked
#: against the minimum times (1 + amount_reserve_percent), default 1.05; smaller buys are
#: silently bumped up or dropped (freqtrade/exchange/exchange.py _get_stake_amount_limit,
#: optimize/backtesting.py get_valid_entry_price_and_stake, wallets.py validate_stake_amount).
FIRST_BUY_RESERVE = 1.5
DEFAULT_AMOUNT_RESERVE = 0.05
JOURNAL_NAME = "rebalance_journal.jsonl"
#: Key of the portfolio's record in Freqtrade's database (KeyValueStore: one per bot database).
STATE_KEY = "rebalance_state"
#: Seconds between two refreshes of the per-trade custom data shown by FreqUI and Telegram.
PUBLISH_EVERY = 30.0
#: A name with underscores (on_stop, dry_run_wallet): shown as code in Telegram's Markdown.
MARKDOWN_NAME = re.compile(r"(?<![`\w])([A-Za-z0-9]+(?:_[A-Za-z0-9]+)+)(?![`\w])")
#: config.json ships this in api_server.jwt_secret_key (Freqtrade's schema wants 32 characters);
#: a value starting with it is refused, so the shipped file has no usable secret.
PLACEHOLDER = "set-me"


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
    capital = config.get("available_capital")
    if capital is not None and capital < cfg.investment:
        raise OperationalException(
            f"Invalid rebalance config: available_capital = {capital:g} is below "
            f"rebalance.investment = {cfg.investment:g}; raise available_capital with the "
            f"investment (it is this bot's share of the account)"
        )
    if (capital is None and config.get("dry_run", True)
            and isinstance(config.get("dry_run_wallet"), (int, float))):
        if config["dry_run_wallet"] < cfg.investment:
            raise OperationalException(
                f"Invalid rebalance config: dry_run_wallet = {config['dry_run_wallet']:g} is "
                f"below rebalance.investment = {cfg.investment:g}"
            )



def check_security(config: dict[str, Any]) -> None:
    """Refuse settings that would expose the bot: a REST API without a password or JWT secret,
    or listening beyond this machine without being told to; Telegram without a chat id."""
    api = config.get("api_server") or {}
    if api.get("enabled"):
        for key, env in (("password", "PASSWORD"), ("jwt_secret_key", "JWT_SECRET_KEY")):
            value = str(api.get(key) or "")
            if len(value) < 8 or value.startswith(PLACEHOLDER):
                raise OperationalException(
                    f"Refusing to start: api_server.{key} is empty, the shipped placeholder or "
                    f"shorter than 8 characters. "
                    f"Set it outside the repository, e.g. export FREQTRADE__API_SERVER__{env}="
                    f"\"$(python -c 'import secrets; print(secrets.token_urlsafe(24))')\""
                )
        host = str(api.get("listen_ip_address", "127.0.0.1"))
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback and not api.get("allow_remote_access", False):
            raise OperationalException(
                f"Refusing to start: api_server.listen_ip_address = {host} exposes the REST API "
                f"beyond this machine. Use 127.0.0.1 (and an SSH tunnel or a reverse proxy), or "
                f"set \"allow_remote_access\": true in api_server if you really mean it"
            )
    tg = config.get("telegram") or {}
    if tg.get("enabled") and not str(tg.get("chat_id") or "").strip():
        raise OperationalException(
            "Refusing to start: telegram.chat_id is empty; Telegram must answer only your chat "
            "(set FREQTRADE__TELEGRAM__CHAT_ID)"
        )


def freqtrade_bot(dp: Any) -> Any:
    """The running FreqtradeBot, to read and set its state (RUNNING / PAUSED). Freqtrade has no
    public API for this: the DataProvider holds the RPC manager, which holds the bot. Checked by
    ``tests/test_telegram.py`` and ``tests/test_e2e_flows.py`` (stop and resume); None when
    unreachable (backtest)."""
    manager = getattr(dp, "_DataProvider__rpc", None)
    rpc = getattr(manager, "_rpc", None)
    return getattr(rpc, "_freqtrade", None)

class RebalanceMixin(ft_fastpath.NoTradeCopyMixin):
    """Mix into an ``IStrategy`` (before it) to make it a portfolio rebalancer."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.rebalance = load_config(config)
        check_pairs(config, self.rebalance)
        check_security(config)
        ft_fastpath.install()
        super().__init__(config)  # type: ignore[call-arg]
        self._rb_is_backtest = config.get("runmode") in (RunMode.BACKTEST, RunMode.HYPEROPT)
        self._rb_book = Book.fresh(self.rebalance)
        self._rb_saved: str | None = None
        self._rb_orders: dict[str, Leg] = {}
        self._rb_market: set[str] = set()  # pairs whose order this loop goes at market
        self._rb_opens: dict[str, dict[int, float]] = {}
        self._rb_rules: dict[str, MarketRules] = {}
        self._rb_exchange_min: dict[str, float] = {}
        self._rb_fee_rate: float | None = None
        self._rb_journal: Path | None = None
        self._rb_seen_paused = False  # the bot was PAUSED while the portfolio was stopped
        self._rb_published: dict[int, dict[str, Any]] = {}
        self._rb_last_publish = 0.0
        self._rb_seen: tuple = ()
        self._rb_capital = config.get("available_capital")  # as the user set it

    # ---- start-up checks -------------------------------------------------------------------
    def bot_start(self, **kwargs) -> None:
        cfg = self.rebalance
        exchange = self.config.get("exchange", {}).get("name", "the exchange")
        for coin in cfg.coin_names:
            if self._rb_add_rules(coin) is None:
                raise OperationalException(
                    f"Invalid rebalance config: rebalance.coins: {coin} has no spot market "
                    f"{cfg.pair(coin)} on {exchange}"
                )
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
            return
        saved = KeyValueStore.get_value(STATE_KEY)  # type: ignore[arg-type]
        if isinstance(saved, str):
            self._rb_book = Book.from_dict(json.loads(saved))
            self._rb_saved = saved
            logger.info(f"Rebalance state restored: {self._rb_status_line()}")
        for coin, _ in self._rb_book.coins:  # coins still held from an earlier allocation
            self._rb_add_rules(coin)

    def _rb_add_rules(self, coin: str) -> MarketRules | None:
        if coin in self._rb_rules:
            return self._rb_rules[coin]
        market = self.dp.market(self.rebalance.pair(coin)) if self.dp else None
        if not market or not market.get("active", True) or not market.get("spot", True):
            return None
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
        return self._rb_rules[coin]

    # ---- helpers ---------------------------------------------------------------------------
    def _rb_fee(self, pair: str) -> float:
        fee = self.config.get("fee")
        if fee is None:
            market = self.dp.market(pair) or {}
            fee = market.get("taker") or 0.001
        return float(fee)

    def _rb_price(self, pair: str, ts: int) -> float | None:
        if self._rb_is_backtest:
            return self._rb_opens.get(pair, {}).get(ts)
        ticker = self.dp.ticker(pair) or {}
        return ticker.get("last") or ticker.get("close")

    def _rb_cash(self, trades: list[Any]) -> float:
        """The portfolio's own cash: what it was funded with, plus what its trades returned,
        less what they cost (Freqtrade books the entry fee of a position only at exit, so it
        is taken here), never more than the wallet's free stake. Closed trades count from the
        portfolio's start (in a backtest trades close only at the end)."""
        book = self._rb_book
        own = book.funded + math.fsum(
            t.realized_profit - t.stake_amount * (1.0 + (t.fee_open or 0.0)) for t in trades)
        if not self._rb_is_backtest:
            own += Trade.get_total_closed_profit() - book.closed_base
        stake = self.rebalance.stake_currency
        free = self.wallets.get_free(stake) if self.wallets else own
        return max(0.0, min(own, free))

    def _rb_save(self) -> None:
        """Persist the portfolio's record in Freqtrade's database when it changed (dry/live)."""
        if self._rb_is_backtest:
            return
        text = json.dumps(self._rb_book.to_dict(), sort_keys=True)
        if text != self._rb_saved:
            KeyValueStore.store_value(STATE_KEY, text)  # type: ignore[arg-type]
            self._rb_saved = text

    def _rb_say(self, text: str) -> None:
        """Tell the user (log, and Telegram / FreqUI's message feed in dry/live). Freqtrade
        sends strategy messages to Telegram as Markdown: names like on_stop go in backticks,
        or their underscores would turn into italics or get the message refused."""
        logger.info(text)
        if not self._rb_is_backtest and self.dp:
            self.dp.send_msg(MARKDOWN_NAME.sub(r"`\1`", text), always_send=True)

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
            self._rb_say(text)

    def _rb_status_line(self) -> str:
        book = self._rb_book
        if book.stopped:
            return f"stopped ({book.stopped})"
        if book.started is None:
            return "waiting for trigger_price" if not book.triggered else "buying"
        return f"running, {book.engine.rebalances} rebalances"

    # ---- Freqtrade callbacks ---------------------------------------------------------------
    def rebalance_indicators(self, dataframe, metadata: dict) -> Any:
        """Keep the candle opens in a backtest: the price each candle trades at."""
        if self._rb_is_backtest:
            secs = dataframe["date"].dt.as_unit("s").astype("int64")
            self._rb_opens[metadata["pair"]] = dict(zip(secs.tolist(), dataframe["open"].tolist()))
        return dataframe

    def rebalance_entry_allowed(self, pair: str) -> bool:
        """A new trade is opened only for a first buy (after trigger_price) or a new coin."""
        book = self._rb_book
        coin = self.rebalance.coin_of(pair)
        if book.stopped:
            return False
        if book.started is None:
            return book.triggered and coin in dict(book.coins)
        return coin in book.entries

    def confirm_trade_entry(self, pair: str, order_type: str, amount: float, rate: float,
                            time_in_force: str, current_time: datetime, entry_tag: str | None,
                            side: str, **kwargs) -> bool:
        if not self.rebalance_entry_allowed(pair):
            return False
        if not self._rb_is_backtest:  # remember what was asked, to finish a partial fill
            coin = self.rebalance.coin_of(pair)
            inflight = dict(self._rb_book.inflight)
            inflight[coin] = {"side": "buy", "qty": amount, "before": 0.0, "market": False}
            self._rb_book = replace(self._rb_book, inflight=inflight)
            self._rb_save()
        return True

    def custom_stake_amount(self, pair: str, current_time: datetime, current_rate: float,
                            proposed_stake: float, min_stake: float | None, max_stake: float,
                            leverage: float, entry_tag: str | None, side: str,
                            **kwargs) -> float:
        coin = self.rebalance.coin_of(pair)
        book = self._rb_book
        if coin in book.entries:
            return book.entries[coin]
        weight = dict(book.coins).get(coin, 0.0) / 100.0
        # The investment, or less after a restart when the portfolio's sales returned less.
        return weight * min(book.investment, book.funded) / (1.0 + self._rb_fee(pair))

    def confirm_trade_exit(self, pair: str, trade: Trade, order_type: str, amount: float,
                           rate: float, time_in_force: str, exit_reason: str,
                           current_time: datetime, **kwargs) -> bool:
        if exit_reason == "force_exit" and not self._rb_book.stopped:
            self._rb_stop(f"{pair} force-exited from Telegram/FreqUI", current_time.timestamp())
        return True

    def bot_loop_start(self, current_time: datetime, **kwargs) -> None:
        # Runs once per candle in a backtest: kept lean (see `make bench`).
        self._rb_orders = {}
        self._rb_market = set()
        if not self._rb_is_backtest:
            self.order_types = {**self.order_types, "entry": "limit", "exit": "limit"}
            self.order_time_in_force = {"entry": "IOC", "exit": "IOC"}
        cfg = self.rebalance
        now = current_time.timestamp()
        trades = Trade.get_trades_proxy(is_open=True)
        by_coin = {cfg.coin_of(t.pair): t for t in trades}
        bot = None if self._rb_is_backtest else freqtrade_bot(self.dp)
        if bot is not None:
            self._rb_commands(bot, now, trades)
        if self._rb_book.stopped:
            self._rb_stopped_loop(by_coin)
            self._rb_after_loop(trades, now)
            return
        if self._rb_book.entries:  # a new coin's first buy has filled
            done = [c for c in self._rb_book.entries
                    if c in by_coin and by_coin[c].amount > 0 and not by_coin[c].has_open_orders]
            if done:
                self._rb_book = replace(self._rb_book, entries={
                    c: v for c, v in self._rb_book.entries.items() if c not in done})
        if self._rb_capital is not None:
            self._rb_count_realized_profit(trades)
        busy = self._rb_follow_inflight(by_coin) or any(t.has_open_orders for t in trades)
        book = self._rb_book
        if book.started is None:
            self._rb_starting(by_coin, now, busy)
            self._rb_after_loop(trades, now)
            return
        applied = book.applied(cfg)
        force, withdraw = False, 0.0
        if not busy and book.engine.phase == "idle" and applied is not cfg:
            force, withdraw, applied = self._rb_config_change(by_coin, now, trades)
        coins = list(dict(applied.coins))
        held = [c for c in by_coin if c not in coins]
        prices = {}
        for coin in coins + held:
            price = self._rb_price(cfg.pair(coin), int(now))
            if not price:
                return  # a coin has no price at this candle: decide nothing
            prices[coin] = price
        if self._rb_fee_rate is None:
            self._rb_fee_rate = self._rb_fee(cfg.pairs[0])
        portfolio = Portfolio({c: (by_coin[c].amount if c in by_coin else 0.0)
                               for c in coins + held}, prices, self._rb_cash(trades))
        reason = stop_reason(applied, portfolio.total, prices)
        if reason:
            self._rb_stop(reason, now)
            self._rb_stopped_loop(by_coin)
            self._rb_after_loop(trades, now)
            return
        snap = Snapshot(now=now, portfolio=portfolio, rules=self._rb_rules,
                        fee=self._rb_fee_rate, first_buy=book.started,
                        busy=busy or bool(book.entries), force=force, withdraw=withdraw)
        result = step(applied, book.engine, snap)
        if result.state is not book.engine or result.withdrawn:
            self._rb_book = replace(self._rb_book, engine=result.state,
                                    funded=self._rb_book.funded - result.withdrawn)
        for event in result.events:
            self._rb_report(event)
        self._rb_place(result.orders, by_coin, market=False)
        self._rb_after_loop(trades, now)

    # ---- the parts of a loop -----------------------------------------------------------------
    def _rb_count_realized_profit(self, trades: list[Any]) -> None:
        """With ``available_capital``, Freqtrade caps every buy at that capital plus the profit
        of *closed* trades, less the open stakes; a rebalancer's trades never close, so the
        profit its partial sells realised would never be spendable again (its dry-run wallet
        does count it). The bot's capital is kept at the user's figure plus that realised
        profit, in memory only (``/show_config`` shows it)."""
        realized = math.fsum(t.realized_profit for t in trades)
        self.config["available_capital"] = self._rb_capital + realized

    def _rb_place(self, orders: dict[str, Leg], by_coin: dict[str, Any], market: bool) -> None:
        """Hand each leg to its trade's adjust_trade_position (or, for a coin without a trade,
        to the entry signal); remember it in flight to finish a partial fill at market."""
        if not orders:
            return
        cfg = self.rebalance
        entries = dict(self._rb_book.entries)
        inflight = dict(self._rb_book.inflight)
        for coin, leg in orders.items():
            trade = by_coin.get(coin)
            if trade is None:  # a coin new to the allocation: bought as a new trade
                if leg.side == "buy":
                    entries[coin] = leg.value
                continue
            pair = cfg.pair(coin)
            self._rb_orders[pair] = leg
            if market:
                self._rb_market.add(pair)
            if not self._rb_is_backtest:
                inflight[coin] = {"side": leg.side, "qty": leg.qty, "before": trade.amount,
                                  "market": market, "sent": datetime.now(UTC).timestamp()}
        if not self._rb_is_backtest:
            self._rb_book = replace(self._rb_book, entries=entries, inflight=inflight)
            self._rb_save()  # before the orders are sent: a restart knows they may exist
        else:
            self._rb_book = replace(self._rb_book, entries=entries)

    def _rb_follow_inflight(self, by_coin: dict[str, Any]) -> bool:
        """Live: an order sent last loop has closed; what it left unfilled (IOC expiry, partial
        fill) goes again as a market order, once. True while any order is still in flight."""
        book = self._rb_book
        if not book.inflight:
            return False
        inflight = dict(book.inflight)
        again: dict[str, Leg] = {}
        waiting = False
        entries = dict(book.entries)
        for coin, info in book.inflight.items():
            trade = by_coin.get(coin)
            if trade is None:  # sold entirely, or a first buy that did not fill (retried)
                inflight.pop(coin)
                continue
            if trade.has_open_orders:
                waiting = True
                continue
            entries.pop(coin, None)
            inflight.pop(coin)
            filled = abs(trade.amount - info["before"])
            if filled == 0 and not info["market"] and self._rb_adopt_unknown(trade, info):
                filled = abs(trade.amount - info["before"])
            rest = info["qty"] - filled
            if info["market"] or rest <= 0:
                continue
            price = self._rb_price(self.rebalance.pair(coin), 0) or 0.0
            rule = self._rb_rules.get(coin)
            if rule is None or not price:
                continue
            qty = rule.floor_qty(min(rest, trade.amount) if info["side"] == "sell" else rest)
            if rule.refusal(qty, price) is None:
                again[coin] = Leg(coin, info["side"], qty, price)
                logger.info(f"{coin}: {filled:g} of {info['qty']:g} filled by the limit order; "
                            f"the remaining {qty:g} goes at market")
        self._rb_book = replace(book, inflight=inflight, entries=entries)
        if again:
            self._rb_place(again, by_coin, market=True)
            return True
        self._rb_save()
        return waiting

    def _rb_adopt_unknown(self, trade: Any, info: dict[str, Any]) -> bool:
        """Live: an order with nothing booked on the trade may still have been executed by the
        exchange: a timeout or an error after the exchange accepted it, or a crash between the
        exchange's answer and Freqtrade booking the fill. Before anything is sent again, ask
        the exchange for orders of this side and size since the leg was sent; if one filled,
        hand the trade to Freqtrade's own recovery (``handle_onexchange_order``), which books
        it. True when such an order exists (the leg is then not sent again)."""
        bot = freqtrade_bot(self.dp)
        if bot is None or self.config.get("dry_run"):
            return False
        from freqtrade.persistence import Order
        sent = info.get("sent", trade.open_date_utc.timestamp())
        try:
            orders = bot.exchange.fetch_orders(trade.pair, datetime.fromtimestamp(sent - 5, UTC))
        except Exception as err:  # cannot check: do not risk sending twice
            logger.warning(f"{trade.pair}: cannot list the exchange's orders ({err}); "
                           f"not sending the rest of this leg again")
            return True
        rule = self._rb_rules.get(self.rebalance.coin_of(trade.pair))
        slack = 0.02 * info["qty"] + (rule.qty_step if rule else 0.0)
        filled = [o for o in orders if float(o.get("filled") or 0) > 0]
        # Ours: same side, about the quantity asked (another bot on the same account may trade
        # the same pair; its orders are not in this bot's database).
        ours = [o for o in filled if o.get("side") == info["side"]
                and abs(float(o.get("amount") or 0) - info["qty"]) <= slack]
        if not ours:
            return False
        ids = ", ".join(str(o["id"]) for o in ours)
        strangers = [o for o in filled if o not in ours
                     and Order.order_by_id(o["id"], trade.pair) is None]
        if strangers:  # booking would take the other bot's orders too: leave it to the user
            self._rb_say(f"{trade.pair}: the exchange executed order {ids} but it is not booked "
                         f"on the trade, beside orders of another bot; not sending it again. "
                         f"Check the trade against the exchange")
            return True
        self._rb_say(f"{trade.pair}: the exchange executed order {ids} but it was not booked "
                     f"(no answer, or a restart); booking it instead of sending it again")
        bot.handle_onexchange_order(trade)
        return True

    def _rb_starting(self, by_coin: dict[str, Any], now: float, busy: bool) -> None:
        """Before the portfolio is complete: wait for trigger_price, then the first buys."""
        cfg = self.rebalance
        book = self._rb_book
        if not book.triggered and cfg.trigger_price is not None:
            level = cfg.trigger_price
            price = self._rb_price(cfg.pair(level.coin or cfg.coin_names[0]), int(now))
            if not price:
                return
            if book.trigger_ref is None:
                self._rb_book = replace(book, trigger_ref=price)
                self._rb_say(f"Portfolio waiting: buys start when {level.measured_on(cfg.stake_currency)} "
                             f"is reached (now {price:g})")
            elif trigger_reached(level, book.trigger_ref, price):
                self._rb_book = replace(book, triggered=True)
                self._rb_say(f"trigger_price reached ({level.coin} at {price:g}): buying the "
                             f"portfolio")
            self._rb_save()
            return
        coins = [c for c, _ in book.coins]
        if busy or any(c not in by_coin or by_coin[c].amount <= 0 for c in coins):
            return
        first = min(by_coin[c].open_date_utc for c in coins).timestamp()
        closed = 0.0 if self._rb_is_backtest else Trade.get_total_closed_profit()
        self._rb_book = replace(book, started=first, closed_base=closed, entries={})
        if not self._rb_is_backtest:
            self._rb_say(f"Portfolio bought: {', '.join(f'{c} {w:g}%' for c, w in book.coins)} "
                         f"for {book.investment:g} {cfg.stake_currency}")
        self._rb_save()

    def _rb_config_change(self, by_coin: dict[str, Any], now: float,
                          trades: list[Any]) -> tuple[bool, float, RebalanceConfig]:
        """config.json changed under a running portfolio (``/reload_config``): add or remove
        funds, or move to a new allocation. Returns (force, withdraw, config to run on)."""
        cfg = self.rebalance
        book = self._rb_book
        stake = cfg.stake_currency
        signature = change_signature(cfg)
        if book.refused == signature:
            return False, 0.0, book.applied(cfg)
        kind, amount = classify_change(book, cfg)
        no_market = [c for c in cfg.coin_names if self._rb_add_rules(c) is None]
        min_order = {c: self._rb_exchange_min.get(c, 0.0) * FIRST_BUY_RESERVE
                     for c in cfg.coin_names}
        try:
            if no_market:
                raise FundsError(f"no spot market for {', '.join(map(cfg.pair, no_market))}")
            if kind == "refused":
                raise FundsError("change the coins and remove funds in two steps: first the "
                                 "coins (same or higher investment), then the investment")
            prices = {c: self._rb_price(cfg.pair(c), int(now)) or 0.0 for c in by_coin}
            value = self._rb_cash(trades) + math.fsum(
                t.amount * prices[c] for c, t in by_coin.items())
            if kind in ("add", "coins") and amount > 0:
                if self.wallets:
                    self.wallets.update()
                free = self.wallets.get_free(stake) if self.wallets else math.inf
                own = self._rb_cash(trades)
                # The cash figure is Freqtrade's fee arithmetic; the exchange rounds its own way:
                # a slack of 0.1% of the investment keeps cents of rounding from refusing.
                slack = 0.001 * book.investment
                low, high = fund_limits("add", cfg.weights, min_order, value,
                                        available=free - own + slack)
                check_fund_change("add", amount, low, high, stake)
            elif kind == "remove":
                low, high = fund_limits("remove", dict(book.applied(cfg).weights), min_order,
                                        value)
                check_fund_change("remove", amount, low, high, stake)
        except FundsError as err:
            where = ("raise dry_run_wallet as well" if self.config.get("dry_run")
                     else "deposit the funds on the exchange first")
            extra = f" (adding funds: {where})" if kind in ("add", "coins") else ""
            self._rb_say(f"Config change refused: {err}{extra}. The portfolio keeps running "
                         f"on {book.investment:g} {stake}: "
                         f"{', '.join(f'{c} {w:g}%' for c, w in book.coins)}")
            self._rb_book = replace(book, refused=signature)
            self._rb_save()
            return False, 0.0, book.applied(cfg)
        funded = book.funded + (amount if kind in ("add", "coins") else 0.0)
        self._rb_book = replace(book, coins=cfg.coins, investment=cfg.investment, funded=funded,
                                refused=None)
        self._rb_say({
            "add": f"Adding {amount:g} {stake} to the portfolio: rebalancing to invest it",
            "remove": f"Removing {amount:g} {stake} from the portfolio: selling each coin's share",
            "coins": "New allocation " + ", ".join(f"{c} {w:g}%" for c, w in cfg.coins)
                     + (f" with {amount:g} {stake} added" if amount > 0 else "")
                     + ": rebalancing",
        }[kind])
        self._rb_save()
        return kind != "remove", amount if kind == "remove" else 0.0, cfg

    def _rb_stop(self, reason: str, now: float) -> None:
        """End the portfolio: on_stop ``sell_all`` sells every coin at market, ``keep`` leaves
        them. The bot is paused so it opens nothing new; ``/start`` resumes."""
        cfg = self.rebalance
        self._rb_book = replace(self._rb_book, stopped=reason, stop_time=now, entries={},
                                inflight={}, engine=replace(self._rb_book.engine, phase="idle",
                                                            pending_buys={}))
        action = ("selling every coin at market" if cfg.on_stop == "sell_all"
                  else "the coins stay in the account, no longer managed")
        self._rb_say(f"Portfolio stopped: {reason}. on_stop = {cfg.on_stop}: {action}. "
                     f"Send /start to resume.")
        self._rb_save()
        bot = None if self._rb_is_backtest else freqtrade_bot(self.dp)
        if bot is not None and bot.state == BotState.RUNNING:
            bot.state = BotState.PAUSED
        self._rb_seen_paused = bot is not None

    def _rb_stopped_loop(self, by_coin: dict[str, Any]) -> None:
        """While stopped with on_stop = sell_all: exit every remaining coin at market."""
        if self.rebalance.on_stop != "sell_all":
            return
        for coin, trade in by_coin.items():
            if not trade.has_open_orders and trade.amount > 0:
                pair = self.rebalance.pair(coin)
                self._rb_orders[pair] = Leg(coin, "sell", trade.amount, 0.0)
                self._rb_market.add(pair)

    def _rb_commands(self, bot: Any, now: float, trades: list[Any]) -> None:
        """Freqtrade's own commands, read from the bot's state (dry/live). /stopentry (PAUSED)
        stops the portfolio; /start after a stop resumes it."""
        state = bot.state
        if not self._rb_book.stopped:
            if state == BotState.PAUSED:
                self._rb_stop("stopped from Telegram/FreqUI (/stopentry)", now)
        elif state == BotState.PAUSED:
            self._rb_seen_paused = True
        elif state == BotState.RUNNING:
            if self._rb_seen_paused:
                self._rb_resume(now, trades)
            else:  # after a restart or /reload_config: the portfolio stays stopped
                bot.state = BotState.PAUSED
                self._rb_seen_paused = True

    def _rb_resume(self, now: float, trades: list[Any]) -> None:
        cfg = self.rebalance
        book = self._rb_book
        if trades and book.started is not None:
            self._rb_book = replace(book, stopped=None, stop_time=None)
            self._rb_say("Portfolio resumed (/start): managing the coins again")
        else:
            cash = self._rb_cash([])  # what the portfolio's sales returned
            closed = Trade.get_total_closed_profit()
            self._rb_book = replace(Book.fresh(cfg, closed_base=closed),
                                    funded=min(cfg.investment, cash))
            # Freqtrade locks a pair for the rest of the candle after its trade closed; the
            # user asked to buy again now.
            self.unlock_reason("Auto lock")
            self._rb_say(f"Portfolio restarted (/start): buying "
                         f"{', '.join(f'{c} {w:g}%' for c, w in cfg.coins)} for "
                         f"{self._rb_book.funded:.2f} {cfg.stake_currency}")
        self._rb_seen_paused = False
        self._rb_save()

    def _rb_after_loop(self, trades: list[Any], now: float) -> None:
        """Dry/live: keep the record saved and the portfolio's state visible per trade (FreqUI's
        trade detail, Telegram's /list_custom_data)."""
        if self._rb_is_backtest:
            return
        self._rb_save()
        # Published when the portfolio changed (state, a fill) or every PUBLISH_EVERY seconds
        # (prices move the weights); never before the orders of this loop have filled.
        seen = (self._rb_status_line(), tuple(sorted((t.id, t.amount) for t in trades)))
        if (seen == self._rb_seen and now - self._rb_last_publish < PUBLISH_EVERY) \
                or self._rb_orders:
            return
        self._rb_seen = seen
        self._rb_last_publish = now
        try:
            self._rb_publish(trades, now)
        except Exception as err:  # visibility must never stop trading
            logger.warning(f"Could not publish the portfolio state: {err}")

    def portfolio_status(self, trades: list[Any], now: float) -> dict[str, dict[str, Any]]:
        """Per coin: target and current weight, drift, and the portfolio's state."""
        cfg = self.rebalance
        book = self._rb_book
        targets = book.applied(cfg).weights
        by_coin = {cfg.coin_of(t.pair): t for t in trades}
        prices = {c: self._rb_price(cfg.pair(c), int(now)) for c in by_coin}
        if not all(prices.values()):
            return {}
        pf = Portfolio({c: t.amount for c, t in by_coin.items()},
                       prices, self._rb_cash(trades))  # type: ignore[arg-type]
        weights = pf.weights()
        drift = drift_points(weights, targets)
        trigger = trigger_for(book.applied(cfg))
        if book.started is None:
            next_check = "after the first buys"
        elif isinstance(trigger, IntervalTrigger):
            next_check = _iso(trigger.next_check(now, book.started))
        else:
            next_check = f"every loop (threshold {cfg.threshold:g} points)"
        common = {
            "portfolio_state": self._rb_status_line(),
            "portfolio_value": round(pf.total, 2),
            "last_rebalance": _iso(book.engine.last_rebalance) if book.engine.last_rebalance
            else "never",
            "next_check": next_check,
            "on_stop": cfg.on_stop,
        }
        return {
            coin: {
                "target_weight": f"{targets.get(coin, 0.0) * 100:.2f}%",
                "weight": f"{weights.get(coin, 0.0) * 100:.2f}%",
                "drift": f"{drift.get(coin, weights.get(coin, 0.0) * 100):+.2f} points",
                **common,
            }
            for coin in by_coin
        }

    def _rb_publish(self, trades: list[Any], now: float) -> None:
        status = self.portfolio_status(trades, now)
        for trade in trades:
            data = status.get(self.rebalance.coin_of(trade.pair))
            if not data or self._rb_published.get(trade.id) == data:
                continue
            for key, value in data.items():
                trade.set_custom_data(key, value)
            self._rb_published[trade.id] = data

    def ft_adjust_wanted(self, pair: str) -> bool:
        """Backtest fast path (ft_fastpath): False when this pair has no order this candle."""
        return pair in self._rb_orders

    def rebalance_order(self, trade: Any, current_rate: float) -> tuple[float, str] | None:
        """This trade's share of the current rebalance, as Freqtrade's stake (or None)."""
        leg = self._rb_orders.pop(trade.pair, None)
        if leg is None:
            return None
        if not self._rb_is_backtest:  # Freqtrade reads these when it places the order
            kind = "market" if trade.pair in self._rb_market else "limit"
            self.order_types = {**self.order_types, "entry": kind, "exit": kind}
            self.order_time_in_force = {"entry": "IOC", "exit": "IOC"} if kind == "limit" \
                else {"entry": "GTC", "exit": "GTC"}
        coin = self.rebalance.coin_of(trade.pair)
        step_ = self._rb_rules[coin].qty_step
        if leg.side == "sell":
            # Freqtrade refuses a partial exit that would leave less than its minimum stake
            # (the exchange minimum with its reserves): such a sell takes the whole position.
            keep_min = self._rb_exchange_min.get(coin, 0.0) * FIRST_BUY_RESERVE * (
                1.0 + float(self.config.get("amount_reserve_percent", DEFAULT_AMOUNT_RESERVE)))
            if self._rb_book.stopped:
                return -trade.stake_amount, f"portfolio stopped ({self.rebalance.on_stop})"
            if leg.qty >= trade.amount or (trade.amount - leg.qty) * current_rate < keep_min:
                return -trade.stake_amount, "rebalance sell"
            # Freqtrade sells |stake| * amount / stake_amount, truncated to the step: ask for half
            # a step more so float error cannot truncate it one step short.
            qty = min(leg.qty + step_ / 2, trade.amount)
            return -(qty * trade.stake_amount / trade.amount), "rebalance sell"
        # Freqtrade buys floor(stake / rate) to the step: again half a step of margin.
        return (leg.qty + step_ / 2) * current_rate, "rebalance buy"


def _iso(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")
