"""Subscription flows shared by the CLI, the MCP tools and the notebooks.

Every function takes a configured :class:`stripe.StripeClient` (see :func:`build_client`) first,
then its arguments, then keyword-only options. Every write carries an idempotency key: the
caller's (``idempotency_key=``), or one derived from the operation and its arguments
(:func:`idempotency_key`, with ``scope=`` to separate callers). Flows are also idempotent at the
business level: subscribing twice to the same tier returns the existing subscription, changing to
the current tier changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Literal

import stripe

from ..config import DEFAULT_TIERS, TierTable
from ..errors import InvalidInput
from ..ledger import Ledger
from ._client import idempotency_key as derive_key
from ._errors import AlreadySubscribed, NoSubscription, PaymentFailed, StripeRequestFailed
from ._events import LIVE_STATUSES, TERMINAL_STATUSES
from ._meters import METER_EVENT, ensure_meter, ensure_metered_price, metered_lookup_key
from ._shapes import as_dict, invoice_payment, object_id, subscription_period, subscription_prices

__all__ = [
    "DEFAULT_PLANS",
    "CANCELLATION_FEEDBACK",
    "Plan",
    "CatalogEntry",
    "PaymentResult",
    "PortalSession",
    "CheckoutSession",
    "SubscriptionResult",
    "Proration",
    "ensure_catalog",
    "subscribe",
    "checkout",
    "confirm_payment",
    "change_tier",
    "cancel",
    "portal_session",
    "find_customer",
    "price_for_tier",
]

Proration = Literal["create_prorations", "always_invoice", "none"]

#: Stripe's cancellation feedback values; any other ``reason`` is sent as a comment.
CANCELLATION_FEEDBACK = frozenset(
    {"customer_service", "low_quality", "missing_features", "other", "switched_service", "too_complex",
     "too_expensive", "unused"}
)


@dataclass(frozen=True)
class Plan:
    """The Stripe product and monthly price of a paid tier."""

    tier: str
    name: str
    lookup_key: str
    unit_amount: int  # minor units per interval
    currency: str = "usd"
    interval: Literal["day", "week", "month", "year"] = "month"


DEFAULT_PLANS: tuple[Plan, ...] = (
    Plan("pro", "UnifiedMCP Pro", "pro_monthly", 2900),
    Plan("enterprise", "UnifiedMCP Enterprise", "enterprise_monthly", 29900),
)


@dataclass(frozen=True)
class CatalogEntry:
    tier: str
    lookup_key: str
    product_id: str
    price_id: str
    unit_amount: int  # the flat price per interval; 0 for a metered price (see ``metered``)
    currency: str
    created: bool  # False when the price already existed
    metered: bool = False  # the tier's overage price: graduated per call past the included calls


@dataclass(frozen=True)
class SubscriptionResult:
    """A subscription as a front end and the CLI need it.

    ``client_secret`` (to confirm the first payment in the browser) is hidden from the repr.
    """

    customer_id: str
    subscription_id: str
    status: str
    tier: str | None
    price_id: str | None
    current_period_end: int | None
    cancel_at_period_end: bool
    latest_invoice_id: str | None
    payment_intent_id: str | None
    client_secret: str | None
    payment_status: str | None = None
    created: bool = False  # False when an existing subscription was returned or changed
    scheduled_tier: str | None = None  # a change waiting for the period's end (change_tier(at_period_end=True))
    scheduled_at: int | None = None  # when it takes effect

    def __repr__(self) -> str:
        fields = {k: v for k, v in self.__dict__.items() if k != "client_secret"}
        inner = ", ".join(f"{k}={v!r}" for k, v in fields.items())
        return f"SubscriptionResult({inner}, client_secret={'***' if self.client_secret else None})"

    def public(self) -> dict[str, Any]:
        """The fields without the client secret (for logs, the CLI's JSON, tool results)."""
        return {k: v for k, v in self.__dict__.items() if k != "client_secret"}


@dataclass(frozen=True)
class PaymentResult:
    payment_intent_id: str
    status: str
    amount: int | None
    currency: str | None
    payment_method: str | None
    last_error_code: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


@dataclass(frozen=True)
class CheckoutSession:
    """A Checkout Session the customer opens at ``url`` to pay for a tier (it expires at ``expires_at``)."""

    session_id: str
    customer_id: str
    tier: str
    url: str
    expires_at: int


@dataclass(frozen=True)
class PortalSession:
    session_id: str
    customer_id: str
    url: str
    return_url: str | None


# -- plumbing ------------------------------------------------------------------------------------


@contextmanager
def _stripe(operation: str) -> Iterator[None]:
    """Turn stripe-python errors into StripeRequestFailed (messages masked, never a key)."""
    try:
        yield
    except stripe.StripeError as exc:
        raise StripeRequestFailed(
            operation,
            status=exc.http_status,
            code=exc.code,
            message=exc.user_message or str(exc) or type(exc).__name__,
        ) from None


def _options(operation: str, params: Mapping[str, Any], key: str | None, scope: str) -> dict[str, Any]:
    return {"idempotency_key": key or derive_key(operation, params, scope=scope)}


def _plan(tier: str, plans: tuple[Plan, ...]) -> Plan:
    for plan in plans:
        if plan.tier == tier:
            return plan
    raise InvalidInput(f"tier {tier!r} has no plan; paid tiers: {', '.join(p.tier for p in plans)}")


def _list(page: Any) -> list[dict[str, Any]]:
    return [as_dict(o) for o in page.data]


# -- catalog -------------------------------------------------------------------------------------


def ensure_catalog(
    client: stripe.StripeClient,
    *,
    plans: tuple[Plan, ...] = DEFAULT_PLANS,
    tiers: TierTable = DEFAULT_TIERS,
    scope: str = "",
    ledger: Ledger | None = None,
) -> list[CatalogEntry]:
    """Make sure each plan's product and prices exist (by ``lookup_key``); create what is missing.

    Each paid tier gets its flat monthly price and, when it bills overage, a metered price on the
    meter for MCP calls (``_meters``: graduated, the included calls free, then
    ``overage_per_call`` each). Prices carry ``metadata.tier`` (and their products too), so
    reports map them to tiers without configuration. With ``ledger``, every catalog price is
    recorded there: with the tiers file's ids and lookup keys, these are the only prices the
    webhook receiver maps to a tier (never metadata). Running it again changes nothing.
    """
    out: list[CatalogEntry] = []
    with _stripe("billing.meters"):
        meter = ensure_meter(client, options=_options("billing.meters.create", {"event": METER_EVENT}, None, scope))
    for plan in plans:
        tier = tiers[plan.tier]  # an unknown tier is a configuration error
        flat = _ensure_flat_price(client, plan, scope)
        out.append(flat)
        params = {"tier": tier.name, "meter": meter.meter_id, "product": flat.product_id}
        with _stripe("prices.create"):
            metered = ensure_metered_price(
                client, tier, currency=plan.currency, product_id=flat.product_id, meter_id=meter.meter_id,
                options=_options("prices.create.metered", params, None, scope),
            )
        if metered is not None:
            price, created = metered
            out.append(CatalogEntry(tier.name, price["lookup_key"], flat.product_id, price["id"], 0, plan.currency,
                                    created, metered=True))
    if ledger is not None:
        ledger.record_catalog_prices((e.price_id, e.tier, e.lookup_key, e.product_id) for e in out)
    return out


def _ensure_flat_price(client: stripe.StripeClient, plan: Plan, scope: str) -> CatalogEntry:
    with _stripe("prices.list"):
        found = _list(client.v1.prices.list({"lookup_keys": [plan.lookup_key], "active": True, "limit": 1}))
    if found:
        price = found[0]
        return CatalogEntry(plan.tier, plan.lookup_key, object_id(price.get("product")) or "", price["id"],
                            price.get("unit_amount") or 0, price.get("currency") or plan.currency, False)
    product_id = _find_product(client, plan)
    if product_id is None:
        params = {"name": plan.name, "metadata": {"tier": plan.tier, "lookup_key": plan.lookup_key}}
        with _stripe("products.create"):
            product_id = client.v1.products.create(params, _options("products.create", params, None, scope)).id
    params = {
        "product": product_id,
        "currency": plan.currency,
        "unit_amount": plan.unit_amount,
        "recurring": {"interval": plan.interval},
        "lookup_key": plan.lookup_key,
        "nickname": plan.name,
        "metadata": {"tier": plan.tier},
    }
    with _stripe("prices.create"):
        price_obj = client.v1.prices.create(params, _options("prices.create", params, None, scope))
    return CatalogEntry(plan.tier, plan.lookup_key, product_id, price_obj.id, plan.unit_amount, plan.currency, True)


def _find_product(client: stripe.StripeClient, plan: Plan) -> str | None:
    with _stripe("products.list"):
        page = client.v1.products.list({"active": True, "limit": 100})
    for product in _list(page):
        meta = product.get("metadata") or {}
        if meta.get("tier") == plan.tier and meta.get("lookup_key") == plan.lookup_key:
            return product["id"]
    return None


def metered_price_for_tier(
    client: stripe.StripeClient, tier: str, *, tiers: TierTable = DEFAULT_TIERS
) -> dict[str, Any] | None:
    """The active metered (overage) price of a paid tier; None when the tier bills no overage.
    A tier that bills overage without one is refused: a subscription to its flat price alone
    would never invoice its overage."""
    if tiers[tier].overage_per_call <= 0:
        return None
    key = metered_lookup_key(tier)
    with _stripe("prices.list"):
        found = _list(client.v1.prices.list({"lookup_keys": [key], "active": True, "limit": 1}))
    if not found:
        raise InvalidInput(
            f"no active price with lookup key {key!r} for {tier}'s overage; run `unifiedmcp catalog ensure`"
        )
    return found[0]


def price_for_tier(
    client: stripe.StripeClient, tier: str, *, plans: tuple[Plan, ...] = DEFAULT_PLANS
) -> dict[str, Any]:
    """The active price of a paid tier (by its plan's lookup key); run ensure_catalog first."""
    plan = _plan(tier, plans)
    with _stripe("prices.list"):
        found = _list(client.v1.prices.list({"lookup_keys": [plan.lookup_key], "active": True, "limit": 1}))
    if not found:
        raise InvalidInput(f"no active price with lookup key {plan.lookup_key!r}; run `unifiedmcp catalog ensure`")
    return found[0]


# -- customers and subscriptions -----------------------------------------------------------------


def find_customer(client: stripe.StripeClient, customer: str) -> dict[str, Any] | None:
    """The customer with this id (``cus_...``) or email (the oldest one with it), or None."""
    if not customer or not customer.strip():
        raise InvalidInput("customer must be an id (cus_...) or an email")
    if customer.startswith("cus_"):
        try:
            with _stripe("customers.retrieve"):
                obj = as_dict(client.v1.customers.retrieve(customer))
        except StripeRequestFailed as exc:
            if exc.status == 404:
                return None
            raise
        return None if obj.get("deleted") else obj
    with _stripe("customers.list"):
        found = [c for c in _list(client.v1.customers.list({"email": customer, "limit": 100})) if not c.get("deleted")]
    return min(found, key=lambda c: (c.get("created") or 0, c["id"])) if found else None


def _require_customer(client: stripe.StripeClient, customer: str) -> dict[str, Any]:
    found = find_customer(client, customer)
    if found is None:
        from ..errors import UnknownCustomer

        raise UnknownCustomer(customer)
    return found


def _subscriptions(client: stripe.StripeClient, customer_id: str) -> list[dict[str, Any]]:
    with _stripe("subscriptions.list"):
        page = client.v1.subscriptions.list({"customer": customer_id, "status": "all", "limit": 100})
    return _list(page)


def _live_subscription(client: stripe.StripeClient, customer_id: str) -> dict[str, Any]:
    subs = [s for s in _subscriptions(client, customer_id) if s.get("status") in LIVE_STATUSES]
    if not subs:
        raise NoSubscription(customer_id)
    return max(subs, key=lambda s: (s.get("created") or 0, s["id"]))


def _is_metered(item: Mapping[str, Any]) -> bool:
    price = item.get("price") if isinstance(item.get("price"), Mapping) else {}
    return ((price or {}).get("recurring") or {}).get("usage_type") == "metered"


def _tier_name(sub: Mapping[str, Any], tiers: TierTable) -> str | None:
    found = [t for p in subscription_prices(sub) if (t := tiers.for_price(p)) is not None]
    return max(found, key=lambda t: t.rank).name if found else None


def _result(
    sub: Mapping[str, Any], tiers: TierTable, *, created: bool, invoice: Mapping[str, Any] | None = None
) -> SubscriptionResult:
    invoice = invoice if invoice is not None else sub.get("latest_invoice")
    inv = as_dict(invoice) if isinstance(invoice, Mapping) or hasattr(invoice, "to_dict") else {}
    pay = invoice_payment(inv) if inv else None
    prices = subscription_prices(sub)
    intent_id = pay.payment_intent_id if pay else None
    secret = pay.client_secret if pay else None
    if intent_id is None and secret and "_secret_" in secret:
        intent_id = secret.split("_secret_", 1)[0]
    return SubscriptionResult(
        customer_id=object_id(sub.get("customer")) or "",
        subscription_id=sub["id"],
        status=sub["status"],
        tier=_tier_name(sub, tiers),
        price_id=prices[0].get("id") if prices else None,
        current_period_end=subscription_period(sub)[1],
        cancel_at_period_end=bool(sub.get("cancel_at_period_end")),
        latest_invoice_id=object_id(invoice),
        payment_intent_id=intent_id,
        client_secret=secret,
        payment_status=pay.status if pay else None,
        created=created,
    )


_EXPAND_INVOICE = ["latest_invoice.confirmation_secret", "latest_invoice.payments"]


def _paid_tier_for(
    client: stripe.StripeClient, email: str, tier: str, *, tiers: TierTable, plans: tuple[Plan, ...], scope: str
) -> tuple[dict[str, Any], dict[str, Any] | None, str]:
    """A paid tier's flat and metered prices and the customer with ``email`` (created if none)."""
    if "@" not in email:
        raise InvalidInput(f"not an email address: {email!r}")
    if tier == tiers.default.name:
        raise InvalidInput(f"{tier} is the tier without a subscription; subscribe to a paid tier")
    price = price_for_tier(client, tier, plans=plans)
    metered = metered_price_for_tier(client, tier, tiers=tiers)
    customer = find_customer(client, email)
    if customer is None:
        params = {"email": email, "metadata": {"source": "unifiedmcp"}}
        with _stripe("customers.create"):
            customer = as_dict(client.v1.customers.create(params, _options("customers.create", params, None, scope)))
    return price, metered, customer["id"]


def subscribe(
    client: stripe.StripeClient,
    email: str,
    tier: str,
    *,
    payment_method: str | None = None,
    trial_days: int | None = None,
    tiers: TierTable = DEFAULT_TIERS,
    plans: tuple[Plan, ...] = DEFAULT_PLANS,
    idempotency_key: str | None = None,
    scope: str = "",
) -> SubscriptionResult:
    """Subscribe ``email`` to ``tier``: find or create the customer, create the subscription.

    The subscription is created ``default_incomplete`` and saves the payment method on
    success; the result carries the first invoice's client secret for a front end to confirm.
    With ``payment_method`` (e.g. ``pm_card_visa`` in test mode) the payment is confirmed here.
    Subscribing again to the same tier returns the existing subscription; a live subscription on
    another tier raises :class:`AlreadySubscribed` (use :func:`change_tier`).
    """
    price, metered, cid = _paid_tier_for(client, email, tier, tiers=tiers, plans=plans, scope=scope)
    existing = _subscriptions(client, cid)
    for sub in existing:
        if sub.get("status") in TERMINAL_STATUSES:
            continue
        if price["id"] in {p.get("id") for p in subscription_prices(sub)}:
            with _stripe("subscriptions.retrieve"):
                fresh = as_dict(client.v1.subscriptions.retrieve(sub["id"], {"expand": _EXPAND_INVOICE}))
            result = _result(fresh, tiers, created=False)
            return _maybe_confirm(client, result, payment_method, tiers, scope)
        if sub.get("status") in LIVE_STATUSES or sub.get("status") == "incomplete":
            raise AlreadySubscribed(cid, sub["id"], _tier_name(sub, tiers))
    params: dict[str, Any] = {
        "customer": cid,
        "items": [{"price": price["id"]}] + ([{"price": metered["id"]}] if metered else []),
        "payment_behavior": "default_incomplete",
        "payment_settings": {"save_default_payment_method": "on_subscription"},
        "metadata": {"tier": tier},
        "expand": _EXPAND_INVOICE,
    }
    if trial_days:
        params["trial_period_days"] = int(trial_days)
    # Earlier (ended) subscriptions are part of the key: subscribing again after a cancellation is
    # a new operation, while a retry of this one reuses the key.
    key_params = {**params, "_ended": sorted(s["id"] for s in existing)}
    with _stripe("subscriptions.create"):
        sub = as_dict(
            client.v1.subscriptions.create(params, _options("subscriptions.create", key_params, idempotency_key, scope))
        )
    return _maybe_confirm(client, _result(sub, tiers, created=True), payment_method, tiers, scope)


def checkout(
    client: stripe.StripeClient,
    email: str,
    tier: str,
    *,
    success_url: str | None = None,
    cancel_url: str | None = None,
    trial_days: int | None = None,
    allow_promotion_codes: bool = True,
    tiers: TierTable = DEFAULT_TIERS,
    plans: tuple[Plan, ...] = DEFAULT_PLANS,
    idempotency_key: str | None = None,
    scope: str = "",
) -> CheckoutSession:
    """A Checkout Session in subscription mode where ``email`` pays for ``tier`` on Stripe's page.

    The customer is found or created first (so the subscription lands on the same customer as
    :func:`subscribe` would use); the session carries the tier's flat price and, when it bills
    overage, its metered price. Nothing is subscribed until the customer pays: then Stripe sends
    ``checkout.session.completed`` and the webhook receiver records the subscription (the tier
    comes from its catalog prices, never from the session). ``allow_promotion_codes`` lets the
    customer enter a promotion code on the page. A customer with a live subscription raises
    :class:`AlreadySubscribed` (use :func:`change_tier` or the portal).
    """
    for url in (success_url, cancel_url):
        if url is not None and not url.startswith(("https://", "http://")):
            raise InvalidInput(f"not an http(s) URL: {url!r}")
    price, metered, cid = _paid_tier_for(client, email, tier, tiers=tiers, plans=plans, scope=scope)
    for sub in _subscriptions(client, cid):
        if sub.get("status") in LIVE_STATUSES:
            raise AlreadySubscribed(cid, sub["id"], _tier_name(sub, tiers))
    subscription_data: dict[str, Any] = {"metadata": {"tier": tier}}
    if trial_days:
        subscription_data["trial_period_days"] = int(trial_days)
    params = {
        "mode": "subscription",
        "customer": cid,
        "line_items": [{"price": price["id"], "quantity": 1}] + ([{"price": metered["id"]}] if metered else []),
        "subscription_data": subscription_data,
        "allow_promotion_codes": allow_promotion_codes,
        **({"success_url": success_url} if success_url else {}),
        **({"cancel_url": cancel_url} if cancel_url else {}),
    }
    # A session is short-lived (it expires, or completes once): without a caller key, a retry
    # within the minute reuses it and a later call makes a new one, as for portal sessions.
    options = {"idempotency_key": idempotency_key} if idempotency_key else _options(
        "checkout.sessions.create", params, None, scope or _minute()
    )
    with _stripe("checkout.sessions.create"):
        session = as_dict(client.v1.checkout.sessions.create(params, options))
    return CheckoutSession(session["id"], cid, tier, session["url"], session["expires_at"])


def _maybe_confirm(
    client: stripe.StripeClient,
    result: SubscriptionResult,
    payment_method: str | None,
    tiers: TierTable,
    scope: str,
) -> SubscriptionResult:
    if payment_method is None or result.payment_intent_id is None or result.status != "incomplete":
        return result
    if result.payment_status in ("succeeded", "processing"):
        return result
    payment = confirm_payment(client, result.payment_intent_id, payment_method=payment_method, scope=scope)
    if not payment.succeeded:
        raise PaymentFailed(payment.payment_intent_id, status=payment.status, code=payment.last_error_code)
    with _stripe("subscriptions.retrieve"):
        fresh = as_dict(client.v1.subscriptions.retrieve(result.subscription_id, {"expand": _EXPAND_INVOICE}))
    return _result(fresh, tiers, created=result.created)


def confirm_payment(
    client: stripe.StripeClient,
    payment_intent: str,
    *,
    payment_method: str | None = None,
    return_url: str | None = None,
    idempotency_key: str | None = None,
    scope: str = "",
) -> PaymentResult:
    """Confirm a payment intent (the first invoice of a subscription) with ``payment_method``.

    ``payment_intent`` may be an id or a client secret. A declined card gives a result with
    ``status="requires_payment_method"`` and ``last_error_code`` rather than an exception.
    """
    pi_id = payment_intent.split("_secret_", 1)[0]
    params: dict[str, Any] = {}
    if payment_method:
        params["payment_method"] = payment_method
    if return_url:
        params["return_url"] = return_url
    options = _options("payment_intents.confirm", {"pi": pi_id, **params}, idempotency_key, scope)
    try:
        with _stripe("payment_intents.confirm"):
            pi = as_dict(client.v1.payment_intents.confirm(pi_id, params, options))
    except StripeRequestFailed as exc:
        if exc.status != 402:  # card errors come back as 402 with the intent's new state
            raise
        with _stripe("payment_intents.retrieve"):
            pi = as_dict(client.v1.payment_intents.retrieve(pi_id))
        pi.setdefault("last_payment_error", {"code": exc.code})
    error = pi.get("last_payment_error") or {}
    return PaymentResult(
        payment_intent_id=pi["id"],
        status=pi["status"],
        amount=pi.get("amount"),
        currency=pi.get("currency"),
        payment_method=object_id(pi.get("payment_method")),
        last_error_code=(error.get("decline_code") or error.get("code")) if pi["status"] != "succeeded" else None,
    )


def change_tier(
    client: stripe.StripeClient,
    customer: str,
    tier: str,
    *,
    proration: Proration = "create_prorations",
    at_period_end: bool = False,
    tiers: TierTable = DEFAULT_TIERS,
    plans: tuple[Plan, ...] = DEFAULT_PLANS,
    idempotency_key: str | None = None,
    scope: str = "",
) -> SubscriptionResult:
    """Move the customer's live subscription to ``tier``'s price (same item, so one subscription).

    ``proration``: ``create_prorations`` (credit/charge on the next invoice, Stripe's default),
    ``always_invoice`` (invoice the difference now) or ``none``. Already on ``tier``: no change.
    Downgrading to the free tier is a cancellation: use :func:`cancel`.

    ``at_period_end``: the change waits for the current period's end, through a subscription
    schedule of two phases (the current items until then; then the tier's flat and metered
    prices), so nothing is prorated and the period's usage is billed at the old price. The result
    describes the subscription until then, with ``scheduled_tier`` and ``scheduled_at``; a later
    call replaces the pending change, and an immediate change releases it.
    """
    if proration not in ("create_prorations", "always_invoice", "none"):
        raise InvalidInput(f"proration must be create_prorations, always_invoice or none, not {proration!r}")
    if tier == tiers.default.name:
        raise InvalidInput(f"{tier} is the tier without a subscription: use cancel to downgrade to it")
    cid = _require_customer(client, customer)["id"]
    price = price_for_tier(client, tier, plans=plans)
    metered = metered_price_for_tier(client, tier, tiers=tiers)
    sub = _live_subscription(client, cid)
    items = (sub.get("items") or {}).get("data") or []
    flat_items = [i for i in items if not _is_metered(i)]
    if not flat_items:
        raise NoSubscription(cid)
    item = flat_items[0]
    current = object_id(item.get("price"))
    usage_items = [i for i in items if _is_metered(i)]
    on_tier = current == price["id"] and [object_id(i.get("price")) for i in usage_items] == ([metered["id"]] if metered else [])
    if at_period_end:
        if on_tier:
            return _result(sub, tiers, created=False)
        target = [{"price": price["id"], "quantity": item.get("quantity") or 1}] + ([{"price": metered["id"]}] if metered else [])
        return _schedule_change(client, sub, tier, target, tiers=tiers, idempotency_key=idempotency_key, scope=scope)
    _release_schedule(client, sub, scope=scope)
    if on_tier:
        return _result(sub, tiers, created=False)
    # Both items move together: the flat price, and the overage price that bills the calls past
    # the new tier's included amount (usage before the change is billed at the old price).
    changes: list[dict[str, Any]] = [{"id": item["id"], "price": price["id"]}]
    if metered is None:
        changes += [{"id": i["id"], "deleted": True} for i in usage_items]
    elif usage_items:
        changes.append({"id": usage_items[0]["id"], "price": metered["id"]})
    else:
        changes.append({"price": metered["id"]})
    params = {
        "items": changes,
        "proration_behavior": proration,
        "cancel_at_period_end": False,
        "metadata": {"tier": tier},
    }
    key_params = {"subscription": sub["id"], "from": current, **params}
    with _stripe("subscriptions.update"):
        updated = as_dict(
            client.v1.subscriptions.update(
                sub["id"], params, _options("subscriptions.update", key_params, idempotency_key, scope)
            )
        )
    return _result(updated, tiers, created=False)


def _phase_items(items: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Subscription (or phase) items as phase parameters: a metered price carries no quantity."""
    return [{"price": object_id(i.get("price")), **({"quantity": i["quantity"]} if i.get("quantity") is not None else {})}
            for i in items]


def _schedule_change(
    client: stripe.StripeClient,
    sub: Mapping[str, Any],
    tier: str,
    target: list[dict[str, Any]],
    *,
    tiers: TierTable,
    idempotency_key: str | None,
    scope: str,
) -> SubscriptionResult:
    """Phases: the current items until the period ends, then ``target`` (released after it)."""
    period_end = subscription_period(sub)[1]
    sched_id = object_id(sub.get("schedule"))
    with _stripe("subscription_schedules"):
        if sched_id is None:
            params = {"from_subscription": sub["id"]}
            sched = as_dict(client.v1.subscription_schedules.create(
                params, _options("subscription_schedules.create", params, None, scope)))
        else:
            sched = as_dict(client.v1.subscription_schedules.retrieve(sched_id))
        phases = sched.get("phases") or []
        if len(phases) >= 2 and _phase_items(phases[-1].get("items") or []) == target and phases[-1].get("start_date") == period_end:
            return replace(_result(sub, tiers, created=False), scheduled_tier=tier, scheduled_at=period_end)
        current = (sched.get("current_phase") or {}).get("start_date") or phases[0]["start_date"]
        params = {
            "end_behavior": "release",
            "phases": [
                {"items": _phase_items((sub.get("items") or {}).get("data") or []), "start_date": current,
                 "end_date": period_end, "proration_behavior": "none"},
                {"items": target, "proration_behavior": "none", "metadata": {"tier": tier}},
            ],
        }
        key_params = {"schedule": sched["id"], **params}
        client.v1.subscription_schedules.update(
            sched["id"], params, _options("subscription_schedules.update", key_params, idempotency_key, scope))
    return replace(_result(sub, tiers, created=False), scheduled_tier=tier, scheduled_at=period_end)


def _release_schedule(client: stripe.StripeClient, sub: Mapping[str, Any], *, scope: str) -> None:
    """Drop a pending scheduled change: an immediate change supersedes it."""
    sched_id = object_id(sub.get("schedule"))
    if sched_id is None:
        return
    with _stripe("subscription_schedules.release"):
        client.v1.subscription_schedules.release(
            sched_id, {}, _options("subscription_schedules.release", {"schedule": sched_id}, None, scope))


def cancel(
    client: stripe.StripeClient,
    customer: str,
    *,
    at_period_end: bool = True,
    reason: str | None = None,
    tiers: TierTable = DEFAULT_TIERS,
    idempotency_key: str | None = None,
    scope: str = "",
) -> SubscriptionResult:
    """Cancel the customer's live subscription, at the period's end (default) or now.

    ``reason`` is sent as Stripe's cancellation ``feedback`` when it is one of
    :data:`CANCELLATION_FEEDBACK`, else as the cancellation comment.
    """
    cid = _require_customer(client, customer)["id"]
    sub = _live_subscription(client, cid)
    details: dict[str, Any] = {}
    if reason:
        details = {"feedback": reason} if reason in CANCELLATION_FEEDBACK else {"comment": reason[:5000]}
    if at_period_end:
        if sub.get("cancel_at_period_end"):
            return _result(sub, tiers, created=False)
        params: dict[str, Any] = {"cancel_at_period_end": True}
        if details:
            params["cancellation_details"] = details
        key_params = {"subscription": sub["id"], **params}
        with _stripe("subscriptions.update"):
            out = client.v1.subscriptions.update(
                sub["id"], params, _options("subscriptions.update", key_params, idempotency_key, scope)
            )
    else:
        params = {"cancellation_details": details} if details else {}
        key_params = {"subscription": sub["id"], **params}
        with _stripe("subscriptions.cancel"):
            out = client.v1.subscriptions.cancel(
                sub["id"], params, _options("subscriptions.cancel", key_params, idempotency_key, scope)
            )
    return _result(as_dict(out), tiers, created=False)


def portal_session(
    client: stripe.StripeClient,
    customer: str,
    return_url: str,
    *,
    configuration: str | None = None,
    idempotency_key: str | None = None,
    scope: str = "",
) -> PortalSession:
    """A billing-portal session where the customer manages payment methods and the subscription."""
    if not return_url.startswith(("https://", "http://")):
        raise InvalidInput("return_url must be an http(s) URL")
    cid = _require_customer(client, customer)["id"]
    params: dict[str, Any] = {"customer": cid, "return_url": return_url}
    if configuration:
        params["configuration"] = configuration
    # A portal URL is short-lived: without a caller key, do not reuse an old session.
    options = {"idempotency_key": idempotency_key} if idempotency_key else _options(
        "billing_portal.sessions.create", params, None, scope or _minute()
    )
    with _stripe("billing_portal.sessions.create"):
        session = as_dict(client.v1.billing_portal.sessions.create(params, options))
    return PortalSession(session["id"], cid, session["url"], session.get("return_url"))


def _minute() -> str:
    import time

    return str(int(time.time()) // 60)
