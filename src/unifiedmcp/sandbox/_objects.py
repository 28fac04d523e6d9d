"""Building Stripe objects: ids, blank objects with the exact top-level keys, value coercion."""

from __future__ import annotations

import secrets
import string
from typing import Any

from ._errors import invalid, invalid_integer
from ._shapes import L, O, SHAPES

__all__ = ["blank", "new_id", "new_account_id", "public", "to_int", "to_bool", "metadata_update", "PREFIXES"]

_ALPHABET = string.ascii_letters + string.digits

# id prefix -> object kind, for expansion and lookups. Coupons have free-form ids (looked up by
# field name instead, see _render.py).
PREFIXES: dict[str, str] = {
    "cus": "customer",
    "prod": "product",
    "price": "price",
    "pm": "payment_method",
    "sub": "subscription",
    "si": "subscription_item",
    "in": "invoice",
    "il": "line_item",
    "ii": "invoiceitem",
    "inpay": "invoice_payment",
    "pi": "payment_intent",
    "ch": "charge",
    "py": "charge",
    "re": "refund",
    "txn": "balance_transaction",
    "dp": "dispute",
    "plink": "payment_link",
    "bps": "billing_portal.session",
    "evt": "event",
    "we": "webhook_endpoint",
    "clock": "test_helpers.test_clock",
    "acct": "account",
    "di": "discount",
    "mtr": "billing.meter",  # mtr_test_...
    "promo": "promotion_code",
    "cs": "checkout.session",  # cs_test_...
    "sub_sched": "subscription_schedule",  # two segments: "sub" alone is a subscription
    "seti": "setup_intent",
}


def new_id(prefix: str, n: int = 24) -> str:
    """``prefix_`` + ``n`` random base62 characters (one urandom call, not one per character)."""
    value = int.from_bytes(secrets.token_bytes(n), "big")
    chars = []
    for _ in range(n):
        value, r = divmod(value, 62)
        chars.append(_ALPHABET[r])
    return f"{prefix}_" + "".join(chars)


def new_account_id() -> str:
    """``acct_`` + 16 base62 characters, the length of Stripe's account ids."""
    return "acct_" + new_id("x", 16)[2:]


def blank(kind: str, **values: Any) -> dict[str, Any]:
    """An object of ``kind`` with Stripe's top-level keys: lists ``[]``, the rest ``None``;
    optional keys (``O``) only when given, as Stripe omits them otherwise.

    Unknown keys raise, so a builder cannot drift from the reference shape silently.
    """
    shape = SHAPES[kind]
    obj: dict[str, Any] = {k: ([] if t == L else None) for k, t in shape.items() if t != O}
    if "object" in shape:
        obj["object"] = kind
    if "livemode" in shape:
        obj["livemode"] = False
    if "metadata" in shape:
        obj["metadata"] = {}
    for k, v in values.items():
        if k not in shape and not k.startswith("_"):
            raise KeyError(f"{kind} has no key {k!r}")
        obj[k] = v
    return obj


def public(obj: dict[str, Any]) -> dict[str, Any]:
    """A shallow copy without private (``_``-prefixed) keys."""
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def _copy(value: Any) -> Any:
    # JSON-shaped data only (dicts, lists, scalars): several times faster than copy.deepcopy.
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def deep_public(obj: dict[str, Any]) -> dict[str, Any]:
    """A deep copy without private keys, for event snapshots and embedding."""
    return {k: _copy(v) for k, v in obj.items() if not k.startswith("_")}


def to_int(value: Any, *, param: str, minimum: int | None = None, maximum: int | None = None) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise invalid_integer(value, param) from None
    if minimum is not None and n < minimum:
        raise invalid(f"This value must be greater than or equal to {minimum}.", param=param)
    if maximum is not None and n > maximum:
        raise invalid(f"This value must be less than or equal to {maximum}.", param=param)
    return n


def to_float(value: Any, *, param: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise invalid(f"Invalid decimal: {value}", param=param) from None


def to_bool(value: Any, *, param: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "True", "1"):
        return True
    if value in ("false", "False", "0"):
        return False
    raise invalid(f"Invalid boolean: {value}", param=param)


def metadata_update(current: dict[str, str] | None, value: Any, *, param: str = "metadata") -> dict[str, str]:
    """Stripe's metadata merge: keys set to "" are removed, ``metadata=""`` clears all."""
    if value == "":
        return {}
    if not isinstance(value, dict):
        raise invalid("Invalid object", param=param)
    out = dict(current or {})
    for k, v in value.items():
        if isinstance(v, (dict, list)):
            raise invalid(f"Invalid value type: {param}[{k}] must be a string", param=f"{param}[{k}]")
        if v == "":
            out.pop(k, None)
        else:
            out[k] = str(v)
    if len(out) > 50:
        raise invalid("Invalid metadata: metadata can have up to 50 keys.", param=param)
    return out
