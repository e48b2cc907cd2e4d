"""Telling the user: the log, and Telegram / FreqUI's message feed in dry/live; a backtest's
rebalance events go to the journal (``core.journal``); hyperopt's epochs say nothing above debug
level and write no journal."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..core import journal, messages
from ..core.engine import Event
from ..core.messages import describe, telegram_markdown
from .context import Context

if TYPE_CHECKING:
    from .store import StateStore

logger = logging.getLogger("rebalance_plugin.ft")


class Notifier:
    """Owns the journal file of a backtest."""

    def __init__(self, ctx: Context, store: StateStore | None = None) -> None:
        self.ctx = ctx
        self.store = store  # dry/live: the last announcement is kept in the record
        self.journal: Path | None = None
        self._journal_fh: IO[str] | None = None  # open while a backtest journals
        self.quiet = False  # hyperopt's epochs: said at debug level only (thousands of runs)

    def __getstate__(self) -> dict[str, Any]:
        """Hyperopt's worker processes receive the strategy pickled: no file handle."""
        return {**self.__dict__, "_journal_fh": None}

    def start_journal(self) -> None:
        """Backtest: an empty journal in Freqtrade's ``backtest_results`` folder. The last
        run's journal is kept beside it (``journal.keep``): the report of an older result
        finds its own (``report.loading.find_journal``)."""
        path = journal.journal_path(self.ctx.config.get("user_data_dir", "user_data"))
        path.parent.mkdir(parents=True, exist_ok=True)
        if self._journal_fh is not None:
            self._journal_fh.close()
            self._journal_fh = None
        journal.keep(path)
        path.write_text("")
        self.journal = path

    def say(self, text: str) -> None:
        """Tell the user (log, and Telegram / FreqUI's message feed in dry/live)."""
        logger.log(logging.DEBUG if self.quiet else logging.INFO, text)
        dp = self.ctx.dp
        if not self.ctx.backtest and dp:
            dp.send_msg(telegram_markdown(text), always_send=True)
        if not self.ctx.backtest and self.store is not None:
            # FreqUI shows no strategy message: the custom data shows the last one (status.py).
            self.store.update(said=(time.time(), text))

    def config_accepted(self) -> None:
        """Dry/live: config.json's section accepted (start-up, ``/reload_config``). A refusal
        said before that it makes untrue (``messages.superseded``) is followed by what runs
        now, so that it is no longer the last word (Telegram, the custom data's
        ``last_announcement``), and a refused change no longer asked for is forgotten."""
        if self.ctx.backtest or self.store is None:
            return
        book = self.store.book
        pending = book.applied(self.ctx.cfg) is not self.ctx.cfg
        if book.said is None or not messages.superseded(book.said[1], pending):
            return
        if not pending:
            self.store.update(refused=None)
        self.say(messages.config_accepted(book, self.ctx.stake))
        self.store.save()

    def report(self, event: Event) -> None:
        """A rebalance event: journalled in a backtest, said in dry/live."""
        if self.journal is not None:
            if self._journal_fh is None:  # one handle per run, a line per event
                self._journal_fh = self.journal.open("a", buffering=1)
            self._journal_fh.write(journal.dumps(event) + "\n")
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug(describe(event, self.ctx.stake))
        else:
            self.say(describe(event, self.ctx.stake))
