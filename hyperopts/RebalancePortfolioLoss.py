"""RebalancePortfolioLoss: the hyperopt loss for RebalanceStrategy, judging the portfolio by its
final value per unit invested, discounted by its maximum drawdown::

    loss = -(final / investment) * (1 - max_drawdown)      (lower is better)

    freqtrade hyperopt -c config.json --spaces buy --hyperopt-loss RebalancePortfolioLoss \\
        --hyperopt-path hyperopts

(config.json sets ``hyperopt_loss`` and ``hyperopt_path`` to these.) The formula, why it was
chosen and how the equity curve is obtained: ``rebalance_plugin/ft/loss.py``. Freqtrade loads a
loss class only when it is defined in the file it searches, hence this subclass.
"""

from rebalance_plugin.ft.loss import PortfolioLoss


class RebalancePortfolioLoss(PortfolioLoss):
    """-(final / investment) x (1 - max drawdown) of the portfolio's equity curve."""

    DRAWDOWN_POWER = 1.0
