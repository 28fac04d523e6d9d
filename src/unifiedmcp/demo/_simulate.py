"""A believable SaaS on the sandbox: sign-ups, trials, upgrades and downgrades, coupons, card
failures of several kinds (generic declines, 3-D Secure required on renewals, insufficient funds
and expired cards tried during dunning) and recoveries, voluntary and involuntary churn, driven
through one test clock, one day at a time.

The catalog is the product's own (``billing.ensure_catalog``: each paid tier's flat monthly price
and its metered overage price on the MCP-calls meter) plus yearly plans; monthly subscriptions
carry both items, so their renewals bill the past month's overage. Yearly plans bill no overage
(Stripe keeps every item of a subscription on one interval). Actions happen at the start of
their day, so billing periods and price changes fall on day boundaries: the usage pushed per
customer and day is then exactly attributed to its period.

Every decision comes from ``random.Random(seed)``, so a seed always gives the same history (object
ids differ; the numbers do not).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import stripe

from ..billing import ensure_catalog
from ..ledger import Ledger

__all__ = ["Catalog", "Customer", "PLANS", "plan_customers", "planned_actions", "run_history"]

DAY = 86_400

# The default card starts failing on renewals: a generic decline, or 3-D Secure required (renewals
# are off-session, so they fail with authentication_required).
FAILING_CARDS = {"generic": "pm_card_chargeCustomerFail", "3ds": "pm_card_authenticationRequired"}
# Cards a customer tries during dunning that are declined at once (Stripe's test tokens; the
# sandbox has no do-not-honor card, so that reason never shows here).
DECLINED_CARDS = ("pm_card_chargeDeclinedInsufficientFunds", "pm_card_chargeDeclinedExpiredCard")

# plan key -> (tier, unit_amount in cents, interval, lookup key)
PLANS: dict[str, tuple[str, int, str, str]] = {
    "pro_monthly": ("pro", 2_900, "month", "pro_monthly"),
    "pro_yearly": ("pro", 29_000, "year", "pro_yearly"),
    "enterprise_monthly": ("enterprise", 29_900, "month", "enterprise_monthly"),
    "enterprise_yearly": ("enterprise", 299_000, "year", "enterprise_yearly"),
}


@dataclass
class Customer:
    """One simulated customer: what happens to it and when (days from the start)."""

    n: int
    signup_day: float
    plan: str | None  # None: stays on the free tier
    trial: bool = False
    coupon: str | None = None  # "WELCOME20" (20 % off, 3 months) or "FRIENDS100" (100 % off)
    upgrade_day: float | None = None
    downgrade_day: float | None = None  # enterprise -> pro (after an upgrade, or from the start)
    card_fails_day: float | None = None  # the default card starts failing
    card_failure: str = "generic"  # a key of FAILING_CARDS
    tries_card: str | None = None  # a DECLINED_CARDS token tried a few days into dunning
    recover_after: float | None = None  # days after failing: a working card is added (None: never)
    cancel_day: float | None = None
    cancel_at_period_end: bool = False
    usage_level: float = 1.0  # multiplies the tier's typical monthly calls
    id: str = ""
    subscription: str = ""
    item: str = ""
    metered_item: str = ""  # the overage item (monthly plans)
    events: list[tuple[float, str]] = field(default_factory=list)


def plan_customers(rng: random.Random, *, customers: int, days: int) -> list[Customer]:
    """Draw the customers and their life events."""
    out = []
    for n in range(customers):
        signup = rng.uniform(0, days * 0.95)
        r = rng.random()
        plan = ("pro_monthly" if r < 0.42 else "pro_yearly" if r < 0.52 else "enterprise_monthly" if r < 0.67
                else "enterprise_yearly" if r < 0.72 else None)
        c = Customer(n=n, signup_day=signup, plan=plan, usage_level=rng.lognormvariate(0, 0.45))
        if plan is not None:
            c.trial = rng.random() < 0.3
            c.coupon = "WELCOME20" if rng.random() < 0.12 else "FRIENDS100" if rng.random() < 0.04 else None
            rest = days - signup
            if plan == "pro_monthly" and rng.random() < 0.2:
                c.upgrade_day = signup + rng.uniform(20, max(21, rest))
                if rng.random() < 0.35:  # some step back down later
                    c.downgrade_day = c.upgrade_day + rng.uniform(25, 60)
            if plan == "enterprise_monthly" and rng.random() < 0.3:
                c.downgrade_day = signup + rng.uniform(20, max(21, rest))
            if plan.endswith("monthly") and rng.random() < 0.2:
                # the card starts failing two days before a renewal; half the customers fix it
                # during dunning (retries 3, 5 and 7 days apart), the others churn involuntarily
                first_bill = signup + (14 if c.trial else 0)
                cycles = max(1, int(rest // 30))
                c.card_fails_day = first_bill + 30.4 * rng.randint(1, cycles) - 2
                c.recover_after = rng.uniform(5, 12) if rng.random() < 0.5 else None
                c.card_failure = "3ds" if rng.random() < 0.3 else "generic"
                c.tries_card = rng.choice(DECLINED_CARDS) if rng.random() < 0.6 else None
            if rng.random() < 0.18:
                c.cancel_day = signup + rng.uniform(15, max(16, rest))
                c.cancel_at_period_end = rng.random() < 0.5
            if rng.random() < 0.12:
                c.usage_level *= 3.0  # a heavy user: near or over the limit
        out.append(c)
    return sorted(out, key=lambda c: c.signup_day)


@dataclass
class Catalog:
    prices: dict[str, str]  # plan key -> price id
    metered: dict[str, str]  # tier -> its overage price id
    coupons: dict[str, str]


def create_catalog(client: stripe.StripeClient, *, ledger: Ledger | None = None) -> Catalog:
    """The product's catalog (recorded in ``ledger``: the prices that grant a tier), yearly plans
    on the same products, and the demo's coupons."""
    entries = ensure_catalog(client, ledger=ledger)
    prices = {e.lookup_key: e.price_id for e in entries if not e.metered}
    metered = {e.tier: e.price_id for e in entries if e.metered}
    products = {e.tier: e.product_id for e in entries}
    for key, (tier, amount, interval, _) in PLANS.items():
        if key in prices:
            continue  # the product's monthly plans: ensure_catalog made them
        prices[key] = client.v1.prices.create({
            "product": products[tier], "unit_amount": amount, "currency": "usd",
            "recurring": {"interval": interval}, "lookup_key": key, "metadata": {"tier": tier},
        }).id
    coupons = {
        "WELCOME20": client.v1.coupons.create({"percent_off": 20, "duration": "repeating",
                                               "duration_in_months": 3, "name": "Welcome 20%"}).id,
        "FRIENDS100": client.v1.coupons.create({"percent_off": 100, "duration": "forever",
                                                "name": "Friends and family"}).id,
    }
    return Catalog(prices, metered, coupons)


def _actions(people: list[Customer]) -> list[tuple[float, int, str, Customer]]:
    acts: list[tuple[float, int, str, Customer]] = []
    for c in people:
        acts.append((c.signup_day, 0, "signup", c))
        if c.plan is None:
            continue
        for day, order, name in ((c.upgrade_day, 1, "upgrade"), (c.downgrade_day, 1, "downgrade"),
                                 (c.card_fails_day, 2, "card_fails"), (c.cancel_day, 4, "cancel")):
            if day is not None:
                acts.append((day, order, name, c))
        if c.card_fails_day is not None and c.tries_card is not None:
            acts.append((c.card_fails_day + 3.5, 3, "try_card", c))  # after the renewal failed
        if c.card_fails_day is not None and c.recover_after is not None:
            acts.append((c.card_fails_day + c.recover_after, 3, "recover", c))
    return sorted(acts, key=lambda a: (a[0], a[1], a[3].n))


def planned_actions(people: list[Customer], *, start: int, end: int) -> list[tuple[float, int, str, Customer]]:
    """The actions :func:`run_history` plays, in order: those that fall before ``end``."""
    return [a for a in _actions(people) if start + int(a[0]) * DAY < end]


def run_history(
    client: stripe.StripeClient,
    *,
    people: list[Customer],
    start: int,
    end: int,
    ledger: Ledger | None = None,
    tick: Callable[[str], None] = lambda _: None,
    on_day: Callable[[int], None] = lambda _: None,
) -> dict[str, Any]:
    """Create a test clock at ``start`` (a day's start) and play the history day by day up to
    ``end``: each day the clock advances to its start (renewals, retries), the day's actions run,
    then ``on_day(day_start)`` (the demo meters and pushes the day's calls there)."""
    catalog = create_catalog(client, ledger=ledger)
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": start, "name": "UnifiedMCP demo"})
    skipped = 0
    by_day: dict[int, list[tuple[float, int, str, Customer]]] = {}
    for act in planned_actions(people, start=start, end=end):
        by_day.setdefault(int(act[0]), []).append(act)
    for index, day in enumerate(range(start, end, DAY)):
        if day > start:
            client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": day})
        for _, _, action, c in by_day.get(index, []):
            tick(action)
            try:
                _apply(client, catalog, clock.id, c, action)
            except stripe.InvalidRequestError:
                skipped += 1  # e.g. the subscription ended already (dunning got there first)
        on_day(day)
    client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": end})
    return {"clock": clock.id, "catalog": catalog, "skipped_actions": skipped}


def _apply(client: stripe.StripeClient, catalog: Catalog, clock: str, c: Customer, action: str) -> None:
    subs = client.v1.subscriptions
    if action == "signup":
        cus = client.v1.customers.create({
            "email": f"customer{c.n:04d}@example.com", "name": f"Customer {c.n:04d}", "test_clock": clock,
            "payment_method": "pm_card_visa", "invoice_settings": {"default_payment_method": "pm_card_visa"},
            "metadata": {"demo_n": str(c.n)},
        })
        c.id = cus.id
        if c.plan is None:
            return
        items = [{"price": catalog.prices[c.plan]}]
        if c.plan in ("pro_monthly", "enterprise_monthly"):
            items.append({"price": catalog.metered[PLANS[c.plan][0]]})
        params: dict[str, Any] = {"customer": cus.id, "items": items}
        if c.trial:
            params["trial_period_days"] = 14
        if c.coupon:
            params["discounts"] = [{"coupon": catalog.coupons[c.coupon]}]
        sub = subs.create(params)
        c.subscription, c.item = sub.id, sub["items"].data[0].id
        c.metered_item = sub["items"].data[1].id if len(sub["items"].data) > 1 else ""
    elif action in ("upgrade", "downgrade"):
        target = "enterprise_monthly" if action == "upgrade" else "pro_monthly"
        changes = [{"id": c.item, "price": catalog.prices[target]}]
        if c.metered_item:  # the overage moves with the plan: usage so far stays at the old price
            changes.append({"id": c.metered_item, "price": catalog.metered[PLANS[target][0]]})
        subs.update(c.subscription, {"items": changes, "proration_behavior": "create_prorations"})
    elif action == "card_fails":
        pm = client.v1.payment_methods.attach(FAILING_CARDS[c.card_failure], {"customer": c.id})
        client.v1.customers.update(c.id, {"invoice_settings": {"default_payment_method": pm.id}})
    elif action == "try_card":
        for inv in client.v1.invoices.list({"customer": c.id, "status": "open", "limit": 10}).data:
            try:
                client.v1.invoices.pay(inv.id, {"payment_method": c.tries_card})
            except stripe.CardError:
                pass  # declined, as it should: a failed charge with its reason
    elif action == "recover":
        pm = client.v1.payment_methods.attach("pm_card_mastercard", {"customer": c.id})
        client.v1.customers.update(c.id, {"invoice_settings": {"default_payment_method": pm.id}})
        for inv in client.v1.invoices.list({"customer": c.id, "status": "open", "limit": 10}).data:
            try:
                client.v1.invoices.pay(inv.id, {"payment_method": pm.id})
            except stripe.CardError:
                pass
    elif action == "cancel":
        if c.cancel_at_period_end:
            subs.update(c.subscription, {"cancel_at_period_end": True})
        else:
            subs.cancel(c.subscription, {"cancellation_details": {"feedback": "too_expensive"}})
