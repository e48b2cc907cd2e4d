"""Exchange trading rules for one market: quantity step, minimum quantity, minimum order value.

Pure Python. Quantities are rounded *down* to the step with exact decimal arithmetic, so a sell
never exceeds what is held and a buy never spends more than planned.

The rules are read from a ccxt unified market in any of ccxt's three precision modes, with the
exchange's own fields of the market's ``info`` where a unified field is missing (a markets file
from another ccxt era: Kraken's markets carried no ``limits.cost`` before ccxt parsed its
``costmin``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any

#: Relative float error tolerated when rounding a quantity down to the step (see floor_qty).
FLOAT_SLACK = Decimal("1e-9")

#: ccxt's precision modes (``ccxt.base.decimal_to_precision``), the numbers ccxt gives an
#: exchange's ``precisionMode``; written out here because the core imports no ccxt.
#: DECIMAL_PLACES: ``precision.amount`` 5 means a step of 0.00001; SIGNIFICANT_DIGITS: 5 means
#: five significant digits (the step depends on the value); TICK_SIZE: 0.00001 is the step.
DECIMAL_PLACES = 2
SIGNIFICANT_DIGITS = 3
TICK_SIZE = 4
PRECISION_MODES = {
    DECIMAL_PLACES: "DECIMAL_PLACES",
    SIGNIFICANT_DIGITS: "SIGNIFICANT_DIGITS",
    TICK_SIZE: "TICK_SIZE",
}

# The exchanges' own names for a market's minimums and steps in ``info`` (raw exchange data
# ccxt keeps beside the unified fields), read only where the unified field is missing or None.
# Each was found in ccxt's markets fixtures (ts/src/test/static/markets): Binance (filters
# LOT_SIZE, NOTIONAL/MIN_NOTIONAL, PRICE_FILTER), Kraken (ordermin, costmin, lot_decimals,
# tick_size), OKX (minSz, lotSz, tickSz; OKX spot has no minimum order value), Bybit
# (lotSizeFilter, priceFilter), Gate (min_base_amount, min_quote_amount, amount_precision and
# precision, its price decimals), KuCoin (baseMinSize, quoteMinSize, baseIncrement,
# priceIncrement), Bitget (minTradeAmount, minTradeUSDT, quantityPrecision, pricePrecision),
# HTX (min-order-amt, min-order-value, amount-precision, price-precision) and Coinbase
# (base_min_size, quote_min_size, base_increment, price_increment). A name is read from
# ``info`` itself first, then from the dicts inside it (Bybit's lotSizeFilter, Binance's
# filters, in their order).
_INFO_MIN_QTY = (
    "ordermin", "minSz", "minOrderQty", "min_base_amount", "baseMinSize", "minTradeAmount",
    "limit-order-min-order-amt", "min-order-amt", "base_min_size", "minQty",
)  # fmt: skip
_INFO_MIN_COST = (
    "costmin", "minOrderAmt", "min_quote_amount", "quoteMinSize", "minFunds", "minTradeUSDT",
    "min-order-value", "quote_min_size", "minNotional",
)  # fmt: skip
_INFO_QTY_STEP = ("lotSz", "basePrecision", "baseIncrement", "base_increment", "stepSize")
_INFO_QTY_DECIMALS = ("lot_decimals", "amount_precision", "quantityPrecision", "amount-precision")
_INFO_PRICE_TICK = ("tick_size", "tickSz", "tickSize", "priceIncrement", "price_increment")
_INFO_PRICE_DECIMALS = ("pair_decimals", "pricePrecision", "price-precision", "precision")


def decimal_step(places: float) -> float:
    """The step of ``places`` decimal places: 5 -> 0.00001, 0 -> 1, -1 -> 10 (exact)."""
    return float(Decimal(1).scaleb(-int(places)))


def significant_step(value: float, digits: int) -> float:
    """The step of ``value`` written with ``digits`` significant digits: the unit of its last
    digit, 10 ** (exponent of its leading digit - digits + 1). 1234.5 at 3 digits -> 10
    (1230), 0.0012345 at 3 -> 0.00001 (0.00123); 0 for a value <= 0 or no digits."""
    if value <= 0 or digits <= 0:
        return 0.0
    return float(Decimal(1).scaleb(Decimal(repr(value)).adjusted() - digits + 1))


def step_of(precision: Any, mode: int) -> float:
    """The step a ccxt ``precision`` value stands for in ``mode`` (0: none or not fixed).

    TICK_SIZE: the value is the step. DECIMAL_PLACES: the number of decimals (5 -> 0.00001).
    SIGNIFICANT_DIGITS: no fixed step (it depends on the value: :func:`significant_step`)."""
    value = _number(precision)
    if value is None or mode == SIGNIFICANT_DIGITS:
        return 0.0
    if mode == DECIMAL_PLACES:
        return decimal_step(value)
    return value if value > 0 else 0.0


@dataclass(frozen=True)
class MarketRules:
    """Trading rules of one pair (Binance LOT_SIZE / NOTIONAL filters, ccxt ``limits``).

    ``qty_step`` 0 means any quantity; ``min_notional`` is the smallest order value in stake
    currency; ``min_qty`` the smallest quantity. On an exchange that counts significant digits
    (ccxt's SIGNIFICANT_DIGITS: Bitfinex, Bithumb) ``qty_digits``/``price_digits`` hold the
    digits and ``qty_step``/``price_tick`` are 0: the step depends on the quantity itself
    (:meth:`step_at`), 1234.5 at 3 digits is 1230, 0.0012345 is 0.00123.
    """

    qty_step: float = 0.0
    min_qty: float = 0.0
    min_notional: float = 0.0
    price_tick: float = 0.0
    qty_digits: int = 0
    price_digits: int = 0

    def step_at(self, qty: float) -> float:
        """The quantity step that applies to ``qty`` (0: any quantity)."""
        if self.qty_digits:
            return significant_step(qty, self.qty_digits)
        return self.qty_step

    def floor_qty(self, qty: float) -> float:
        """Largest multiple of the step that is <= ``qty``, in exact decimal arithmetic.

        ``qty`` usually comes out of a float division (value / price) that can land a hair
        under a whole number of steps (35 / 0.07 = 499.99999999999994): a shortfall of less
        than ``FLOAT_SLACK`` of a step is float noise and counts as the whole step. With
        significant digits the step is the one of ``qty`` (``step_at``).
        """
        if qty <= 0:
            return 0.0
        step_f = self.step_at(qty)
        if not step_f:
            return qty
        step = Decimal(repr(step_f))
        steps = Decimal(repr(qty)) / step
        whole = steps.to_integral_value(ROUND_FLOOR)
        if steps - whole > 1 - FLOAT_SLACK:
            whole += 1
        return float(whole * step)

    def min_value(self, price: float | None = None) -> float:
        """The smallest order value accepted: the minimum order value, or the minimum
        quantity's value at ``price`` when larger (Kraken and OKX count their minimum in the
        coin: 0.01 ETH is worth more than Kraken's 0.5 USDT minimum value)."""
        if not price:
            return self.min_notional
        return max(self.min_notional, self.min_qty * price)

    def refusal(self, qty: float, price: float) -> str | None:
        """Why the exchange would refuse an order of ``qty`` at ``price``; None if it is valid."""
        if qty <= 0:
            return "quantity rounds to 0 at the exchange's quantity step"
        if qty < self.min_qty:
            return f"quantity {qty:g} is below the minimum quantity {self.min_qty:g}"
        if qty * price < self.min_notional:
            return (
                f"order value {qty * price:.2f} is below the minimum order value "
                f"{self.min_notional:g}"
            )
        return None

    @classmethod
    def from_ccxt_market(
        cls, market: Mapping[str, Any], precision_mode: int = TICK_SIZE
    ) -> MarketRules:
        """Rules from a ccxt unified market whose exchange counts precision in
        ``precision_mode`` (ccxt's ``exchange.precisionMode``; today's ccxt gives every exchange
        Freqtrade supports TICK_SIZE, older markets files of Binance are DECIMAL_PLACES).

        A missing or None unified field is read from the exchange's own name for it in
        ``info`` (Kraken's ``costmin`` and ``ordermin``, see ``_INFO_MIN_COST``); none there
        either means no limit. ``precision.cost`` (HTX: the decimals of an order's value) only
        limits a market buy given in quote currency, which the plugin never sends: not read.
        """
        if precision_mode not in PRECISION_MODES:
            raise ValueError(f"unknown ccxt precision mode {precision_mode!r}")
        limits = market.get("limits") or {}
        precision = market.get("precision") or {}
        info = _info_fields(market.get("info"))
        digits = precision_mode == SIGNIFICANT_DIGITS
        return cls(
            qty_step=_step(
                precision.get("amount"), precision_mode, info, _INFO_QTY_STEP, _INFO_QTY_DECIMALS
            ),
            min_qty=_limit(limits.get("amount"), info, _INFO_MIN_QTY),
            min_notional=_limit(limits.get("cost"), info, _INFO_MIN_COST),
            price_tick=_step(
                precision.get("price"), precision_mode, info, _INFO_PRICE_TICK, _INFO_PRICE_DECIMALS
            ),
            qty_digits=int(_number(precision.get("amount")) or 0) if digits else 0,
            price_digits=int(_number(precision.get("price")) or 0) if digits else 0,
        )


NO_RULES = MarketRules()


def _number(value: Any) -> float | None:
    """``value`` as a float when it is a number or a numeric string; None otherwise."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _info_fields(info: Any) -> dict[str, Any]:
    """The scalar fields of a market's ``info``: its own first, then those of the dicts in it
    (Bybit's ``lotSizeFilter``) and of the dicts in its lists (Binance's ``filters``), the
    first of a name kept (Binance's LOT_SIZE minQty before MARKET_LOT_SIZE's)."""
    if not isinstance(info, Mapping):
        return {}
    fields = {k: v for k, v in info.items() if not isinstance(v, (Mapping, list))}
    for value in info.values():
        inner = value if isinstance(value, list) else [value]
        for item in inner:
            if isinstance(item, Mapping):
                for k, v in item.items():
                    if not isinstance(v, (Mapping, list)):
                        fields.setdefault(k, v)
    return fields


def _from_info(info: Mapping[str, Any], names: tuple[str, ...]) -> float | None:
    for name in names:
        value = _number(info.get(name))
        if value is not None:
            return value
    return None


def _limit(unified: Any, info: Mapping[str, Any], names: tuple[str, ...]) -> float:
    """A minimum: the unified ``{"min": ...}``, else the exchange's field, else 0 (none)."""
    value = _number((unified or {}).get("min")) if isinstance(unified, Mapping) else None
    if value is None:
        value = _from_info(info, names)
    return value or 0.0


def _step(
    unified: Any,
    mode: int,
    info: Mapping[str, Any],
    step_names: tuple[str, ...],
    decimals_names: tuple[str, ...],
) -> float:
    """A step: the unified precision in ``mode``, else the exchange's step field, else its
    count of decimals, else 0 (any). Significant digits have no fixed step: 0."""
    if mode == SIGNIFICANT_DIGITS:
        return 0.0
    if _number(unified) is not None:
        return step_of(unified, mode)
    step = _from_info(info, step_names)
    if step:
        return step
    places = _from_info(info, decimals_names)
    return decimal_step(places) if places is not None else 0.0
