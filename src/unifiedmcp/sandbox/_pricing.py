"""What a price charges for a quantity: per-unit (decimal) and tiered (graduated, volume) amounts.

Amounts are summed exactly (``Decimal``) and rounded once, to a whole minor unit, for the line:
Stripe "rounds on the line item level of your invoices ... after the quantity is multiplied by
the decimal amount ... 0.05 * 30 = 1.5, which is then rounded up to 2 cents"
(https://docs.stripe.com/billing/subscriptions/decimal-amounts, "Rounding"), i.e. half up (away
from zero) at the line, never per unit or per tier.

Tiers (https://docs.stripe.com/products-prices/pricing-models#tiered-pricing): ``graduated``
charges each unit at the tier it falls in (units ``(previous up_to, up_to]``), plus the
``flat_amount`` of every tier the quantity reaches; ``volume`` charges every unit at the one tier
the total falls in, plus that tier's ``flat_amount``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from ._errors import invalid, missing_param
from ._objects import to_int
from ._state import Sandbox

__all__ = ["amount", "exact_amount", "parse_decimal", "parse_tiers", "unit_fields", "is_metered", "tiers_of", "describe", "round_half_up"]

Obj = dict[str, Any]

_MAX_PLACES = 12  # "unit_amount_decimal accepts decimals up to 12 decimal places"


def parse_decimal(value: Any, *, param: str) -> str:
    """A non-negative decimal amount in minor units as Stripe echoes it (``"0.2"``, ``"2000"``)."""
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise invalid(f"Invalid decimal: {value}", param=param) from None
    if not d.is_finite() or d < 0:
        raise invalid(f"Invalid decimal: {value}", param=param)
    exponent = d.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -_MAX_PLACES:
        raise invalid(f"Invalid decimal: {value}. Decimals can have at most {_MAX_PLACES} decimal places.", param=param)
    return format(d.normalize(), "f")


def _one_of(p: Obj, a: str, b: str, *, prefix: str) -> tuple[int | None, str | None]:
    """``(a as int, its decimal text)`` from exactly one of ``a`` (integer) or ``b`` (decimal)."""
    if a in p and b in p:
        raise invalid(f"You may only specify one of these parameters: {a}, {b}.", param=f"{prefix}{b}")
    if a in p:
        n = to_int(p[a], param=f"{prefix}{a}", minimum=0)
        return n, str(n)
    if b in p:
        text = parse_decimal(p[b], param=f"{prefix}{b}")
        d = Decimal(text)
        # An integral decimal is also an integer amount; a fractional one has none (null).
        return (int(d) if d == d.to_integral_value() else None), text
    return None, None


def unit_fields(p: Obj) -> tuple[int | None, str | None]:
    """``(unit_amount, unit_amount_decimal)`` of a per-unit price from its parameters."""
    return _one_of(p, "unit_amount", "unit_amount_decimal", prefix="")


def parse_tiers(raw: Any) -> list[Obj]:
    """Validated ``tiers[]`` in Stripe's shape (``up_to`` ``None`` for ``inf``)."""
    if not isinstance(raw, list) or not raw:
        raise missing_param("tiers")
    tiers: list[Obj] = []
    previous = 0
    for i, t in enumerate(raw):
        prefix = f"tiers[{i}]["
        if not isinstance(t, dict):
            raise invalid("Invalid object", param=f"tiers[{i}]")
        if t.get("up_to") in (None, ""):
            raise missing_param(f"tiers[{i}][up_to]")
        last = i == len(raw) - 1
        if t["up_to"] == "inf":
            if not last:
                raise invalid("Only the last tier can have `up_to` set to `inf`.", param=f"tiers[{i}][up_to]")
            up_to = None
        else:
            up_to = to_int(t["up_to"], param=f"tiers[{i}][up_to]", minimum=1)
            if last:
                raise invalid("The last tier must have `up_to` set to `inf`.", param=f"tiers[{i}][up_to]")
            if up_to <= previous:
                raise invalid("Tiers must be sorted by ascending `up_to`.", param=f"tiers[{i}][up_to]")
            previous = up_to
        unit, unit_text = _one_of(t, "unit_amount", "unit_amount_decimal", prefix=prefix)
        flat, flat_text = _one_of(t, "flat_amount", "flat_amount_decimal", prefix=prefix)
        if unit_text is None and flat_text is None:
            raise invalid(
                "Each tier needs one of unit_amount, unit_amount_decimal, flat_amount or flat_amount_decimal.",
                param=f"tiers[{i}]",
            )
        tiers.append({"flat_amount": flat, "flat_amount_decimal": flat_text, "unit_amount": unit,
                      "unit_amount_decimal": unit_text, "up_to": up_to})
    return tiers


def is_metered(price: Obj) -> bool:
    return ((price.get("recurring") or {}).get("usage_type")) == "metered"


def tiers_of(sb: Sandbox, price: Obj) -> list[Obj]:
    """A price's tiers (kept on the stored price; copies embedded in other objects omit them)."""
    stored = sb.store.get(price["id"], "price") or price
    return stored.get("_tiers") or []


def _dec(text: str | None) -> Decimal:
    return Decimal(text) if text is not None else Decimal(0)


def exact_amount(sb: Sandbox, price: Obj, quantity: int) -> Decimal:
    """The unrounded amount, in minor units, of ``quantity`` units of ``price``."""
    if price.get("billing_scheme") != "tiered":
        return _dec(price.get("unit_amount_decimal")) * quantity
    tiers = tiers_of(sb, price)
    if price.get("tiers_mode") == "volume":
        for t in tiers:
            if t["up_to"] is None or quantity <= t["up_to"]:
                return _dec(t["unit_amount_decimal"]) * quantity + _dec(t["flat_amount_decimal"])
        return Decimal(0)
    total = Decimal(0)
    floor = 0
    for t in tiers:
        top = quantity if t["up_to"] is None else min(quantity, t["up_to"])
        units = top - floor
        if units <= 0:
            break
        total += _dec(t["unit_amount_decimal"]) * units + _dec(t["flat_amount_decimal"])
        floor = top
    return total


def round_half_up(value: Decimal) -> int:
    """A line's exact amount as whole minor units (x.5 rounds away from zero)."""
    return int(value.to_integral_value(rounding=ROUND_HALF_UP))


def amount(sb: Sandbox, price: Obj, quantity: int) -> int:
    """The line amount: the exact amount rounded half up to a whole minor unit."""
    return round_half_up(exact_amount(sb, price, quantity))


def describe(sb: Sandbox, price: Obj, quantity: int) -> str:
    """A line's description: ``"3 × Pro (at $20.00 / month)"``, ``"10500 × Calls (at $0.002 / month)"``;
    tiered prices say ``(tiered, per month)``."""
    product = (sb.store.get(price["product"]) or {}).get("name", price["product"])
    interval = (price.get("recurring") or {}).get("interval", "unit")
    if price.get("billing_scheme") == "tiered":
        return f"{quantity} × {product} (tiered, per {interval})"
    unit = _dec(price.get("unit_amount_decimal")) / 100
    text = f"{unit:.2f}" if unit == unit.quantize(Decimal("0.01")) else format(unit.normalize(), "f")
    return f"{quantity} × {product} (at ${text} / {interval})"
