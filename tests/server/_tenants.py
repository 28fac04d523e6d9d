"""Helpers of the tenant-isolation tests: a customer connected through the whole Connect OAuth flow,
what a Stripe account holds, and which accounts the sandbox acted on while a block ran."""

from __future__ import annotations

import contextlib
import io
import re
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import stripe

from unifiedmcp.cli import main

# What an account holds, compared before and after: every list a tool could change.
ACCOUNT_LISTS = (
    "customers", "products", "prices", "subscriptions", "invoices", "payment_intents", "refunds",
    "coupons", "payment_links", "invoice_items", "webhook_endpoints", "billing.meters",
)


def snapshot(client: stripe.StripeClient) -> dict[str, list[dict[str, Any]]]:
    """Every object of :data:`ACCOUNT_LISTS` in the account ``client`` acts on."""
    out = {}
    for name in ACCOUNT_LISTS:
        service: Any = client.v1
        for part in name.split("."):
            service = getattr(service, part)
        out[name] = [o.to_dict() for o in service.list({"limit": 100}).auto_paging_iter()]
    return out


def operator_business(operator: stripe.StripeClient, ledger: Any) -> dict[str, str]:
    """The operator's own business, for the isolation tests to leave alone: the tier catalog
    (``catalog ensure``) and a paying customer with a pro subscription and a payment."""
    from unifiedmcp.billing import ensure_catalog

    ensure_catalog(operator, ledger=ledger)
    paying = operator.v1.customers.create(
        {"email": "payer@example.com", "payment_method": "pm_card_visa",
         "invoice_settings": {"default_payment_method": "pm_card_visa"}}
    ).id
    price = operator.v1.prices.list({"lookup_keys": ["pro_monthly"]}).data[0].id
    sub = operator.v1.subscriptions.create({"customer": paying, "items": [{"price": price}]}).id
    pi = operator.v1.payment_intents.create(
        {"amount": 1500, "currency": "usd", "customer": paying, "payment_method": "pm_card_visa", "confirm": True}
    ).id
    return {"customer": paying, "subscription": sub, "pi": pi, "price": price}


def connect_through_oauth(sandbox_url: str, url: str, customer: str, env: dict[str, str]) -> str:
    """The whole OAuth flow for ``customer`` against the server at ``url``: the CLI's link
    (``connections connect``), the sandbox's authorize page, the server's callback; the acct_ id."""
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["connections", "connect", "--customer", customer, "--base-url", url]) == 0
    link = out.getvalue().strip().splitlines()[-1]
    assert link.startswith(f"{sandbox_url}/oauth/authorize?response_type=code&client_id=ca_")
    query = httpx.URL(link).params
    assert query["scope"] == "read_write" and query["redirect_uri"] == f"{url}/oauth/stripe/callback"
    authorize = httpx.get(link, follow_redirects=False, timeout=10)
    assert authorize.status_code == 302
    back = authorize.headers["location"]
    assert back.startswith(f"{url}/oauth/stripe/callback?")
    page = httpx.get(back, timeout=30)
    assert page.status_code == 200 and "Connected" in page.text, page.text
    account = re.search(r"acct_[A-Za-z0-9]+", page.text)
    assert account is not None
    return account.group(0)


@contextlib.contextmanager
def accounts_acted_on() -> Iterator[list[str]]:
    """The account every sandbox API request targets while the block runs (the sandbox runs in
    this process: a spy on its one account-selection point, ``acting_on``, which sees the key's own
    account or the ``Stripe-Account`` asked for, whether or not the sandbox then allows it)."""
    import unifiedmcp.sandbox._app as sandbox_app

    seen: list[str] = []
    lock = threading.Lock()
    real = sandbox_app.acting_on

    def spy(accounts: Any, cred: Any, stripe_account: str | None) -> Any:
        with lock:
            seen.append(stripe_account or cred.account)
        return real(accounts, cred, stripe_account)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sandbox_app, "acting_on", spy)
        yield seen
