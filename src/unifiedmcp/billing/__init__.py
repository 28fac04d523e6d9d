"""Billing core: the Stripe client, subscription flows, the customer portal and the webhook receiver.

    from unifiedmcp.billing import build_client, idempotency_key, subscribe, create_webhook_app
    client = build_client(settings)                          # STRIPE_API_BASE -> the sandbox
    result = subscribe(client, "a@example.com", "pro")       # result.client_secret for the front end
    app = create_webhook_app(settings=settings, ledger=ledger, client=client)   # POST /webhooks/stripe

Every write carries an idempotency key (the caller's ``idempotency_key=``, else
:func:`idempotency_key` of the operation and its arguments). The receiver verifies signatures,
records each event in the ledger and applies it in the same transaction, exactly once.
"""

from ._client import API_VERSION, KEY_PREFIXES, build_client, client_for_key, idempotency_key
from ._errors import (
    AlreadySubscribed,
    BillingError,
    NoSubscription,
    PaymentFailed,
    StripeNotConfigured,
    StripeRequestFailed,
    WebhookRejected,
)
from ._eventlog import MirroredSubscription, StoredEvent, subscriptions, webhook_events
from ._events import (
    HANDLED_TYPES,
    LIVE_STATUSES,
    TERMINAL_STATUSES,
    EventOutcome,
    EventProcessor,
    replay_events,
)
from ._flows import (
    CANCELLATION_FEEDBACK,
    DEFAULT_PLANS,
    CatalogEntry,
    PaymentResult,
    Plan,
    PortalSession,
    Proration,
    SubscriptionResult,
    cancel,
    change_tier,
    confirm_payment,
    ensure_catalog,
    find_customer,
    metered_price_for_tier,
    portal_session,
    price_for_tier,
    subscribe,
)
from ._meters import METER_EVENT, MeterInfo, ensure_meter, metered_lookup_key
from ._push import PushResult, UsagePusher, billable_tiers
from ._reconcile import CustomerReconciliation, InvoiceLineCheck, ReconcileReport, reconcile, tiered_amount
from ._rejections import RejectionCounter, rejected_deliveries
from ._shapes import (
    InvoicePayment,
    as_dict,
    invoice_payment,
    invoice_subscription_id,
    object_id,
    subscription_period,
    subscription_prices,
)
from ._webhooks import (
    DEFAULT_TOLERANCE,
    MAX_BODY_BYTES,
    WEBHOOK_PATH,
    WebhookReceiver,
    create_webhook_app,
    verify_delivery,
)


__all__ = [
    "API_VERSION",
    "CANCELLATION_FEEDBACK",
    "DEFAULT_PLANS",
    "DEFAULT_TOLERANCE",
    "HANDLED_TYPES",
    "KEY_PREFIXES",
    "LIVE_STATUSES",
    "MAX_BODY_BYTES",
    "METER_EVENT",
    "MeterInfo",
    "CustomerReconciliation",
    "InvoiceLineCheck",
    "PushResult",
    "ReconcileReport",
    "UsagePusher",
    "TERMINAL_STATUSES",
    "WEBHOOK_PATH",
    "AlreadySubscribed",
    "BillingError",
    "CatalogEntry",
    "EventOutcome",
    "EventProcessor",
    "InvoicePayment",
    "MirroredSubscription",
    "NoSubscription",
    "PaymentFailed",
    "PaymentResult",
    "Plan",
    "PortalSession",
    "Proration",
    "StoredEvent",
    "StripeNotConfigured",
    "StripeRequestFailed",
    "SubscriptionResult",
    "WebhookReceiver",
    "WebhookRejected",
    "as_dict",
    "billable_tiers",
    "build_client",
    "cancel",
    "client_for_key",
    "change_tier",
    "confirm_payment",
    "create_webhook_app",
    "ensure_catalog",
    "ensure_meter",
    "find_customer",
    "idempotency_key",
    "invoice_payment",
    "invoice_subscription_id",
    "metered_lookup_key",
    "metered_price_for_tier",
    "object_id",
    "portal_session",
    "reconcile",
    "price_for_tier",
    "RejectionCounter",
    "rejected_deliveries",
    "replay_events",
    "subscribe",
    "subscription_period",
    "subscription_prices",
    "subscriptions",
    "tiered_amount",
    "verify_delivery",
    "webhook_events",
]
