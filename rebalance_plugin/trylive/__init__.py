"""The portfolio of ``config.json`` as a dry-run bot on this machine, against a local stand-in
for Binance, with no internet and no money: ``freqtrade-rebalance try-live`` (its arguments and
exit code: :mod:`rebalance_plugin.cli.try_live`).

1. Finds candles of the portfolio's coins (``--datadir``, the config's ``datadir``,
   ``user_data/data/<exchange>``, ``../shared/data/binance``), else generates a seeded
   SYNTHETIC market in the work folder and says so.
2. Starts the stand-in (``python -m binance_standin``: Binance's spot REST API on 127.0.0.1,
   the candles replayed in the present) and writes the bot's config for it (:func:`bot_config`:
   ccxt pointed at the stand-in, ``enable_ws`` off, no ``fiat_display_currency``, the REST
   API on 127.0.0.1), a ``rest.json`` for ``freqtrade-client`` and a JWT secret kept in the
   work folder (FreqUI stays logged in across restarts).
3. Starts ``freqtrade trade`` (dry-run) on it, waits until its REST API answers, prints
   ``url:``, ``username:`` and ``password:`` (generated), a few ``freqtrade-client`` commands
   and how to move a price, then echoes what the bot announces.
4. Ctrl-C (or SIGTERM) stops the bot, then the stand-in, and waits until both are gone.

The coins' prices are held at their value when it starts (:func:`freeze`); ``--move
COIN=FACTOR`` / ``--set-price COIN=PRICE`` move one (the stand-in's ``POST /sim/price``).
``--write-config --standin URL`` only writes the config, ``rest.json`` and the JWT secret for
a stand-in you run yourself (docs/try-live.md#by-hand-the-same-bot-step-by-step).

The package: :mod:`.session` (the run), :mod:`.botconfig` (the bot's files),
:mod:`.processes` (the children), :mod:`.prices` (holding and moving prices).
"""

from __future__ import annotations

from .botconfig import bot_config, jwt_secret, load_json, secret_env, write_config, write_rest_json
from .errors import TryLiveError
from .prices import STATE_FILE, freeze, move, prices_now
from .session import portfolio_candles, start

__all__ = [
    "STATE_FILE",
    "TryLiveError",
    "bot_config",
    "freeze",
    "jwt_secret",
    "load_json",
    "move",
    "portfolio_candles",
    "prices_now",
    "secret_env",
    "start",
    "write_config",
    "write_rest_json",
]
