"""The stand-in's second API dialect: Kraken's spot REST API, over the same market, account,
matching engine, candles and faults as the Binance dialect - for tests, never for money.

Run it with ``python -m binance_standin --dialect kraken ...`` (or
``start_server(..., dialect="kraken")``) and point ccxt's unmodified ``kraken`` client (or
Freqtrade's Kraken class, through ``exchange.ccxt_config``) at it with :func:`ccxt_overrides`.
The control API (``/sim/state``, ``/sim/price``, ``/sim/fault`` ...) is the Binance stand-in's,
with the stand-in's own symbols (``BTCUSDT``) and integer order ids (Kraken's id of order
``n`` is :func:`txid` ``(n)``).

What it serves (answers ``{"error": [], "result": ...}``; errors HTTP 200 with Kraken's
messages, e.g. ``{"error": ["EOrder:Insufficient funds"], "result": {}}``)
---------------------------------------------------------------------------------------------
* public ``/0/public/``: ``Time``, ``SystemStatus``, ``Assets``, ``AssetPairs``, ``Ticker``,
  ``Depth``, ``OHLC`` (GET or POST).
* private ``/0/private/`` (POST, form or JSON body): ``Balance``, ``BalanceEx``,
  ``TradeVolume``, ``AddOrder``, ``QueryOrders``, ``OpenOrders``, ``ClosedOrders``,
  ``CancelOrder``, ``CancelAll``, ``TradesHistory``, ``QueryTrades``. Each needs ``API-Key``
  (``EAPI:Invalid key``), ``API-Sign`` = base64 HMAC-SHA512 of the path + SHA256(nonce + POST
  body) with the base64-decoded secret (``EAPI:Invalid signature``), and a ``nonce`` greater
  than the last one accepted for the key (``EAPI:Invalid nonce``).
* anything else: HTTP 404, logged as UNEXPECTED and listed in ``/sim/state``.

Pairs and rules: Kraken's USDT pairs of BTC, ETH, ADA, LTC, XRP and DOGE (those with candle
files in ``--datadir``; ``pairs.py``), with Kraken's names (``XXBT``, ``XBTUSDT``), minimum
volume ``ordermin``, minimum cost ``costmin``, price tick and decimals, volume decimals.

Orders (``AddOrder``): ``market`` and ``limit`` (``timeinforce`` GTC or IOC; ``oflags``
``post``, ``viqc`` for a market buy by cost, ``fciq``/``fcib``/``nompp`` accepted; ``validate``).
Checked in Kraken's order: arguments (``EGeneral:Invalid arguments:<name>``; too many price
decimals ``EOrder:Invalid price:...``), ``ordermin`` (``EOrder:Order minimum not met``),
``costmin`` (``EOrder:Cost minimum not met``), funds (``EOrder:Insufficient funds``). Then the
order meets the synthetic book exactly as a Binance order does (see ``binance_standin``); an
IOC's unfilled rest is ``canceled`` (reason ``Insufficient liquidity``), a filled order
``closed``. Fees: 0.26% of the cost on taker fills, 0.16% on maker fills (``--fee``,
``--maker-fee``), charged in the quote coin on both sides (``fciq``: a buy pays cost + fee).
Stop, take-profit, trailing and GTD orders are refused (``EGeneral:Invalid arguments``).

Market data: ``OHLC`` answers the 720 most recent candles (``since`` only filters them), the
last one the current, partial candle; intervals 1, 5, 15, 30, 60, 240, 1440, 10080 minutes.
``Ticker``'s "today" figures are the last 24 hours'.

Faults (``POST /sim/fault``): as in the Binance dialect; an order fault armed without a
``path`` applies to ``AddOrder``; ``reject`` answers its ``msg`` when that is a Kraken error
(``"msg": "EOrder:Insufficient funds"``), else ``EOrder:Insufficient funds``; ``symbol`` and
``side`` filters take the stand-in's names (``BTCUSDT``, ``BUY``). Request weights: each
request counts 1 (``/sim/weights``); Kraken's own rate-limit counters are not modelled.

Not served: websockets, margin, staking, funding (deposits, withdrawals, ledgers), order
amendments and batches, public ``Trades``/``Spread``.
"""

from __future__ import annotations

from binance_standin.kraken.api import KrakenAPI
from binance_standin.kraken.formats import KrakenError, sim_id, trade_txid, txid
from binance_standin.kraken.pairs import ASSETS, PAIRS, KrakenPair
from binance_standin.kraken.server import (
    DEFAULT_SECRET,
    KrakenHTTPServer,
    ccxt_overrides,
    kraken_exchange,
    kraken_server,
)

__all__ = [
    "ASSETS",
    "DEFAULT_SECRET",
    "PAIRS",
    "KrakenAPI",
    "KrakenError",
    "KrakenHTTPServer",
    "KrakenPair",
    "ccxt_overrides",
    "kraken_exchange",
    "kraken_server",
    "sim_id",
    "trade_txid",
    "txid",
]
