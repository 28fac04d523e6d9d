"""The account: retrieve_balance, get_stripe_account_info, create_billing_portal_session."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AnyHttpUrl, Field

from .._binding import ToolCall
from .._registry import tool
from .._types import CustomerId, IdempotencyKey


@tool(
    "retrieve_balance",
    resource="balance",
    action="read",
    title="Retrieve the balance",
    permission="Balance: Read (rak_balance_read)",
    read_only=True,
)
def retrieve_balance(call: ToolCall) -> dict[str, Any]:
    """The Stripe account's balance: available and pending funds per currency."""
    return call.stripe.v1.balance.retrieve().to_dict()


@tool(
    "get_stripe_account_info",
    resource="account",
    action="read",
    title="Stripe account information",
    permission="Account: Read (rak_account_read)",
    read_only=True,
)
def get_stripe_account_info(call: ToolCall) -> dict[str, Any]:
    """The connected Stripe account: id, business profile, country, default currency, capabilities."""
    account = call.stripe.v1.accounts.retrieve_current().to_dict()
    keep = (
        "id", "object", "business_profile", "business_type", "country", "default_currency", "email",
        "charges_enabled", "payouts_enabled", "details_submitted", "capabilities", "settings", "type",
    )
    return {k: account[k] for k in keep if k in account}


@tool(
    "create_billing_portal_session",
    resource="billing_portal",
    action="create",
    title="Open the customer portal",
    permission="Customer portal: Write (rak_billing_portal_session_write)",
)
def create_billing_portal_session(
    call: ToolCall,
    *,
    customer: CustomerId,
    return_url: Annotated[AnyHttpUrl, Field(description="Where the portal's back link leads")] | None = None,
    idempotency_key: IdempotencyKey | None = None,
) -> dict[str, Any]:
    """A short-lived customer portal link where the customer manages plan, payment methods and invoices."""
    params = {"customer": customer, "return_url": str(return_url) if return_url else None}
    return call.write(
        "billing_portal.sessions.create",
        lambda p, o: call.stripe.v1.billing_portal.sessions.create(params=p, options=o),
        params,
        idempotency_key,
    )
