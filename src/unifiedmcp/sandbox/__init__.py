"""A local Stripe: a Stripe-compatible HTTP server with test clocks, signed webhooks and Stripe's errors.

How to use it
-------------
In tests (pytest)::

    # tests/conftest.py
    pytest_plugins = ["unifiedmcp.sandbox.testing"]

    def test_subscribe(sandbox, webhook_receiver):
        client = sandbox.client()            # stripe.StripeClient on the sandbox, retries off
        _, secret = sandbox.add_webhook_endpoint(webhook_receiver.url)
        cus = client.v1.customers.create({"email": "a@example.com"})
        ...
        webhook_receiver.wait_for_types("invoice.paid")

``sandbox`` is shared by the tests of one worker (make your own objects; settings and endpoints are
reset after each test); ``fresh_sandbox`` is a private empty one. See
:mod:`unifiedmcp.sandbox.testing` for every helper.

In a notebook, a script or the demo builder::

    from unifiedmcp.sandbox import serve_in_thread

    with serve_in_thread() as sb:           # free port on 127.0.0.1, in-memory state
        client = sb.client()                # or: os.environ.update(sb.env())
        sb.set_dunning(retry_days=[3, 5, 7], final_action="unpaid")
        ...
    # serve_in_thread(port=12111, db_path="data/sandbox.sqlite3", api_key="sk_test_...",
    #                 forward_to=["http://127.0.0.1:8788/webhooks/stripe"], settings={...})
    # api_key: the primary account's key (default: the stored one, else a random sk_test_ key, in
    # sb.api_key; sb.account_id); forward_to deliveries are signed with sb.forward_secrets[i];
    # without `with`, call sb.stop().

Several accounts, Connect and restricted keys (the tenancy model: each customer's own account)::

    acct, key = sb.create_account(email="owner@example.com", business_name="Acme")  # independent
    sb.client(api_key=key)                                  # acts on acct
    rk = sb.create_restricted_key(["rak_customer_read"])    # rk_test_ key of the primary account
    client_id = sb.connect_client_id()                      # ca_... of the primary (the platform)
    # GET /oauth/authorize?response_type=code&client_id=ca_...&scope=read_write&state=...&redirect_uri=...
    #   -> 302 redirect_uri?code=ac_...; sb.client().oauth.token({"grant_type": "authorization_code", "code": ...})
    sb.client(stripe_account="acct_...")                    # the platform acting on a connected account

Usage-based billing (Billing Meters, as stripe-python 16 calls them)::

    meter = client.v1.billing.meters.create({"display_name": "MCP calls", "event_name": "mcp_api_call",
                                             "default_aggregation": {"formula": "sum"}})
    overage = client.v1.prices.create({"product": prod.id, "currency": "usd", "billing_scheme": "tiered",
        "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id}, "tiers_mode": "graduated",
        "tiers": [{"up_to": 10000, "unit_amount": 0}, {"up_to": "inf", "unit_amount_decimal": "0.2"}]})
    client.v1.billing.meter_events.create({"event_name": "mcp_api_call", "identifier": "call-42",
        "payload": {"stripe_customer_id": cus.id, "value": "1"}})
    # renewal invoices bill the ended period's usage; sb.settings(chaos_meter_event_failure_rate=0.2, chaos_seed=1)

From a shell: ``unifiedmcp sandbox serve [--port 12111] [--host 127.0.0.1] [--memory] [--db PATH]
[--forward-to URL]``, then ``STRIPE_API_BASE=http://127.0.0.1:12111`` and any ``sk_test_`` key
(each new key is an account of its own; the first one is the primary account, the one
``--forward-to`` belongs to).

What it does
------------
Speaks the API version stripe-python 16 sends (``2026-10-28.endive``): customers, products, prices,
coupons/discounts, payment methods (Stripe's test tokens ``pm_card_visa``,
``pm_card_chargeCustomerFail``, ``pm_card_visa_chargeDeclined*``, ``pm_card_authenticationRequired``,
``pm_card_createDispute``, ...), payment intents, charges, refunds, disputes, balance and balance
transactions, subscriptions (incomplete / trialing / active / past_due / unpaid / canceled /
incomplete_expired, prorations), invoices and invoice items (finalize, pay, void,
mark_uncollectible; ``payments`` and ``confirmation_secret`` when expanded), invoice payments,
payment links, billing portal sessions (a local HTML page), account, events
(``previous_attributes`` on updates), webhook endpoints and test clocks; billing meters, meter
events (identifier de-duplication, the 35-day / 5-minute timestamp window on the customer's test
clock), cancel adjustments and event summaries; tiered (graduated, volume), decimal and metered
prices, and metered usage invoiced in arrears. Lists, ``expand``,
search, idempotency keys, unknown-parameter errors (from stripe-python's own parameter
TypedDicts), 401/402/403/404/429 errors all follow Stripe. Every object has exactly the top-level
keys of Stripe's published fixture for its resource.

Accounts: each secret key belongs to one account, and no object, event, idempotency key or test
clock of one account is visible from another (each account has its own store, chosen per request).
Connect (Standard accounts): the OAuth flow (``/oauth/authorize`` answers like test mode's "skip
this form", ``/oauth/token``, ``/oauth/deauthorize``), ``Stripe-Account`` for connected accounts
only, Connect webhook endpoints (``connect=true``) receiving connected accounts' events with
``account``, ``account.application.authorized`` / ``.deauthorized``. Restricted keys: Stripe's
403 naming the missing ``rak_`` permission for every route. Network stance: on a loopback bind,
foreign ``Host`` (421) and ``Origin`` (403) headers are refused; bodies are limited to 1 MiB (413).

Behaviour worth knowing (and where it differs from Stripe; also ``docs/sandbox.md``)
------------------------------------------------------------------------------------
- Test clock ``advance`` is synchronous: the response comes back ``status="ready"`` with every
  renewal, finalization (1 h after the period end), charge, retry and cancellation done, events
  stamped with the clock's time. Objects without a clock are billed at wall-clock time by a
  background tick (every second).
- Dunning: ``dunning_retry_days`` (default ``[3, 5, 7]``: retries 3, 5 and 7 days after each
  previous attempt), then ``dunning_final_action`` (``cancel`` -> ``canceled`` with
  ``cancellation_details.reason="payment_failed"``, or ``unpaid``, or ``past_due``).
- The first invoice of a subscription is not retried; unpaid after 23 h, the subscription becomes
  ``incomplete_expired`` (``customer.subscription.deleted``) and the invoice is voided.
- ``payment_behavior=pending_if_incomplete`` on an update is refused like ``error_if_incomplete``
  when its payment would fail (there is no ``pending_update``).
- Prorations are exact to the second, without Stripe's rounding to the day; changing the billing
  interval does not reset the cycle; taxes, currencies conversion, Connect payments (transfers,
  application fees), Checkout, quotes and subscription schedules are out of scope.
- Every response uses the ``2026-10-28.endive`` shapes, whatever ``Stripe-Version`` a client sends
  (the response header says so); older clients expecting e.g. ``invoice.payment_intent`` get
  Stripe's "cannot be expanded" error, as on a real account pinned to this version.
- Idempotency keys are kept in memory (the last 10,000), not across restarts; they are scoped to
  the account acted on and the key used.
- Connect covers Standard accounts through OAuth only: no ``/v1/accounts`` API, Express or Custom
  accounts, transfers or application fees. Any ``http(s)`` ``redirect_uri`` is accepted (there
  are no registered ones); ``stripe_account=`` and ``deny=1`` on the authorize page are
  sandbox-only. Deauthorizing revokes the access and refresh tokens issued for the connection.
  ``account`` is added to events delivered through Connect (Connect endpoints, ``forward_to``),
  not to events read through the API.
- A restricted key's permissions are checked against the route only, not against the objects
  it expands. Settings are server-wide (any key reads them; a secret key changes them).
- Search is immediately consistent (Stripe's can lag by about a minute).
- Meters: a renewal bills each metered item's usage of the ended period (by event timestamp;
  none on the first invoice, none while trialing), recomputed when the draft is finalized (the
  grace period); amounts are summed exactly and rounded half up once per line (Stripe's
  decimal-amounts rule). New subscriptions default to ``billing_mode=flexible`` (Stripe's default
  since 2025-09-30.clover): swapping a metered price mid-period bills its usage so far per
  ``proration_behavior``; ``classic`` drops it, as Stripe does. A subscription that ends at period
  end, at ``cancel_at`` or by ``DELETE`` with ``invoice_now`` gets a final usage invoice.
- Meter events are checked in full on receipt (Stripe reports customer and value problems later,
  as ``v1.billing.meter.error_report_triggered``): 400s carry the error report's codes.
  Identifiers are remembered for good (Stripe: at least 24 h); adjustments and summaries are
  immediate; meter event rate limits are not modelled; ``chaos_meter_event_failure_rate`` makes a
  share of meter events fail with 429 or 500 (some after recording). Details in docs/sandbox.md.
- Card outcomes are decided by the test card alone (amounts never trigger declines).

Differences from localstripe 1.15.10 (the other stateful fake; checked by the conformance suite,
whose Stripe-generic tests also run against localstripe): localstripe has no Prices API, rejects
``payment_behavior=default_incomplete`` and ``payment_settings``, has no test clocks, renewals,
search, billing portal, finalize, retries or idempotency, lists oldest first, returns pre-2025
shapes, and slows down as the store grows (it re-pickles everything on each write). Found while
running the shared tests on both: it accepts any key that starts with ``sk_test_``, returns
``latest_charge`` expanded, needs an explicit coupon id, lets ``pm_card``-less declining card
numbers (4000000000000002) succeed, refunds the whole charge again when a second refund has no
amount, does not limit ``limit`` to 100, and delivers webhooks about a second late without retries.
``benchmarks/bench_sandbox.py`` compares the speed of both.

Also not implemented here: ``invoice.upcoming`` events, subscription schedules, pause/resume,
customer balance transactions, tax, Checkout. ``invoices.create_preview`` covers the next
invoice of a subscription (with proposed item changes and prorations).
"""

from __future__ import annotations

from ._errors import StripeError
from ._receiver import Received, WebhookReceiver
from ._server import SandboxServer, serve_forever, serve_in_thread
from ._settings import SandboxSettings
from ._state import API_VERSION, Sandbox
from ._webhooks import ForwardTarget, sign

__all__ = [
    "API_VERSION",
    "ForwardTarget",
    "Received",
    "Sandbox",
    "SandboxServer",
    "SandboxSettings",
    "StripeError",
    "WebhookReceiver",
    "serve_forever",
    "serve_in_thread",
    "sign",
]
