"""A realistic multi-customer billing history driven through the sandbox (used by the chaos tests).

Six customers on one test clock: an upgrade then a cancellation at period end, a failing renewal
through dunning to cancellation, a plain renewal, an unpaid first invoice that expires, an
immediate cancellation followed by the customer's deletion, and a disputed charge plus a refund.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import stripe

from unifiedmcp.billing import as_dict, cancel, change_tier, subscribe

HOUR = 3600
DAY = 86400


def run_scenario(client: stripe.StripeClient, settle: Any) -> dict[str, str]:
    """Drive the history; returns {role: customer id}. ``settle()`` waits for webhook delivery."""
    tag = uuid.uuid4().hex[:8]
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": int(time.time())}).id
    ids: dict[str, str] = {}
    for role in ("upgrade_cancel", "dunning", "renew", "expire", "delete", "dispute"):
        email = f"{role}-{tag}@example.com"
        ids[role] = client.v1.customers.create({"email": email, "test_clock": clock}).id
    email = lambda role: f"{role}-{tag}@example.com"  # noqa: E731

    up = subscribe(client, email("upgrade_cancel"), "pro", payment_method="pm_card_visa")
    change_tier(client, ids["upgrade_cancel"], "enterprise", proration="always_invoice")
    cancel(client, ids["upgrade_cancel"], at_period_end=True, reason="too_expensive")

    dun = subscribe(client, email("dunning"), "pro", payment_method="pm_card_visa")
    bad = client.v1.payment_methods.attach("pm_card_chargeCustomerFail", {"customer": ids["dunning"]})
    client.v1.subscriptions.update(dun.subscription_id, {"default_payment_method": bad.id})

    subscribe(client, email("renew"), "enterprise", payment_method="pm_card_visa")
    subscribe(client, email("expire"), "pro")  # never paid

    subscribe(client, email("delete"), "pro", payment_method="pm_card_visa")
    cancel(client, ids["delete"], at_period_end=False)
    client.v1.customers.delete(ids["delete"])

    subscribe(client, email("dispute"), "pro", payment_method="pm_card_createDispute")
    [charge] = client.v1.charges.list({"customer": ids["renew"], "limit": 1}).data
    client.v1.refunds.create({"charge": charge.id, "amount": 1000})  # a partial refund
    settle()
    end = up.current_period_end or int(time.time()) + 31 * DAY
    client.v1.test_helpers.test_clocks.advance(clock, {"frozen_time": end + 2 * HOUR})
    settle()
    client.v1.test_helpers.test_clocks.advance(clock, {"frozen_time": end + 16 * DAY})
    settle()
    return ids


def recorded_events(client: stripe.StripeClient) -> list[dict[str, Any]]:
    """Every event of the sandbox in creation order (the clean delivery order)."""
    events = [as_dict(e) for e in client.v1.events.list({"limit": 100}).auto_paging_iter()]
    events.reverse()  # lists are newest first
    return events
