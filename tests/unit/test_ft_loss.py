"""RebalancePortfolioLoss (rebalance_plugin/ft/loss.py) on a hand-made epoch: the equity curve
rebuilt from the trades' orders and the candles as Freqtrade hands them to the loss, and the
formula, both worked out by hand in the comments."""

from __future__ import annotations

import importlib.util

import pandas as pd
import pytest

from rebalance_plugin.ft.loss import PortfolioLoss, epoch_equity, portfolio_loss
from tests.helpers.paths import ROOT

FEE = 0.001
T = [pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(hours=h) for h in range(4)]


def ms(t: pd.Timestamp) -> int:
    return int(t.timestamp() * 1000)


def order(t, side, amount, price, tag=""):
    """An order as Freqtrade's backtest lists it on a trade (minified ``to_json``)."""
    return {
        "amount": amount,
        "safe_price": price,
        "ft_order_side": side,
        "order_filled_timestamp": ms(t),
        "ft_is_entry": side == "buy",
        "ft_order_tag": tag,
        "cost": amount * price * (1 + FEE),
    }


def candles(opens, closes):
    return pd.DataFrame(
        {"date": T, "open": opens, "high": opens, "low": opens, "close": closes, "volume": 1.0}
    )


# Investment 1000 (the wallet may hold more: not the portfolio's), 1h candles t0..t3:
#
#          open t0..t3           close t0..t3
#   BTC    100  110  120   90    110  120   90   95
#   ETH     10   10   12   11     10   12   11   11
#
#   t0  first buys: BTC 5 @ 100 (500 + fee 0.5), ETH 49 @ 10 (490 + 0.49): cash 9.01
#   t2  rebalance sell: BTC 0.5 @ 120 (60 - fee 0.06): cash 68.95
#   t3  force-exits at the last candle's open: BTC 4.5 @ 90 (405 - 0.405), ETH 49 @ 11
#       (539 - 0.539): cash 68.95 + 404.595 + 538.461 = 1012.006
#
# Valuation: t0 at the opens, then each candle's close at its close time (t1, t2, t3; the last
# candle closes after the backtest's end):
#   t0  9.01 + 5 x 100 + 49 x 10              =  999.01
#   t1  9.01 + 5 x 110 + 49 x 10              = 1049.01
#   t2  68.95 + 4.5 x 120 + 49 x 12           = 1196.95   (the sell at t2 counts)
#   t3  1012.006                                          (everything sold)
EQUITY = [999.01, 1049.01, 1196.95, 1012.006]
RESULTS = pd.DataFrame(
    {
        "pair": ["BTC/USDT", "ETH/USDT"],
        "fee_open": [FEE, FEE],
        "fee_close": [FEE, FEE],
        "orders": [
            [
                order(T[0], "buy", 5, 100),
                order(T[2], "sell", 0.5, 120, "rebalance sell"),
                order(T[3], "sell", 4.5, 90),
            ],
            [order(T[0], "buy", 49, 10), order(T[3], "sell", 49, 11)],
        ],
    }
)


def processed():
    return {
        "BTC/USDT": candles([100, 110, 120, 90], [110, 120, 90, 95]),
        "ETH/USDT": candles([10, 10, 12, 11], [10, 12, 11, 11]),
    }


def test_the_epoch_s_equity_curve_from_its_orders_and_candles():
    equity = epoch_equity(RESULTS, processed(), 1000.0, T[0], T[3], "1h")
    assert list(equity.index) == T
    assert equity.to_numpy() == pytest.approx(EQUITY, abs=1e-9)


def test_the_loss_is_final_over_investment_times_one_minus_the_drawdown():
    # Peak 1196.95 at t2, then 1012.006: drawdown 1 - 1012.006 / 1196.95 = 0.1545127...
    # loss = -(1012.006 / 1000) x (1012.006 / 1196.95) = -1.012006 x 0.8454873 = -0.8556382
    expected = -(1012.006 / 1000) * (1012.006 / 1196.95)
    config = {"rebalance": {"investment": 1000}, "timeframe": "1h"}
    loss = PortfolioLoss.hyperopt_loss_function(
        results=RESULTS,
        trade_count=2,
        min_date=T[0].to_pydatetime(),
        max_date=T[3].to_pydatetime(),
        config=config,
        processed=processed(),
        backtest_stats={},
        starting_balance=5000.0,  # the wallet: not the portfolio's money
    )
    assert loss == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(-0.8556382, abs=1e-7)


def test_the_formula_on_plain_curves():
    flat = pd.Series([1000.0, 1000.0])
    assert portfolio_loss(flat, 1000.0) == -1.0
    # Doubled through a 50 % fall scores as flat without one (the example of
    # docs/backtesting.md#the-loss).
    assert portfolio_loss(pd.Series([1000.0, 2000.0, 1000.0, 2000.0]), 1000.0) == -1.0
    # More drawdown weight (a subclass's DRAWDOWN_POWER 2): 2 x 0.5 ** 2.
    assert portfolio_loss(pd.Series([1000.0, 2000.0, 1000.0, 2000.0]), 1000.0, 2.0) == -0.5


def test_freqtrade_finds_the_shipped_loss_class_by_its_name():
    from freqtrade.resolvers.hyperopt_resolver import HyperOptLossResolver

    config = {"hyperopt_loss": "RebalancePortfolioLoss", "timeframe": "1h"}
    config["hyperopt_path"] = str(ROOT / "hyperopts")
    config["user_data_dir"] = ROOT / "user_data"
    loss = HyperOptLossResolver.load_hyperoptloss(config)
    assert type(loss).__name__ == "RebalancePortfolioLoss" and isinstance(loss, PortfolioLoss)
    spec = importlib.util.find_spec("rebalance_plugin.ft.loss")
    assert spec is not None  # the class the file subclasses is importable by hyperopt workers
