"""Output schemas: what each tool's ``structuredContent`` is (JSON Schema, draft 2020-12).

Stripe objects are described by the fields a model needs to read them (id, object, the
amounts, statuses and links) and stay open to the rest (``additionalProperties``): Stripe adds
fields with every API version, and a client that validates results (the TypeScript SDK does)
must not reject tomorrow's object. UnifiedMCP's own results (pages, usage, search) are closed.
Every write says ``replayed`` (Stripe answered from its idempotency cache). Error results
(``isError``) carry ``{"error": {...}}`` and are not validated against these, as MCP specifies.
``tests/server/test_output_schemas.py`` validates every tool's real result against its schema.
"""

from __future__ import annotations

from typing import Any

__all__ = ["OUTPUT_SCHEMAS", "output_schema"]

Schema = dict[str, Any]

_TEXT = {"type": ["string", "null"]}
_INT = {"type": ["integer", "null"]}
_BOOL = {"type": "boolean"}
_META = {"type": "object", "additionalProperties": {"type": "string"}}
_REPLAYED = {
    "type": "boolean",
    "description": "true when Stripe answered from its idempotency cache: the same write was sent before and nothing new was made",
}


def _object(kind: str, id_pattern: str | None, **fields: Any) -> Schema:
    """A Stripe object of type ``kind``: its id (with its prefix) and the fields named."""
    ident: Schema = {"type": "string"} | ({"pattern": f"^(?:{id_pattern})"} if id_pattern else {})
    return {
        "type": "object",
        "required": ["id", "object"],
        "properties": {"id": ident, "object": {"const": kind}, **fields},
        "additionalProperties": True,
    }


def _written(obj: Schema) -> Schema:
    return obj | {"required": [*obj["required"], "replayed"], "properties": obj["properties"] | {"replayed": _REPLAYED}}


def _page(item: Schema) -> Schema:
    return {
        "type": "object",
        "required": ["object", "data", "count", "has_more", "next_cursor"],
        "properties": {
            "object": {"const": "list"},
            "data": {"type": "array", "items": item},
            "count": {"type": "integer", "minimum": 0},
            "has_more": _BOOL,
            "next_cursor": {"type": ["string", "null"], "description": "pass as starting_after for the next page"},
        },
        "additionalProperties": False,
    }


CUSTOMER = _object("customer", "cus_", name=_TEXT, email=_TEXT, description=_TEXT, created={"type": "integer"}, metadata=_META)
PRODUCT = _object("product", "prod_", name={"type": "string"}, active=_BOOL, description=_TEXT, metadata=_META)
PRICE = _object(
    "price", "price_", product={"type": ["string", "object"]}, unit_amount=_INT, currency={"type": "string"},
    active=_BOOL, lookup_key=_TEXT, recurring={"type": ["object", "null"]}, type={"enum": ["one_time", "recurring"]},
)
PAYMENT_LINK = _object("payment_link", "plink_", url={"type": "string"}, active=_BOOL)
INVOICE = _object(
    "invoice", "in_", customer={"type": ["string", "object"]}, status=_TEXT, amount_due=_INT, amount_paid=_INT,
    amount_remaining=_INT, currency={"type": "string"}, hosted_invoice_url=_TEXT, due_date=_INT,
)
INVOICE_ITEM = _object("invoiceitem", "ii_", customer={"type": ["string", "object"]}, amount=_INT, currency={"type": "string"}, invoice=_TEXT)
PAYMENT_INTENT = _object(
    "payment_intent", "pi_", amount={"type": "integer"}, currency={"type": "string"}, status={"type": "string"},
    customer={"type": ["string", "object", "null"]}, last_payment_error={"type": ["object", "null"]},
)
REFUND = _object("refund", "re_|pyr_", amount={"type": "integer"}, status=_TEXT, payment_intent=_TEXT, charge=_TEXT)
SUBSCRIPTION = _object(
    "subscription", "sub_", customer={"type": ["string", "object"]}, status={"type": "string"},
    cancel_at_period_end=_BOOL, items={"type": "object"}, metadata=_META,
)
COUPON = _object(
    "coupon", None, percent_off={"type": ["number", "null"]}, amount_off=_INT, currency=_TEXT,
    duration={"enum": ["once", "repeating", "forever"]}, valid=_BOOL,
)
DISPUTE = _object("dispute", "dp_|du_", amount={"type": "integer"}, status={"type": "string"}, reason=_TEXT, charge=_TEXT)
PORTAL_SESSION = _object("billing_portal.session", "bps_", url={"type": "string"}, customer={"type": "string"})
ACCOUNT = _object("account", "acct_", country=_TEXT, default_currency=_TEXT, email=_TEXT, charges_enabled=_BOOL)
_FUNDS = {"type": "array", "items": {"type": "object", "required": ["amount", "currency"], "properties": {
    "amount": {"type": "integer"}, "currency": {"type": "string"}}}}
BALANCE: Schema = {
    "type": "object",
    "required": ["object", "available", "pending"],
    "properties": {"object": {"const": "balance"}, "available": _FUNDS, "pending": _FUNDS, "livemode": _BOOL},
    "additionalProperties": True,
}
ANY_OBJECT: Schema = {"type": "object", "required": ["id", "object"], "properties": {"id": {"type": "string"}, "object": {"type": "string"}}}
_ERROR = {"type": "object", "required": ["type", "message"], "properties": {"type": {"type": "string"}, "message": {"type": "string"}}}

USAGE: Schema = {
    "type": "object",
    "required": ["customer", "tier", "month", "calls", "limit", "remaining", "overage", "rejected", "limit_kind",
                 "overage_per_call", "resets_at"],
    "properties": {
        "customer": {"type": "string"},
        "tier": {"type": "string"},
        "month": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
        "calls": {"type": "integer", "minimum": 0, "description": "admitted calls this month, this one included"},
        "limit": {"type": "integer", "minimum": 0},
        "remaining": {"type": "integer", "minimum": 0},
        "overage": {"type": "integer", "minimum": 0},
        "rejected": {"type": "integer", "minimum": 0},
        "limit_kind": {"enum": ["hard", "soft"]},
        "overage_per_call": {"type": "number", "minimum": 0, "description": "minor units (cents)"},
        "resets_at": {"type": "string", "format": "date-time"},
    },
    "additionalProperties": False,
}
_ROWS = {"type": "array", "items": {"type": "object"}}
METRICS: Schema = {
    "type": "object",
    "required": ["month", "currency", "convention", "mrr", "subscribers", "payments", "usage"],
    "properties": {
        "month": {"type": "string"}, "currency": {"type": "string"}, "convention": {"enum": ["stripe", "chartmogul"]},
        "mrr": {"type": "object"}, "subscribers": {"type": "object"}, "payments": {"type": "object"},
        "usage": {"type": "object"}, "arpu": {"type": ["number", "integer", "null", "object"]},
        "subscriber_churn_rate": {"type": ["number", "null"]}, "gross_mrr_churn_rate": {"type": ["number", "null"]},
        "net_mrr_churn_rate": {"type": ["number", "null"]}, "net_revenue_retention": {"type": ["number", "null"]},
    },
    "additionalProperties": True,
}

OUTPUT_SCHEMAS: dict[str, Schema] = {
    "create_customer": _written(CUSTOMER),
    "list_customers": _page(CUSTOMER),
    "update_customer": _written(CUSTOMER),
    "create_product": _written(PRODUCT),
    "list_products": _page(PRODUCT),
    "create_price": _written(PRICE),
    "list_prices": _page(PRICE),
    "create_payment_link": _written(PAYMENT_LINK),
    "create_invoice": _written(INVOICE),
    "create_invoice_item": _written(INVOICE_ITEM),
    "finalize_invoice": _written(INVOICE),
    "list_invoices": _page(INVOICE),
    "void_invoice": _written(INVOICE),
    "list_payment_intents": _page(PAYMENT_INTENT),
    "create_refund": _written(REFUND),
    "create_subscription": _written(SUBSCRIPTION),
    "list_subscriptions": _page(SUBSCRIPTION),
    "update_subscription": _written(SUBSCRIPTION),
    "cancel_subscription": _written(SUBSCRIPTION),
    "create_coupon": _written(COUPON),
    "list_coupons": _page(COUPON),
    "list_disputes": _page(DISPUTE),
    "update_dispute": _written(DISPUTE),
    "retrieve_balance": BALANCE,
    "get_stripe_account_info": ACCOUNT,
    "create_billing_portal_session": _written(PORTAL_SESSION),
    "search_stripe_resources": {
        "type": "object",
        "required": ["object", "resource", "data", "count", "has_more", "next_page"],
        "properties": {
            "object": {"const": "search_result"}, "resource": {"type": "string"},
            "data": {"type": "array", "items": ANY_OBJECT}, "count": {"type": "integer", "minimum": 0},
            "has_more": _BOOL, "next_page": {"type": ["string", "null"], "description": "pass as page for the next page"},
        },
        "additionalProperties": False,
    },
    "fetch_stripe_resources": {
        "type": "object",
        "required": ["object", "data", "count", "errors"],
        "properties": {
            "object": {"const": "list"}, "data": {"type": "array", "items": ANY_OBJECT},
            "count": {"type": "integer", "minimum": 0},
            "errors": {"type": "array", "items": _ERROR | {"required": ["id", "type", "message"]}},
        },
        "additionalProperties": False,
    },
    "get_usage": USAGE,
    "billing_metrics": METRICS,
    "usage_report": {
        "type": "object",
        "required": ["month", "currency", "by_customer", "by_tier_and_tool"],
        "properties": {"month": {"type": "string"}, "currency": {"type": "string"}, "by_customer": _ROWS,
                       "by_tier_and_tool": _ROWS},
        "additionalProperties": False,
    },
}


def output_schema(tool: str) -> Schema:
    """The output schema of ``tool`` (every declared tool has one)."""
    return OUTPUT_SCHEMAS[tool]
