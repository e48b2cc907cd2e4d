"""The realised gains of a backtest or of a bot, and every trade in the import formats of crypto
tax tools: ``freqtrade-rebalance tax`` (its arguments and exit code:
:mod:`rebalance_plugin.cli.tax`).

Sources (what Freqtrade recorded, read only):

* a backtest result (``--backtest [FILE]``, the latest in the results folder by default): its
  trades' orders, as the report reads them. A backtest ends by selling the trades still open
  at its last candle (Freqtrade's ``force_exit``); those closing sales are real sales in
  Freqtrade's result and are exported (``--without-final-exits`` leaves them out, and the coins
  they sold stay in their lots).
* a bot's database (``--db-url``, the bot's ``db_url``: any database Freqtrade supports):
  Freqtrade's own ``Trade`` and ``Order`` records, read through a session of our own that never
  writes (SQLite is opened read-only; PostgreSQL sessions are read-only transactions).
  Freqtrade's ``init_db`` is not used: it may create tables, migrate, switch SQLite to WAL and
  fix old dry-run orders, i.e. write to the bot's database.

Each filled order is a :class:`~rebalance_plugin.core.taxlots.Fill`: the quantity that entered
or left the account (Freqtrade's ``safe_amount_after_fee``), the fill price, and the fee in the
stake currency: ``value × fee rate`` (the trade's ``fee_open`` for buys, ``fee_close`` for
sales: the rates Freqtrade books them with), or, when the exchange took the fee in the coin
(``ft_fee_base``), that quantity at the fill price. The lot matching is
:mod:`rebalance_plugin.core.taxlots`.

Formats:

* ``gains``: one row per sale, ``date,coin,quantity,proceeds,cost_basis,gain,fee,
  holding_days,method`` (money rounded to the cent, dates UTC), and the totals per year and
  per coin on the terminal (sums of the exact amounts, rounded).
* ``koinly``: Koinly's universal CSV template (support.koinly.io, "How to create a custom CSV
  file with your data"): ``Date,Sent Amount,Sent Currency,Received Amount,Received Currency,
  Fee Amount,Fee Currency,Net Worth Amount,Net Worth Currency,Label,Description,TxHash``, dates
  ``YYYY-MM-DD HH:MM:SS UTC``. The amounts sent and received are before the fee, which is its
  own column, as the templates of Koinly and the other tools take it.
* ``cointracking``: CoinTracking's CSV import, ``"Type","Buy Amount","Buy Currency","Sell
  Amount","Sell Currency","Fee","Fee Currency","Exchange","Trade-Group","Comment","Date"``, every
  field quoted, Type ``Trade``, dates ``DD.MM.YYYY HH:MM:SS`` in UTC (choose UTC when
  importing).

The package: :mod:`.sources` (the fills of a result or a database) and :mod:`.formats` (the
CSV files and the totals). Freqtrade is imported inside the functions that need it.
"""

from __future__ import annotations

from .formats import (
    COINTRACKING_COLUMNS,
    FORMATS,
    GAINS_COLUMNS,
    KOINLY_COLUMNS,
    TRADE_GROUP,
    amount,
    cents,
    cointracking_rows,
    export,
    format_totals,
    gains_rows,
    koinly_rows,
    money,
    summary,
    write_csv,
)
from .sources import (
    History,
    TaxError,
    _readonly_engine,  # the tests open a database the way the export does
    from_backtest,
    from_database,
)

__all__ = [
    "COINTRACKING_COLUMNS",
    "FORMATS",
    "GAINS_COLUMNS",
    "KOINLY_COLUMNS",
    "TRADE_GROUP",
    "History",
    "TaxError",
    "_readonly_engine",
    "amount",
    "cents",
    "cointracking_rows",
    "export",
    "format_totals",
    "from_backtest",
    "from_database",
    "gains_rows",
    "koinly_rows",
    "money",
    "summary",
    "write_csv",
]
