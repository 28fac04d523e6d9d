"""Search and fetch across resource types: search_stripe_resources, fetch_stripe_resources."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import stripe
from pydantic import Field, StringConstraints

from .._binding import ToolCall
from .._errors import from_stripe_error
from .._registry import tool
from .._types import Limit
from ._common import DEFAULT_LIMIT

SEARCHABLE = ("customers", "invoices", "charges", "payment_intents", "prices", "products", "subscriptions")

# id prefix -> the v1 service that retrieves it
FETCHABLE: dict[str, str] = {
    "cus": "customers",
    "in": "invoices",
    "ch": "charges",
    "py": "charges",
    "pi": "payment_intents",
    "price": "prices",
    "prod": "products",
    "sub": "subscriptions",
    "dp": "disputes",
    "re": "refunds",
    "ii": "invoice_items",
    "plink": "payment_links",
}
_FETCH_ID = rf"^(?:{'|'.join(sorted(FETCHABLE, key=len, reverse=True))})_[A-Za-z0-9_]{{1,250}}$"

FetchId = Annotated[
    str,
    StringConstraints(pattern=_FETCH_ID),
    Field(description=f"A Stripe id with one of the prefixes {', '.join(p + '_' for p in FETCHABLE)}"),
]


@tool(
    "search_stripe_resources",
    resource="search",
    action="read",
    title="Search Stripe",
    permission="Read access to the searched resource (e.g. rak_customer_read)",
    read_only=True,
)
def search_stripe_resources(
    call: ToolCall,
    *,
    resource: Literal["customers", "invoices", "charges", "payment_intents", "prices", "products", "subscriptions"],
    query: Annotated[str, StringConstraints(min_length=1, max_length=1000)],
    limit: Limit = DEFAULT_LIMIT,
    page: Annotated[str, StringConstraints(min_length=1, max_length=2000)] | None = None,
) -> dict[str, Any]:
    """Search one resource type with Stripe's search query language.

    Examples: `email:"ada@example.com"`, `metadata["tier"]:"pro"`, `status:"active"`,
    `created>1700000000`. Paginate with `page` = the previous result's `next_page`.
    """
    params: dict[str, Any] = {"query": query, "limit": limit}
    if page:
        params["page"] = page
    result = getattr(call.stripe.v1, resource).search(params=params)
    data = [obj.to_dict() for obj in result.data]
    next_page = getattr(result, "next_page", None)
    return {
        "object": "search_result",
        "resource": resource,
        "data": data,
        "count": len(data),
        "has_more": bool(result.has_more),
        "next_page": next_page if result.has_more else None,
    }


@tool(
    "fetch_stripe_resources",
    resource="fetch",
    action="read",
    title="Fetch Stripe objects by id",
    permission="Read access to each fetched resource (e.g. rak_customer_read)",
    read_only=True,
)
def fetch_stripe_resources(
    call: ToolCall,
    *,
    ids: Annotated[list[FetchId], Field(min_length=1, max_length=20)],
) -> dict[str, Any]:
    """Fetch up to 20 objects by id, of any supported type (customers, invoices, charges, ...).

    Each id is fetched on its own: `data` holds the objects found, `errors` the ids that failed.
    """
    found: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for object_id in dict.fromkeys(ids):
        service = getattr(call.stripe.v1, FETCHABLE[object_id.split("_", 1)[0]])
        try:
            found.append(service.retrieve(object_id).to_dict())
        except stripe.StripeError as exc:
            failure = from_stripe_error(exc, tool="fetch_stripe_resources", permission="read access")
            errors.append({"id": object_id, **failure.payload()})
    return {"object": "list", "data": found, "count": len(found), "errors": errors}
