"""configfile: a few keys of a Freqtrade config replaced, every other byte kept (comments,
compact lines, trailing commas), the result read back as intended."""

from __future__ import annotations

import json

import pytest

from rebalance_plugin.cli.configfile import ConfigFileError, edit, parse, read_config, scan
from tests.helpers.paths import ROOT

CONFIG = """{
    // the bot
    "max_open_trades": 10,
    "exchange": {"name": "binance", "pair_whitelist": ["BTC/USDT", "ETH/USDT"]},
    /* the portfolio */
    "rebalance": {
        "coins": {"BTC": 60, "ETH": 40},
        "investment": 1000,
    },
    "note": "a } and a // in a string",
}
"""


def test_only_the_values_change_and_comments_stay():
    new = edit(
        CONFIG,
        {
            ("rebalance",): {"coins": {"BTC": 50.0, "SOL": 50.0}, "investment": 2000.0},
            ("exchange", "pair_whitelist"): ["BTC/USDT", "SOL/USDT"],
            ("max_open_trades",): 2,
        },
    )
    assert new == CONFIG.replace('"max_open_trades": 10', '"max_open_trades": 2').replace(
        '["BTC/USDT", "ETH/USDT"]', '["BTC/USDT", "SOL/USDT"]'
    ).replace(
        '{\n        "coins": {"BTC": 60, "ETH": 40},\n        "investment": 1000,\n    }',
        '{\n        "coins": {"BTC": 50, "SOL": 50},\n        "investment": 2000\n    }',
    )
    assert parse(new)["note"] == "a } and a // in a string"


def test_missing_keys_are_added_at_the_end_of_their_object():
    new = edit(
        '{\n  "a": 1,\n  "exchange": {}\n}\n',
        {("exchange", "pair_whitelist"): ["X/USDT"], ("max_open_trades",): 3},
    )
    assert new == (
        '{\n  "a": 1,\n  "exchange": {\n    "pair_whitelist": ["X/USDT"]\n  },\n'
        '  "max_open_trades": 3\n}\n'
    )


def test_the_shipped_config_reads_as_json_would_read_it():
    text = (ROOT / "config.json").read_text()
    assert parse(text) == json.loads(text)
    assert [k for k, _, _ in scan(text).members] == list(json.loads(text))


def test_a_broken_file_is_refused_with_its_place(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{\n  "a": 1\n  "b": 2\n}\n')
    with pytest.raises(
        ConfigFileError, match="not a valid config file: ',' or '}' is expected at line 3, column 3"
    ):
        read_config(path)
    with pytest.raises(
        FileNotFoundError, match=r"does not exist\. To get one, copy this project's config\.json"
    ):
        read_config(tmp_path / "missing.json")
