"""Which restricted-key permission each API route needs (Stripe's ``rak_<resource>_read|write``).

A route needs ``rak_<resource>_read`` for GET and ``rak_<resource>_write`` otherwise, where the
resource comes from the path (``/v1/invoiceitems/...`` -> ``invoice``); ``_EXCEPTIONS`` lists the
routes that do not follow that rule. A write permission implies the read one, as in Stripe's
Dashboard. ``tests/sandbox/test_permissions.py`` checks that every route the sandbox serves maps.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["READ_ONLY", "known_permissions", "required", "allows", "expand"]

# Path segment(s) after /v1/ -> the resource named in the permission.
_RESOURCES: dict[str, str] = {
    "account": "account",
    "balance": "balance",
    "balance_transactions": "balance",
    # Stripe's permissions reference names one pair for meters; it covers their events too.
    "billing/meter_event_adjustments": "billing_meter",
    "billing/meter_events": "billing_meter",
    "billing/meters": "billing_meter",
    "billing_portal/sessions": "billing_portal_session",
    "charges": "charge",
    "checkout/sessions": "checkout_session",
    "coupons": "coupon",
    "customers": "customer",
    "disputes": "dispute",
    "events": "event",
    "invoice_payments": "invoice",
    "invoiceitems": "invoice",
    "invoices": "invoice",
    "payment_intents": "payment_intent",
    "payment_links": "payment_link",
    "payment_methods": "payment_method",
    "prices": "price",
    "products": "product",
    "promotion_codes": "promotion_code",
    "refunds": "refund",
    "setup_intents": "setup_intent",
    "subscription_items": "subscription",
    "subscription_schedules": "subscription_schedule",
    "subscriptions": "subscription",
    "test_helpers/test_clocks": "test_clock",
    "webhook_endpoints": "webhook_endpoint",
}

# Routes whose permission is not "resource of the path, read for GET": a preview is a read done
# with POST, and a customer's payment methods are payment methods.
_EXCEPTIONS: dict[tuple[str, str], str] = {
    ("POST", "/v1/invoices/create_preview"): "rak_invoice_read",
    ("GET", "/v1/customers/{cid}/payment_methods"): "rak_payment_method_read",
}

READ_ONLY = "read_only"  # shorthand accepted when minting a key: every read permission


def known_permissions() -> frozenset[str]:
    """Every permission a restricted key may be given."""
    return frozenset(f"rak_{r}_{a}" for r in _RESOURCES.values() for a in ("read", "write"))


def required(method: str, template: str) -> str:
    """The permission ``method template`` needs (``template`` as registered, e.g. ``/v1/customers/{cid}``).

    Raises ``KeyError`` for a route missing from the table, so a new route cannot go unmapped
    silently (the test of every route catches it).
    """
    exception = _EXCEPTIONS.get((method, template))
    if exception is not None:
        return exception
    parts = template.split("/")[2:]  # "", "v1", then the resource segments
    resource = _RESOURCES.get("/".join(parts[:2])) or _RESOURCES[parts[0]]
    return f"rak_{resource}_{'read' if method == 'GET' else 'write'}"


def allows(granted: frozenset[str], needed: str) -> bool:
    """Whether ``granted`` covers ``needed`` (a write permission covers its read)."""
    return needed in granted or (needed.endswith("_read") and needed[:-5] + "_write" in granted)


def expand(permissions: Iterable[str]) -> frozenset[str]:
    """The permissions a key is minted with, ``read_only`` spelled out; unknown names raise ``ValueError``."""
    known = known_permissions()
    out: set[str] = set()
    for name in permissions:
        if name == READ_ONLY:
            out |= {p for p in known if p.endswith("_read")}
        elif name in known:
            out.add(name)
        else:
            raise ValueError(name)
    return frozenset(out)
