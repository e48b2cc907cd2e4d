"""``freqtrade-rebalance presets``: weights and returns on the real Binance candles (offline,
from the bundled snapshot), the live source through the CoinGecko stand-in, the fallback, and
a coin whose history is too short."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from rebalance_plugin.presets.marketcap import load_snapshot
from tests.helpers.paths import NO_SHARED_DATA, SHARED_DATA
from tests.helpers.presets import GECKO_COINS, write_daily

real_data = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=NO_SHARED_DATA)


def closes(coin: str) -> pd.Series:
    """Daily closes straight from the file (not through the code under test)."""
    frame = pd.read_feather(SHARED_DATA / f"{coin}_USDT-1d.feather")
    return frame.set_index(frame["date"].dt.date)["close"]


@real_data
def test_json_offline_on_the_real_candles(cli, tmp_path):
    res = cli("presets", "--json", "--datadir", SHARED_DATA, "--source", "snapshot",
              "--config", tmp_path / "none.json")  # fmt: skip
    assert res.code == 0, res.err
    entries = {e["name"]: e for e in json.loads(res.out)}
    assert list(entries) == [
        "top3-mcap", "top5-mcap", "top10-mcap", "top10-sqrt-mcap", "top10-equal",
        "blue-chip", "balanced-growth", "diversified",
    ]  # fmt: skip
    for e in entries.values():
        assert set(e) >= {"name", "coins", "as_of", "returns", "source"}
        assert sum(round(w * 100) for w in e["coins"].values()) == 10000  # exactly 100.00
        assert all(1 <= w <= 50 for w in e["coins"].values()) or e["kind"] == "template"
        assert set(e["returns"]) == {"7d", "30d", "180d"}
        assert all(set(r) == {"simple", "compound"} for r in e["returns"].values())
    assert entries["top3-mcap"]["source"].startswith("snapshot: circulating supply from ")
    assert "2026-02-27" in entries["top3-mcap"]["source"]
    assert entries["blue-chip"]["as_of"] == "2026-06-02"  # BTC and ETH daily files end there
    assert entries["diversified"]["as_of"] == "2026-05-15"  # XRP, ADA, ... end there
    assert len(entries["top10-mcap"]["coins"]) == 10


@real_data
def test_blue_chip_7d_return_against_the_raw_closes(cli, tmp_path):
    # BTC 60 / ETH 40 over the 8 daily closes 2026-05-26 .. 2026-06-02 (read from the files):
    # BTC 75930.01 74449.30 73617.51 73460.78 73884.38 73674.39 71408.90 66760.83
    # ETH  2073.77  2024.84  2009.90  2014.54  2022.44  2007.01  2006.73  1859.84
    # r_1 = 0.6 x 74449.30/75930.01 + 0.4 x 2024.84/2073.77 - 1 = -0.021138, ...,
    # r_7 = 0.6 x 66760.83/71408.90 + 0.4 x 1859.84/2006.73 - 1 = -0.068334;
    # R = (1 - 0.021138)(1 - 0.009655)(1 - 0.000354)(1 + 0.005028)(1 - 0.004757)
    #     (1 - 0.018506)(1 - 0.068334) - 1 = -0.113641
    # simple = R x 365 / 7 = -5.9256; compound = (1 + R)^(365/7) - 1 = -0.99815
    btc, eth = closes("BTC").iloc[-8:], closes("ETH").iloc[-8:]
    assert btc.index[-1] == eth.index[-1] == date(2026, 6, 2)
    assert list(btc.round(2)) == [75930.01, 74449.3, 73617.51, 73460.78, 73884.38, 73674.39,
                                  71408.9, 66760.83]  # fmt: skip
    growth = 1.0
    for t in range(1, 8):
        growth *= 0.6 * btc.iloc[t] / btc.iloc[t - 1] + 0.4 * eth.iloc[t] / eth.iloc[t - 1]
    total = growth - 1
    assert total == pytest.approx(-0.113641, abs=1e-6)

    res = cli("presets", "--json", "--datadir", SHARED_DATA, "--source", "snapshot",
              "--config", tmp_path / "none.json")  # fmt: skip
    blue = next(e for e in json.loads(res.out) if e["name"] == "blue-chip")
    assert blue["returns"]["7d"]["simple"] == pytest.approx(total * 365 / 7, rel=1e-12)
    assert blue["returns"]["7d"]["compound"] == pytest.approx((1 + total) ** (365 / 7) - 1)
    assert blue["returns"]["7d"]["simple"] == pytest.approx(-5.9256, abs=1e-4)


@real_data
def test_snapshot_market_caps_are_supply_times_the_latest_close(cli, tmp_path):
    # top3 by the snapshot: BTC (supply x 66760.83) is far above half of the three, so 50;
    # ETH and BNB share the other 50 in proportion to supply x latest close.
    supply = {c: v["circulating_supply"] for c, v in load_snapshot()["coins"].items()}
    cap = {c: supply[c] * closes(c).iloc[-1] for c in ("BTC", "ETH", "BNB")}
    assert cap["BTC"] > cap["ETH"] + cap["BNB"]
    eth = round(50 * cap["ETH"] / (cap["ETH"] + cap["BNB"]), 2)
    res = cli("presets", "--json", "--datadir", SHARED_DATA, "--source", "snapshot",
              "--config", tmp_path / "none.json")  # fmt: skip
    top3 = next(e for e in json.loads(res.out) if e["name"] == "top3-mcap")
    assert top3["coins"] == {"BTC": 50, "ETH": eth, "BNB": round(50 - eth, 2)}


@real_data
def test_table_names_the_source_and_the_formula(cli, tmp_path):
    res = cli("presets", "--datadir", SHARED_DATA, "--source", "snapshot",
              "--config", tmp_path / "none.json")  # fmt: skip
    assert res.code == 0
    assert (
        "Market caps: snapshot: circulating supply from rebalance_plugin/data/market_caps.json"
        in res.out
    )
    assert "simple = R × 365 / N, compound = (1 + R)^(365/N) − 1; no fees" in res.out
    blue = next(line for line in res.out.splitlines() if line.strip().startswith("blue-chip"))
    assert blue.split()[1:4] == ["2026-06-02", "-592.56", "%"]


def test_live_market_caps_from_the_coingecko_standin(cli, gecko, tmp_path):
    # Market caps served: BTC 1.0e12, ETH 3.0e11, USDT 2.0e11 (stablecoin), BNB 1.0e11,
    # SOL 5.0e10, HYPE 3.0e10 (no USDT market in the bundled snapshot), XRP 2.5e10, WBTC 7.5e9.
    # top3: BTC 50 (capped), ETH : BNB = 3 : 1 of the other 50 -> 37.5, 12.5.
    # top5: BTC 50; the other 50 over 4.75e11: ETH 31.5789, BNB 10.5263, SOL 5.2632,
    #       XRP 2.6316 -> hundredths 3157 + 1052 + 526 + 263 + 5000 = 9998; the two missing
    #       to the largest remainders (.89 ETH, .63 BNB): 31.58, 10.53, 5.26, 2.63.
    gecko.coins = GECKO_COINS
    for coin in ("BTC", "ETH", "BNB", "SOL", "XRP"):
        write_daily(tmp_path / "data", coin, date(2025, 1, 1), [1.0] * 200)
    res = cli("presets", "--json", "--datadir", tmp_path / "data", "--coingecko-url",
              gecko.api_url, "--config", tmp_path / "none.json")  # fmt: skip
    assert res.code == 0, res.err
    entries = {e["name"]: e for e in json.loads(res.out)}
    assert entries["top3-mcap"]["coins"] == {"BTC": 50, "ETH": 37.5, "BNB": 12.5}
    assert entries["top5-mcap"]["coins"] == {
        "BTC": 50, "ETH": 31.58, "BNB": 10.53, "SOL": 5.26, "XRP": 2.63,
    }  # fmt: skip
    assert (
        entries["top10-mcap"]["note"] == "only 5 eligible coins with a market cap (5 fewer than 10)"
    )
    assert entries["top3-mcap"]["source"] == (
        "live: CoinGecko /coins/markets, top 250 by market cap, last updated 2026-06-02 23:59 UTC"
    )
    assert gecko.requests == [
        ("/api/v3/coins/markets",
         {"vs_currency": "usd", "order": "market_cap_desc", "per_page": "250", "page": "1"}),
    ]  # fmt: skip
    table = cli("presets", "--datadir", tmp_path / "data", "--coingecko-url", gecko.api_url,
                "--config", tmp_path / "none.json")  # fmt: skip
    assert (
        "left out despite a larger market cap: USDT (stablecoin), "
        "HYPE (no USDT spot market in the markets used), "
        "WBTC (wrapped or staked copy of another coin)"  # top10 has room: all are listed
    ) in " ".join(table.out.split())  # the notes are wrapped at 100 columns


def test_coingecko_failing_falls_back_to_the_snapshot_and_says_why(cli, gecko, tmp_path):
    gecko.coins = GECKO_COINS
    gecko.status = 429  # CoinGecko's rate limit
    for coin in ("BTC", "ETH", "BNB"):
        write_daily(tmp_path / "data", coin, date(2025, 1, 1), [1.0] * 10)
    args = ("presets", "--json", "--datadir", tmp_path / "data", "--coingecko-url",
            gecko.api_url, "--config", tmp_path / "none.json")  # fmt: skip
    res = cli(*args)
    assert res.code == 0
    assert "gave no market caps" in res.err and "using the bundled snapshot instead" in res.err
    top3 = json.loads(res.out)[0]
    assert top3["source"].startswith("snapshot:")
    # Every close is 1 here, so the snapshot's caps are its supplies: BNB 136.36 M,
    # ETH 120.69 M, BTC 20.00 M (sum 277.05 M): BNB 49.22 %, ETH 43.56 %, BTC 7.22 %.
    assert top3["coins"] == {"BNB": 49.22, "ETH": 43.56, "BTC": 7.22}
    live = cli(*args[:-2], "--source", "live", "--config", tmp_path / "none.json")
    assert live.code == 2
    assert "gave no market caps" in live.err and "Use --source snapshot" in live.err


def test_a_coin_with_a_short_history_shows_a_dash_and_why(cli, tmp_path):
    # BTC and ETH from 2025-01-01 (200 days), SOL only from 2025-06-01 (49 days, to
    # 2025-07-19 like the others): 180 days of SOL are missing.
    data = tmp_path / "data"
    write_daily(data, "BTC", date(2025, 1, 1), [100.0 * 1.01**k for k in range(200)])
    write_daily(data, "ETH", date(2025, 1, 1), [10.0 * 0.98**k for k in range(200)])
    write_daily(data, "SOL", date(2025, 6, 1), [1.0] * 49)
    res = cli("presets", "--json", "--datadir", data, "--source", "snapshot",
              "--config", tmp_path / "none.json")  # fmt: skip
    entries = {e["name"]: e for e in json.loads(res.out)}
    top3 = entries["top3-mcap"]
    assert set(top3["coins"]) == {"BTC", "ETH", "SOL"} and top3["as_of"] == "2025-07-19"
    assert top3["returns"]["30d"] is not None and top3["returns"]["180d"] is None
    assert top3["unavailable"]["180d"] == (
        "SOL has 49 daily closes up to 2025-07-19 (first candle 2025-06-01); 181 are needed, "
        "from 2025-01-20"
    )
    # Blue-chip on the same files: BTC +1 % a day, ETH -2 % a day -> r = 0.6 x 1.01 +
    # 0.4 x 0.98 - 1 = -0.002 every day; R7 = 0.998^7 - 1; simple = R7 x 365 / 7.
    assert entries["blue-chip"]["returns"]["7d"]["simple"] == pytest.approx(
        (0.998**7 - 1) * 365 / 7
    )
    assert entries["balanced-growth"]["returns"]["7d"] is None  # BNB has no candles here
    assert entries["balanced-growth"]["unavailable"]["7d"] == "BNB: no daily candles"
    table = cli(
        "presets", "--datadir", data, "--source", "snapshot", "--config", tmp_path / "none.json"
    )
    row = next(line for line in table.out.splitlines() if line.strip().startswith("top3-mcap"))
    assert row.split()[-2:] == ["–", "–"]  # 180 days: simple and compound
    assert (
        "top3-mcap 180d –: SOL has 49 daily closes up to 2025-07-19 (first candle 2025-06-01)"
        in table.out
    )


def test_no_candles_says_how_to_get_them(cli, tmp_path):
    res = cli("presets", "--datadir", tmp_path / "empty", "--source", "snapshot",
              "--config", tmp_path / "none.json")  # fmt: skip
    assert res.code == 2
    assert f"no daily candles of any USDT pair in {tmp_path / 'empty'}" in res.err
    assert "freqtrade download-data" in res.err and "--datadir" in res.err
