"""The files of try-live's bot: its Freqtrade config pointed at the stand-in, ``rest.json`` for
``freqtrade-client`` and the JWT secret kept in the work folder; and ``--write-config``, which
writes only them for a stand-in the user runs."""

from __future__ import annotations

import copy
import importlib
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

API_USER = "freqtrader"


def load_json(path: Path) -> dict[str, Any]:
    """A Freqtrade config (comments and trailing commas allowed, as Freqtrade reads it)."""
    from freqtrade.configuration.load_config import load_config_file

    return dict(load_config_file(str(path)))


def _absolute(value: str | None, base: Path) -> str | None:
    if not value:
        return value
    path = Path(value)
    return str(path if path.is_absolute() else (base / path).resolve())


def bot_config(
    config: dict[str, Any], config_dir: Path, standin: str, workdir: Path, port: int
) -> dict[str, Any]:
    """``config`` as a dry-run bot against the stand-in at ``standin``: everything else (the
    portfolio, pricing, the strategy) as the user has it. No secret is written: the password
    and the JWT secret reach Freqtrade through the environment (:func:`secret_env`)."""
    # binance_standin is the repository's stand-in (beside rebalance_plugin/): imported by
    # name, so that type checking of the plugin stays within the plugin.
    ccxt_overrides = importlib.import_module("binance_standin").ccxt_overrides

    cfg = copy.deepcopy(config)
    cfg["dry_run"] = True
    cfg["db_url"] = f"sqlite:///{(workdir / 'tradesv3.dryrun.sqlite').resolve()}"
    cfg["user_data_dir"] = str((workdir / "user_data").resolve())
    for key in ("strategy_path", "hyperopt_path", "datadir"):
        if cfg.get(key):
            cfg[key] = _absolute(cfg[key], config_dir)
    cfg["initial_state"] = "running"
    exchange = cfg.setdefault("exchange", {})
    overrides = ccxt_overrides(standin)
    exchange["ccxt_config"] = copy.deepcopy(overrides)
    exchange["ccxt_async_config"] = copy.deepcopy(overrides)
    exchange["enable_ws"] = False  # the stand-in serves no websocket
    exchange["key"], exchange["secret"] = "", ""
    cfg.pop("fiat_display_currency", None)  # would ask api.coingecko.com for USD prices
    cfg.setdefault("telegram", {})["enabled"] = False
    api = cfg.setdefault("api_server", {})
    api.update(enabled=True, listen_ip_address="127.0.0.1", listen_port=port)
    api["username"] = api.get("username") or API_USER
    for key in ("password", "jwt_secret_key", "ws_token"):
        api.pop(key, None)
    return cfg


def jwt_secret(workdir: Path) -> str:
    """The JWT secret kept in ``workdir/jwt_secret``: made once, so that a restarted bot
    accepts FreqUI's login of before (a new secret logs every browser out)."""
    path = workdir / "jwt_secret"
    if path.is_file() and len(path.read_text().strip()) >= 32:
        return path.read_text().strip()
    secret = secrets.token_hex(32)
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return secret


def write_rest_json(workdir: Path, port: int, username: str, password: str) -> Path:
    """``rest.json`` as ``freqtrade-client --config`` reads it."""
    path = workdir / "rest.json"
    rest = {
        "api_server": {
            "listen_ip_address": "127.0.0.1",
            "listen_port": port,
            "username": username,
            "password": password,
        }
    }
    path.write_text(json.dumps(rest, indent=4) + "\n")
    path.chmod(0o600)
    return path


def secret_env(password: str, jwt: str) -> dict[str, str]:
    """The environment of the bot: the user's, without other FREQTRADE__ overrides, plus the
    password and the JWT secret."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FREQTRADE__")}
    env["FREQTRADE__API_SERVER__PASSWORD"] = password
    env["FREQTRADE__API_SERVER__JWT_SECRET_KEY"] = jwt
    env["PYTHONUNBUFFERED"] = "1"
    return env


def write_config(config_path: Path, workdir: Path, standin: str, port: int, out: Any = None) -> int:
    """Only the files: the bot's config for a stand-in at ``standin``, ``rest.json`` (its
    password kept when the file exists) and the JWT secret, and how to start the bot."""
    out = out or sys.stdout
    config_path = Path(config_path)
    config = load_json(config_path)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "user_data").mkdir(exist_ok=True)
    cfg = bot_config(config, config_path.resolve().parent, standin, workdir, port)
    bot_path = workdir / "config.json"
    bot_path.write_text(json.dumps(cfg, indent=4) + "\n")
    password = ""
    rest_path = workdir / "rest.json"
    if rest_path.is_file():
        password = json.loads(rest_path.read_text()).get("api_server", {}).get("password", "")
    password = password or secrets.token_urlsafe(18)
    rest = write_rest_json(workdir, port, cfg["api_server"]["username"], password)
    jwt_path = workdir / "jwt_secret"
    jwt_secret(workdir)
    print(f"wrote {bot_path} (a dry-run bot against {standin}), {rest} and {jwt_path}", file=out)
    print("start the bot with the password and JWT secret from those files:", file=out)
    print(
        f"  export FREQTRADE__API_SERVER__PASSWORD=\"$(.venv/bin/python -c 'import json; "
        f'print(json.load(open("{rest}"))["api_server"]["password"])\')"',
        file=out,
    )
    print(f'  export FREQTRADE__API_SERVER__JWT_SECRET_KEY="$(cat {jwt_path})"', file=out)
    print(f"  .venv/bin/freqtrade trade --config {bot_path}", file=out)
    print(f"then: .venv/bin/freqtrade-client --config {rest} status", file=out)
    return 0
