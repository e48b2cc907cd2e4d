"""An in-process Freqtrade dry-run bot with Telegram on, for the tests: only the networks are fake.

- **Exchange**: ``binance_standin``, the local Binance stand-in (real HTTP on 127.0.0.1,
  reached through ccxt's URL overrides), serving real Binance candles when present.
- **Telegram**: :class:`FakeTelegramAPI` replaces python-telegram-bot's HTTP client (a
  ``telegram.request.BaseRequest``), i.e. the Bot API server at ``api.telegram.org``. Everything
  above it is real: Freqtrade's ``Telegram`` RPC module starts its own thread and event loop,
  builds a real ``telegram.ext.Application`` with all of Freqtrade's command handlers, logs in
  (``getMe``) and long-polls ``getUpdates``. A command is a Telegram ``Update`` handed out by
  ``getUpdates``, routed by the real ``CommandHandler`` to Freqtrade's handler (through its
  ``authorized_only`` chat check), and every answer is a real ``Bot.send_message`` call that
  reaches the fake as a ``sendMessage`` request.

  The fake parses ``parse_mode: Markdown`` texts the way the Bot API does (legacy Markdown, as
  tdlib's ``parse_markdown``): an entity without its end (a lone ``_``, ``*``, a backtick or
  ``[``) is refused with *400 Bad Request: can't parse entities*, as the real server answers
  (python-telegram-bot raises ``BadRequest``; Freqtrade retries once, logs a warning and drops
  the message). Each accepted message is recorded with the text the chat shows (Markdown
  markers or HTML tags removed).
- **CoinGecko** (Freqtrade's fiat display): its two calls answer USDT = 1 USD.

One timing change, no behaviour change: Freqtrade's Telegram thread wakes every 10 s to see
whether polling has stopped (``_startup_telegram``), so shutting it down could take 10 s. The
``asyncio`` module *as seen by freqtrade.rpc.telegram* gets a ``sleep`` capped at 50 ms
(:func:`fast_telegram_watchdog`); python-telegram-bot and the rest keep the real one.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import re
import threading
import time
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telegram.request import BaseRequest, RequestData

from tests.helpers.paths import ROOT, SHARED_DATA

MAX_MESSAGE_LENGTH = 4096  # Bot API limit for sendMessage text (after entity parsing)


class MarkdownError(ValueError):
    """The Bot API's answer to a text it cannot parse."""


def render_legacy_markdown(text: str) -> str:
    """What a Telegram user sees for ``text`` sent with ``parse_mode="Markdown"`` (legacy).

    Follows the Bot API's parser (tdlib ``parse_markdown``): ``_italic_``, ``*bold*``,
    ```code```, ````` ```pre``` `````, ``[text](url)``; a backslash escapes ``_ * ` [`` outside
    an entity; entities do not nest; an entity without its end character is an error naming the
    byte offset where it starts.
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.append(text[i + 1])
            i += 2
            continue
        if c not in "_*`[":
            out.append(c)
            i += 1
            continue
        begin = i
        end_char = "]" if c == "[" else c
        i += 1
        is_pre = False
        if c == "`" and text[i : i + 2] == "``":
            i += 2
            is_pre = True
            lang_end = i
            while lang_end < n and not text[lang_end].isspace() and text[lang_end] != "`":
                lang_end += 1
            if i != lang_end and lang_end < n and text[lang_end] != "`":
                i = lang_end
            if i < n and text[i] in "\r\n":
                i += 2 if i + 1 < n and text[i + 1] in "\r\n" and text[i] != text[i + 1] else 1
        while i < n and (text[i] != end_char or (is_pre and text[i + 1 : i + 3] != "``")):
            out.append(text[i])
            i += 1
        if i >= n:
            offset = len(text[:begin].encode("utf-8"))
            raise MarkdownError(
                "Bad Request: can't parse entities: Can't find end of the "
                f"entity starting at byte offset {offset}"
            )
        i += 3 if is_pre else 1
        if c == "[" and i < n and text[i] == "(":
            close = text.find(")", i + 1)
            if close != -1:
                i = close + 1
    return "".join(out)


@dataclass
class Sent:
    """One ``sendMessage`` request the Bot API accepted (``shown``: what the chat displays)."""

    chat_id: str
    text: str
    shown: str
    parse_mode: str | None


class FakeTelegramAPI(BaseRequest):
    """The Telegram Bot API server, answering python-telegram-bot's HTTP requests in memory.

    Handles ``getMe``, ``deleteWebhook``, ``getUpdates`` (long poll on :meth:`command`'s queue),
    ``sendMessage`` (recorded in :attr:`sent`, refused in :attr:`refused` when Telegram would
    refuse it) and answers any other method with ``true``.
    """

    BOT_USER = {"id": 123, "is_bot": True, "first_name": "freqtrade", "username": "ft_test_bot"}

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.refused: list[tuple[str, str]] = []  # (text, Bot API error)
        self.calls: list[str] = []
        self.polling = threading.Event()
        self._updates: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    # -- BaseRequest -------------------------------------------------------------------------
    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data else {}
        with self._lock:
            self.calls.append(endpoint)
        if endpoint == "getMe":
            return self._ok(self.BOT_USER)
        if endpoint == "deleteWebhook":
            if params.get("drop_pending_updates"):
                with self._lock:
                    self._updates.clear()
            return self._ok(True)
        if endpoint == "getUpdates":
            return self._ok(await self._get_updates(params))
        if endpoint == "sendMessage":
            return self._send_message(params)
        return self._ok(True)

    # -- the server's side ---------------------------------------------------------------------
    @staticmethod
    def _ok(result: Any) -> tuple[int, bytes]:
        return 200, json.dumps({"ok": True, "result": result}).encode()

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        self.polling.set()
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 0.5)
        while True:
            with self._lock:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
                if self._updates:
                    return list(self._updates)
            if time.monotonic() >= deadline:
                return []
            await asyncio.sleep(0.01)

    def _send_message(self, params: dict[str, Any]) -> tuple[int, bytes]:
        text = str(params.get("text", ""))
        mode = params.get("parse_mode")
        try:
            shown = (
                render_legacy_markdown(text)
                if mode == "Markdown"
                else html.unescape(re.sub(r"<[^>]+>", "", text))
                if mode == "HTML"
                else text
            )
            if len(shown) > MAX_MESSAGE_LENGTH:
                raise MarkdownError("Bad Request: message is too long")
        except MarkdownError as err:
            with self._lock:
                self.refused.append((text, str(err)))
            return 400, json.dumps(
                {"ok": False, "error_code": 400, "description": str(err)}
            ).encode()
        chat_id = str(params.get("chat_id"))
        with self._lock:
            self.sent.append(Sent(chat_id, text, shown, mode))
            message_id = next(self._ids)
        return self._ok(
            {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": int(chat_id), "type": "private"},
                "text": shown,
            }
        )

    # -- the test's side -----------------------------------------------------------------------
    def command(self, text: str, chat_id: int) -> int:
        """A user in chat ``chat_id`` sends ``text`` (``"/stopentry"``, ``"/list_custom_data 1"``);
        the bot receives it on its next ``getUpdates``. Returns the update id."""
        command = text.split()[0]
        with self._lock:
            uid = next(self._ids)
            self._updates.append(
                {
                    "update_id": uid,
                    "message": {
                        "message_id": uid,
                        "date": int(time.time()),
                        "text": text,
                        "chat": {"id": chat_id, "type": "private"},
                        "from": {"id": chat_id, "is_bot": False, "first_name": "user"},
                        "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}],
                    },
                }
            )
        return uid

    def delivered(self) -> bool:
        """True once every queued update has been fetched (acknowledged) by the bot."""
        with self._lock:
            return not self._updates

    def messages(self, chat_id: str | None = None) -> list[Sent]:
        with self._lock:
            return [m for m in self.sent if chat_id is None or m.chat_id == chat_id]

    def texts(self, chat_id: str | None = None) -> list[str]:
        return [m.shown for m in self.messages(chat_id)]

    def clear(self) -> None:
        with self._lock:
            self.sent.clear()
            self.refused.clear()


def fast_telegram_watchdog() -> types.ModuleType:
    """``asyncio`` for freqtrade.rpc.telegram with ``sleep`` capped at 50 ms (see module doc)."""
    proxy = types.ModuleType("asyncio_fast_watchdog")
    proxy.__dict__.update(vars(asyncio))

    async def sleep(delay: float, result: Any = None) -> Any:
        return await asyncio.sleep(min(delay, 0.05), result)

    proxy.sleep = sleep  # type: ignore[attr-defined]
    return proxy


def wait_for(
    predicate: Callable[[], Any],
    timeout: float = 5.0,
    what: str = "condition",
    interval: float = 0.01,
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


# ---- the bot ---------------------------------------------------------------------------------
SIM_START = "2024-01-01"
TOKEN = "123:ABC"
CHAT_ID = "1234"
COINS = ("BTC", "ETH", "BNB", "SOL")


def candles_dir(make_dir: Callable[[], Path]) -> tuple[Path, bool]:
    """(directory, real?): the real Binance candles when present, else a seeded synthetic market
    written into ``make_dir()`` with ``rebalance_plugin.marketdata.synthetic`` (prices then not
    real)."""
    if all((SHARED_DATA / f"{c}_USDT-1h.feather").exists() for c in COINS):
        return SHARED_DATA, True
    from rebalance_plugin.marketdata.synthetic import generate_market

    path = make_dir()
    generate_market(
        path, [f"{c}/USDT" for c in COINS], "1h", start="2023-11-01", end="2024-03-01", seed=42
    )
    return path, False


def bot_config(
    tmp_path: Path,
    base_url: str,
    *,
    rebalance: dict[str, Any] | None = None,
    telegram: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The project's config.json as ``freqtrade trade`` loads it (Freqtrade's Configuration),
    changed only where a test must: user data and an sqlite database in ``tmp_path``, the
    strategy path made absolute, the exchange pointed at the stand-in (websockets off, and no
    client-side rate limit: it is a local server), Telegram enabled with a fake token and chat
    id 1234, the REST API off, plus ``rebalance`` / ``telegram`` overrides."""
    from freqtrade.configuration import Configuration

    from binance_standin import ccxt_overrides

    cfg = json.loads((ROOT / "config.json").read_text())
    cfg["rebalance"].update(rebalance or {})
    cfg["user_data_dir"] = str(tmp_path / "user_data")
    (tmp_path / "user_data").mkdir(parents=True, exist_ok=True)
    cfg["strategy_path"] = str(ROOT / "strategies")
    ccxt = {**ccxt_overrides(base_url), "enableRateLimit": False}
    cfg["exchange"].update(ccxt_config=ccxt, ccxt_async_config=ccxt, enable_ws=False)
    cfg["telegram"].update(
        {"enabled": True, "token": TOKEN, "chat_id": CHAT_ID, **(telegram or {})}
    )
    cfg["api_server"]["enabled"] = False
    cfg["initial_state"] = "running"
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg, indent=1))
    db_url = f"sqlite:///{tmp_path / 'tradesv3.dryrun.sqlite'}"
    return Configuration({"config": [str(path)], "db_url": db_url}, None).get_config()


@contextlib.contextmanager
def as_a_fresh_process() -> Iterator[None]:
    """The process state ``freqtrade trade`` starts from, whatever ran before in this pytest
    process: ccxt's binance classes unpatched (tests of ``rebalance_plugin.marketdata.offline``
    and the in-process backtests leave its patch installed: it refuses every HTTP request) and
    Freqtrade's database in use (a backtest switches it off). Restores the patch afterwards."""
    from freqtrade.persistence.usedb_context import enable_database_use

    from rebalance_plugin.marketdata import offline

    installed = bool(offline._ORIGINALS)
    if installed:
        offline.uninstall_offline_markets()
    enable_database_use()
    try:
        yield
    finally:
        if installed:
            offline.install_offline_markets()


def fake_networks(monkeypatch: Any, api: FakeTelegramAPI) -> None:
    """Point Freqtrade's Telegram module at ``api`` (a real Application whose HTTP client is
    the fake) and answer CoinGecko's two calls (USDT = 1 USD) without the internet."""
    import freqtrade.rpc.telegram as tg
    from freqtrade.util.coin_gecko import FtCoinGeckoApi
    from telegram.ext import Application

    def init_app(self: Any) -> Application:
        return (
            Application.builder()
            .token(self._config["telegram"]["token"])
            .request(api)
            .get_updates_request(api)
            .build()
        )

    monkeypatch.setattr(tg.Telegram, "_init_telegram_app", init_app)
    monkeypatch.setattr(tg, "asyncio", fast_telegram_watchdog())
    monkeypatch.setattr(
        FtCoinGeckoApi,
        "get_coins_list",
        lambda self, **kw: [{"id": "tether", "symbol": "usdt", "name": "Tether"}],
    )
    monkeypatch.setattr(
        FtCoinGeckoApi,
        "get_price",
        lambda self, ids, vs_currencies, **kw: {ids: {vs_currencies: 1.0}},
    )


class TelegramBot:
    """A real dry-run ``FreqtradeBot`` (the project's strategy and config) with Telegram on.

    ``loop()`` is one iteration of Freqtrade's worker (``FreqtradeBot.process``: bot_loop_start,
    order checks, position adjustments, entries, then the strategy messages go out).
    ``command()`` is a user typing in a Telegram chat.
    """

    def __init__(self, config: dict[str, Any], api: FakeTelegramAPI, sim: Any) -> None:
        from freqtrade.freqtradebot import FreqtradeBot

        self.api, self.sim = api, sim
        self.bot = FreqtradeBot(config)
        try:
            if not api.polling.wait(10):
                raise AssertionError("Freqtrade's Telegram thread never polled getUpdates")
            self.bot.startup()
            self.flush()  # the start-up notifications are out before the test speaks
        except BaseException:
            self.bot.cleanup()
            raise

    @property
    def telegram(self) -> Any:
        from freqtrade.rpc.telegram import Telegram

        return next(m for m in self.bot.rpc.registered_modules if isinstance(m, Telegram))

    @property
    def strategy(self) -> Any:
        return self.bot.strategy

    @property
    def state(self) -> Any:
        return self.bot.state

    def loop(self, times: int = 1) -> None:
        for _ in range(times):
            self.bot.process()

    def loop_until(
        self, predicate: Callable[[], Any], max_loops: int = 10, what: str = "condition"
    ) -> Any:
        """Run loops until ``predicate()`` is truthy (checked after each loop)."""
        for _ in range(max_loops):
            self.bot.process()
            value = predicate()
            if value:
                return value
        raise AssertionError(f"{what}: not reached after {max_loops} loops")

    def command(
        self,
        text: str,
        chat_id: int = int(CHAT_ID),
        replies: int = 1,
        timeout: float = 10.0,
        settle: float = 0.0,
    ) -> list[str]:
        """Send ``text`` from ``chat_id`` and wait for at least ``replies`` new messages (what the
        chat shows), then, with ``settle``, until no further message came for that many seconds.
        With ``replies=0`` only waits until the bot has fetched the update."""
        before = len(self.api.messages())
        self.api.command(text, chat_id)
        wait_for(self.api.delivered, timeout, f"the bot to fetch {text!r}")
        if not replies:
            return []
        wait_for(
            lambda: len(self.api.messages()) >= before + replies,
            timeout,
            f"{replies} answer(s) to {text!r}; got {self.api.texts()[before:]} "
            f"(refused by Telegram: {self.api.refused})",
        )
        count, quiet_since = len(self.api.messages()), time.monotonic()
        while time.monotonic() - quiet_since < settle:
            time.sleep(0.01)
            if len(self.api.messages()) != count:
                count, quiet_since = len(self.api.messages()), time.monotonic()
        return [m.shown for m in self.api.messages()[before:]]

    def wait_message(self, needle: str, timeout: float = 5.0) -> str:
        """The first message to chat 1234 containing ``needle`` (waits for delivery)."""

        def find() -> str | None:
            return next((t for t in self.api.texts(CHAT_ID) if needle in t), None)

        return wait_for(
            find,
            timeout,
            f"a Telegram message containing {needle!r}; sent: "
            f"{self.api.texts()} refused: {self.api.refused}",
        )

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until every message already handed to Freqtrade's Telegram thread has had the
        Bot API's answer (sent or refused): the sends are tasks on that thread's event loop."""

        async def drain() -> None:
            me = asyncio.current_task()
            while True:
                sends = [
                    t
                    for t in asyncio.all_tasks()
                    if t is not me and "_send_msg" in getattr(t.get_coro(), "__qualname__", "")
                ]
                if not sends:
                    return
                await asyncio.wait(sends)

        asyncio.run_coroutine_threadsafe(drain(), self.telegram._loop).result(timeout)

    def open_trades(self) -> list[Any]:
        from freqtrade.persistence import Trade

        return Trade.get_open_trades()

    def cleanup(self) -> None:
        """``FreqtradeBot.cleanup()`` (Telegram thread joined, exchange closed), then finish
        what Telegram's event loop still had pending and close it. Freqtrade's thread leaves
        its loop as soon as polling has stopped, sometimes before ``Application.stop()`` and
        ``shutdown()`` have completed; their coroutines would otherwise be garbage-collected
        later, in the middle of another test (an "Exception ignored" that, on Python 3.11.7,
        can crash pytest's traceback formatting: CPython gh-106905)."""
        telegram = self.telegram
        self.bot.cleanup()
        loop = telegram._loop
        if loop.is_running() or loop.is_closed():
            return
        pending = asyncio.all_tasks(loop)
        if pending:
            loop.run_until_complete(asyncio.wait(pending, timeout=5))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
