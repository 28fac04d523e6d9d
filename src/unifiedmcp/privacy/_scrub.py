"""Stripe objects about an erased customer, with their personal fields cleared.

Which fields: :data:`PERSONAL_KEYS` wherever they occur (e-mails, names, phones, addresses and
shipping details, descriptions, billing details, card fingerprints, last4 and expiry), and every
``metadata`` emptied (its keys may be personal too). Catalog objects embedded in the customer's
objects (prices, products, coupons, ...) are not the customer's: they keep everything, their
``metadata.tier`` included, which the metrics read to map prices to tiers. Every other string
keeps its text with the customer's id replaced by the pseudonym and its e-mails, names and phone
numbers replaced by ``[erased]`` (:meth:`Subject.scrub_text`). Amounts, statuses, times and the
other objects' ids stay: they are what accounting and the metrics need.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ._subject import Subject

__all__ = ["CATALOG_OBJECTS", "PERSONAL_KEYS", "identifiers", "scrub_json"]

PERSONAL_KEYS = frozenset({
    "email", "name", "phone", "address", "shipping", "description",
    "customer_email", "customer_name", "customer_phone", "customer_address", "customer_shipping",
    "customer_tax_ids", "receipt_email", "billing_details", "fingerprint", "last4", "dynamic_last4",
    "exp_month", "exp_year", "ip_address",
})
# Keys whose text names the customer: the terms an erasure also searches for elsewhere.
_IDENTIFYING_KEYS = frozenset({
    "email", "name", "phone", "customer_email", "customer_name", "customer_phone", "receipt_email",
})
CATALOG_OBJECTS = frozenset({
    "price", "plan", "product", "coupon", "promotion_code", "tax_rate", "shipping_rate",
    "billing.meter", "test_helpers.test_clock",
})


def _is_catalog(value: dict[str, Any]) -> bool:
    kind = value.get("object")  # an event's data holds {"object": {...}}: not a type
    return isinstance(kind, str) and kind in CATALOG_OBJECTS


def scrub_json(value: Any, subject: Subject) -> Any:
    """A copy of ``value`` (parsed JSON) with the personal fields cleared and the text scrubbed."""
    if isinstance(value, dict):
        if _is_catalog(value):
            return value
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in PERSONAL_KEYS and item is not None:
                out[key] = None
            elif key == "metadata" and isinstance(item, dict):
                out[key] = {}
            else:
                out[key] = scrub_json(item, subject)
        return out
    if isinstance(value, list):
        return [scrub_json(item, subject) for item in value]
    if isinstance(value, str):
        return subject.scrub_text(value)
    return value


def identifiers(value: Any) -> Iterator[str]:
    """The e-mails, names and phone numbers in ``value`` (parsed JSON), outside catalog objects."""
    if isinstance(value, dict):
        if _is_catalog(value):
            return
        for key, item in value.items():
            if key in _IDENTIFYING_KEYS and isinstance(item, str) and item.strip():
                yield item.strip()
            elif isinstance(item, dict | list):
                yield from identifiers(item)
    elif isinstance(value, list):
        for item in value:
            yield from identifiers(item)
