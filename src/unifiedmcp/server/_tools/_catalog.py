"""Catalog: create_product, list_products, create_price, list_prices, create_payment_link."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from .._binding import ToolCall
from .._errors import InvalidArguments
from .._registry import tool
from .._types import Amount, Currency, IdempotencyKey, Limit, Metadata, PriceId, ProductId, ShortText, Text
from ._common import DEFAULT_LIMIT, list_params, page

LookupKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,200}$")]
Quantity = Annotated[int, Field(ge=1, le=10_000)]


@tool(
    "create_product",
    resource="products",
    action="create",
    title="Create a product",
    permission="Products: Write (rak_product_write)",
)
def create_product(
    call: ToolCall,
    *,
    name: ShortText,
    description: Text | None = None,
    metadata: Metadata | None = None,
    idempotency_key: IdempotencyKey | None = None,
) -> dict[str, Any]:
    """Create a product (what a price is for); returns the product."""
    params = {"name": name, "description": description, "metadata": metadata}
    return call.write(
        "products.create", lambda p, o: call.stripe.v1.products.create(params=p, options=o), params, idempotency_key
    )


@tool(
    "list_products",
    resource="products",
    action="read",
    title="List products",
    permission="Products: Read (rak_product_read)",
    read_only=True,
)
def list_products(
    call: ToolCall,
    *,
    active: bool | None = None,
    limit: Limit = DEFAULT_LIMIT,
    starting_after: ProductId | None = None,
) -> dict[str, Any]:
    """List products, optionally only active (or inactive) ones. Paginates with limit/starting_after."""
    return page(call.stripe.v1.products.list(params=list_params(limit, starting_after, active=active)))


@tool(
    "create_price",
    resource="prices",
    action="create",
    title="Create a price",
    permission="Prices: Write (rak_price_write)",
)
def create_price(
    call: ToolCall,
    *,
    product: ProductId,
    unit_amount: Amount,
    currency: Currency,
    recurring_interval: Literal["day", "week", "month", "year"] | None = None,
    recurring_interval_count: Annotated[int, Field(ge=1, le=36)] | None = None,
    lookup_key: LookupKey | None = None,
    nickname: ShortText | None = None,
    metadata: Metadata | None = None,
    idempotency_key: IdempotencyKey | None = None,
) -> dict[str, Any]:
    """Create a price for a product: one-time, or recurring with `recurring_interval`.

    `unit_amount` is in the currency's minor unit (1999 = 19.99 USD). `lookup_key` names the
    price for later lookups (e.g. pro_monthly).
    """
    if recurring_interval_count is not None and recurring_interval is None:
        raise InvalidArguments("recurring_interval_count needs recurring_interval", param="recurring_interval_count")
    recurring = None
    if recurring_interval is not None:
        recurring = {"interval": recurring_interval}
        if recurring_interval_count is not None:
            recurring["interval_count"] = recurring_interval_count
    params = {
        "product": product,
        "unit_amount": unit_amount,
        "currency": currency,
        "recurring": recurring,
        "lookup_key": lookup_key,
        "nickname": nickname,
        "metadata": metadata,
    }
    return call.write(
        "prices.create", lambda p, o: call.stripe.v1.prices.create(params=p, options=o), params, idempotency_key
    )


@tool(
    "list_prices",
    resource="prices",
    action="read",
    title="List prices",
    permission="Prices: Read (rak_price_read)",
    read_only=True,
)
def list_prices(
    call: ToolCall,
    *,
    product: ProductId | None = None,
    active: bool | None = None,
    lookup_keys: Annotated[list[LookupKey], Field(min_length=1, max_length=10)] | None = None,
    limit: Limit = DEFAULT_LIMIT,
    starting_after: PriceId | None = None,
) -> dict[str, Any]:
    """List prices, optionally of one product, by activity or by lookup keys. Paginates with limit/starting_after."""
    params = list_params(limit, starting_after, product=product, active=active, lookup_keys=lookup_keys)
    return page(call.stripe.v1.prices.list(params=params))


@tool(
    "create_payment_link",
    resource="payment_links",
    action="create",
    title="Create a payment link",
    permission="Payment Links: Write (rak_payment_link_write)",
)
def create_payment_link(
    call: ToolCall,
    *,
    price: PriceId,
    quantity: Quantity = 1,
    idempotency_key: IdempotencyKey | None = None,
) -> dict[str, Any]:
    """Create a shareable payment link that sells `quantity` of `price`; returns the link (its `url`)."""
    params = {"line_items": [{"price": price, "quantity": quantity}]}
    return call.write(
        "payment_links.create",
        lambda p, o: call.stripe.v1.payment_links.create(params=p, options=o),
        params,
        idempotency_key,
    )
