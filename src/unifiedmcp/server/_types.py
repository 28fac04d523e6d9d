"""Argument types of the tools: every constraint is checked by the SDK before a tool runs.

Ids carry Stripe's prefixes (``cus_``, ``sub_``...), amounts are non-negative minor units,
currencies are ISO 4217 codes Stripe settles in, and ``limit`` is 1-100. A call that breaks one
of these gets a validation error and never reaches Stripe.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints

__all__ = [
    "CURRENCIES",
    "Amount",
    "ChargeId",
    "CouponId",
    "Currency",
    "CustomerId",
    "DisputeId",
    "Email",
    "IdempotencyKey",
    "InvoiceId",
    "Limit",
    "Metadata",
    "PaymentIntentId",
    "PriceId",
    "ProductId",
    "ShortText",
    "SubscriptionId",
    "Text",
    "stripe_id",
]

_ID_BODY = r"[A-Za-z0-9_]{1,250}"


def stripe_id(prefix: str, what: str) -> Any:
    """A string id that must start with ``prefix`` (e.g. ``cus_``)."""
    return Annotated[
        str,
        StringConstraints(pattern=rf"^{prefix}{_ID_BODY}$", max_length=255),
        Field(description=f"{what} id ({prefix}...)"),
    ]


CustomerId = stripe_id("cus_", "Customer")
SubscriptionId = stripe_id("sub_", "Subscription")
InvoiceId = stripe_id("in_", "Invoice")
PaymentIntentId = stripe_id("pi_", "PaymentIntent")
ChargeId = stripe_id("(?:ch|py)_", "Charge")
PriceId = stripe_id("price_", "Price")
ProductId = stripe_id("prod_", "Product")
DisputeId = stripe_id("(?:dp|du)_", "Dispute")
CouponId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,200}$"),
    Field(description="Coupon id (letters, digits, - and _)"),
]

Amount = Annotated[int, Field(ge=0, le=99_999_999, description="Amount in the currency's minor unit (cents)")]
Limit = Annotated[int, Field(ge=1, le=100, description="Page size, 1-100")]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Text = Annotated[str, StringConstraints(max_length=5000)]
Email = Annotated[
    str,
    StringConstraints(pattern=r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$", max_length=512),
    Field(description="Email address"),
]
IdempotencyKey = Annotated[
    str,
    StringConstraints(pattern=r"^[\x21-\x7e]{1,255}$"),
    Field(description="Idempotency key for this write; default: one derived from the arguments"),
]
Metadata = Annotated[
    dict[
        Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[^\[\]]+$")],
        Annotated[str, StringConstraints(max_length=500)],
    ],
    Field(max_length=50, description="Up to 50 string key/value pairs"),
]

# ISO 4217 codes Stripe supports for charges and prices (lowercase, as Stripe writes them).
CURRENCIES = frozenset(
    """
    usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd bwp byn
    bzd cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp gel gip gmd gnf
    gtq gyd hkd hnl htg huf idr ils inr isk jmd jod jpy kes kgs khr kmf krw kwd kyd kzt lak lbp lkr
    lrd lsl mad mdl mga mkd mmk mnt mop mur mvr mwk mxn myr mzn nad ngn nio nok npr nzd omr pab pen
    pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sek sgd shp sle sos srd std szl thb tjs tnd
    top try ttd twd tzs uah ugx uyu uzs vnd vuv wst xaf xcd xof xpf yer zar zmw
    """.split()
)


def _currency(value: str) -> str:
    code = value.strip().lower()
    if code not in CURRENCIES:
        raise ValueError(f"unknown currency {value!r}: expected an ISO 4217 code Stripe supports, e.g. usd")
    return code


Currency = Annotated[
    str,
    StringConstraints(min_length=3, max_length=3),
    AfterValidator(_currency),
    Field(description="ISO 4217 currency code, e.g. usd"),
]
