"""Customers: create_customer, list_customers, update_customer."""

from __future__ import annotations

from typing import Any

from .._binding import ToolCall
from .._registry import tool
from .._types import CustomerId, Email, IdempotencyKey, Limit, Metadata, ShortText, Text
from ._common import DEFAULT_LIMIT, page, list_params


@tool(
    "create_customer",
    resource="customers",
    action="create",
    title="Create a customer",
    permission="Customers: Write (rak_customer_write)",
)
def create_customer(
    call: ToolCall,
    *,
    name: ShortText,
    email: Email | None = None,
    description: Text | None = None,
    metadata: Metadata | None = None,
    idempotency_key: IdempotencyKey | None = None,
) -> dict[str, Any]:
    """Create a Stripe customer; returns the customer object."""
    params = {"name": name, "email": email, "description": description, "metadata": metadata}
    return call.write(
        "customers.create", lambda p, o: call.stripe.v1.customers.create(params=p, options=o), params, idempotency_key
    )


@tool(
    "list_customers",
    resource="customers",
    action="read",
    title="List customers",
    permission="Customers: Read (rak_customer_read)",
    read_only=True,
)
def list_customers(
    call: ToolCall,
    *,
    email: Email | None = None,
    limit: Limit = DEFAULT_LIMIT,
    starting_after: CustomerId | None = None,
) -> dict[str, Any]:
    """List customers, newest first, optionally by exact email.

    Paginate with `limit` (1-100) and `starting_after` (the `next_cursor` of the previous page).
    """
    return page(call.stripe.v1.customers.list(params=list_params(limit, starting_after, email=email)))


@tool(
    "update_customer",
    resource="customers",
    action="update",
    title="Update a customer",
    permission="Customers: Write (rak_customer_write)",
    idempotent=True,
)
def update_customer(
    call: ToolCall,
    *,
    customer: CustomerId,
    name: ShortText | None = None,
    email: Email | None = None,
    description: Text | None = None,
    metadata: Metadata | None = None,
    idempotency_key: IdempotencyKey | None = None,
) -> dict[str, Any]:
    """Update a customer's name, email, description or metadata; returns the customer."""
    params = {"name": name, "email": email, "description": description, "metadata": metadata}
    return call.write(
        f"customers.update:{customer}",
        lambda p, o: call.stripe.v1.customers.update(customer, params=p, options=o),
        params,
        idempotency_key,
    )
