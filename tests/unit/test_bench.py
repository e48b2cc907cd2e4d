"""Pure helpers of `make bench` (tools/bench.py). No timing assertions."""

from __future__ import annotations

import json

from rebalance_plugin.ft.startup import check_pairs, load_config
from tools import bench


def test_config_builder_whitelist_is_exactly_the_coins_pairs(tmp_path):
    base = json.loads(bench.BASE_CONFIG.read_text())
    cfg = bench.build_config(base, bench.TEN_COINS, 1, 10000, tmp_path / "user_data")
    assert cfg["exchange"]["pair_whitelist"] == [f"{c}/USDT" for c in bench.TEN_COINS]
    assert cfg["rebalance"]["coins"] == bench.TEN_COINS
    assert cfg["rebalance"]["threshold"] == 1
    assert cfg["rebalance"]["investment"] == cfg["dry_run_wallet"] == 10000
    assert cfg["user_data_dir"] == str(tmp_path / "user_data")
    assert base["rebalance"]["coins"] != bench.TEN_COINS  # config.json's dict is not modified
    check_pairs(cfg, load_config(cfg))  # the plugin's own start-up check accepts it


def test_bucket_medians_and_journal_counts():
    samples = [(0.001, 5), (0.003, 50), (0.002, 99.9), (0.004, 100), (0.010, 2000)]
    assert bench.bucket_medians(samples, (0, 100, 1000)) == [
        ("0-100", 3, 2000.0),
        ("100-1000", 1, 4000.0),
        ("1000+", 1, 10000.0),
    ]
    assert bench.bucket_medians([], (0, 10))[0] == ("0-10", 0, None)
    lines = [
        json.dumps({"legs": [{"coin": "BTC"}, {"coin": "ETH"}]}),
        json.dumps({"legs": [{"coin": "BTC"}]}),
        "",
    ]
    assert bench.orders_per_trade_from_journal(lines) == {"BTC": 2, "ETH": 1}
    assert bench.parse_final_balance("│ Final balance   │ 179633.863 USDT  │") == 179633.863


def test_trigger_modes_config_sets_the_options_and_keeps_the_base(tmp_path):
    from rebalance_plugin.core.config import parse_rebalance_config
    from tools import trigger_modes

    base = json.loads(bench.BASE_CONFIG.read_text())
    cfg = trigger_modes.mode_config(base, "relative", "band", 5, 1000, "1h", tmp_path, "1d")
    parsed = parse_rebalance_config(cfg["rebalance"])
    assert (parsed.threshold_mode, parsed.rebalance_to, parsed.trigger) == (
        "relative",
        "band",
        "interval",
    )
    assert parsed.interval == "1d" and parsed.drift_limit == 5
    assert "threshold_mode" not in base["rebalance"]  # config.json's dict is not modified
    check_pairs(cfg, load_config(cfg))
