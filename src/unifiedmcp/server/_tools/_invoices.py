"""Invoices: create_invoice, create_invoice_item, finalize_invoice, list_invoices, void_invoice."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field

from .._binding import ToolCall
from .._errors import InvalidArguments
from .._registry import tool
from .._types import (
    Amount,
    Currency,
    CustomerId,
    IdempotencyKey,
    InvoiceId,
    Limit,
    Metadata,
    PriceId,
    SubscriptionId,
    Text,
)
from ._common import DEFAULT_LIMIT, list_params, page


@tool(
    "create_invoice",
    resource="invoices",
    action="create",
    title="Create a draft invoice",
    permission="Invoices: Write (rak_invoice_write)",
)
def create_invoice(
    call: ToolCall,
    *,
    customer: CustomerId,
    days_until_due: Annotated[int, Field(ge=0, le=365)] | None = None,
    description: Text | None = None,
    metadata: Metadata | None = None,
    idempotency_key: IdempotencyKey | None = None,
) -> dict[str, Any]:
    """Create a draft invoice for a customer; add items with create_invoice_item, then finalize_invoice.

    With `days_until_due` the invoice is sent for payment (collection_method send_invoice);
    without it the customer's default payment method is charged when it is finalized.
    """
    params: dict[str, Any] = {"customer": customer, "description": description, "metadata": metadata}
    if days_until_due is not None:
        params |= {"collection_method": "send_invoice", "days_until_due": days_until_due}
    return call.write(
        "invoices.create", lambda p, o: call.stripe.v1.invoices.create(params=p, options=o), params, idempotency_key
    )


@tool(
    "create_invoice_item",
    resource="invoice_items",
    action="create",
    title="Add an invoice item",
    permission="Invoices: Write (rak_invoice_write)",
)
def create_invoice_item(
    call: ToolCall,
    *,
    customer: CustomerId,
    invoice: InvoiceId | None = None,
    price: PriceId | None = None,
    amount: Amount | None = None,
    currency: Currency | None = None,
    quantity: Annotated[int, Field(ge=1, le=10_000)] | None = None,
    description: Text | None = None,
    idempotency_key: IdempotencyKey | None = None,
) -> dict[str, Any]:
    """Add a line to a customer's draft invoice (or their next one): a `price`, or an `amount` with `currency`."""
    if (price is None) == (amount is None):
        raise InvalidArguments("give either price or amount (with currency), not both or neither", param="price")
    if amount is not None and currency is None:
        raise InvalidArguments("amount needs currency", param="currency")
    if price is not None and currency is not None:
        raise InvalidArguments("currency comes from the price; omit it", param="currency")
    params: dict[str, Any] = {
        "customer": customer,
        "invoice": invoice,
        "amount": amount,
        "currency": currency,
        "quantity": quantity,
        "description": description,
    }
    if price is not None:
        params["pricing"] = {"price": price}
    return call.write(
        "invoice_items.create",
        lambda p, o: call.stripe.v1.invoice_items.create(params=p, options=o),
        params,
        idempotency_key,
    )


@tool(
    "finalize_invoice",
    resource="invoices",
    action="update",
    title="Finalize a draft invoice",
    permission="Invoices: Write (rak_invoice_write)",
    idempotent=True,
)
def finalize_invoice(
    call: ToolCall,
    *,
    invoice: InvoiceId,
    idempotency_key: IdempotencyKey | None = None,
) -> dict[str, Any]:
    """Finalize a draft invoice so it can be paid; returns the open invoice."""
    return call.write(
        f"invoices.finalize:{invoice}",
        lambda p, o: call.stripe.v1.invoices.finalize_invoice(invoice, params=p, options=o),
        {},
        idempotency_key,
    )


@tool(
    "list_invoices",
    resource="invoices",
    action="read",
    title="List invoices",
    permission="Invoices: Read (rak_invoice_read)",
    read_only=True,
)
def list_invoices(
    call: ToolCall,
    *,
    customer: CustomerId | None = None,
    subscription: SubscriptionId | None = None,
    status: Literal["draft", "open", "paid", "uncollectible", "void"] | None = None,
    limit: Limit = DEFAULT_LIMIT,
    starting_after: InvoiceId | None = None,
) -> dict[str, Any]:
    """List invoices, optionally of a customer or subscription, or by status. Paginates with limit/starting_after."""
    params = list_params(limit, starting_after, customer=customer, subscription=subscription, status=status)
    return page(call.stripe.v1.invoices.list(params=params))


def _void_question(args: Mapping[str, Any]) -> str:
    return f"Void invoice {args['invoice']}? A voided invoice can no longer be paid; this cannot be undone."


@tool(
    "void_invoice",
    resource="invoices",
    action="update",
    title="Void an invoice",
    permission="Invoices: Write (rak_invoice_write)",
    destructive=True,
    idempotent=True,
    confirm=_void_question,
)
def void_invoice(
    call: ToolCall,
    *,
    invoice: InvoiceId,
    idempotency_key: IdempotencyKey | None = None,
) -> dict[str, Any]:
    """Void a finalized (open) invoice. Irreversible: a human confirms it first."""
    return call.write(
        f"invoices.void:{invoice}",
        lambda p, o: call.stripe.v1.invoices.void_invoice(invoice, params=p, options=o),
        {},
        idempotency_key,
    )
