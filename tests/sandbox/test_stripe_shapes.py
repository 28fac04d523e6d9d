"""Every response and event of broad stripe-python flows has the shape stripe-node 23.1 declares.

The shapes come from stripe-node's TypeScript declarations (generated from Stripe's OpenAPI spec
for ``2026-10-28.endive``), derived by ``scripts/derive-stripe-shapes.py`` into
``stripe-shapes.json``: required and optional fields, nullability, enums, expandable fields and
lists, nested objects included. The flows below call every route the sandbox serves through
stripe-python 16, recording the raw JSON of each response (a recording HTTP client, so the check
sees the wire, not stripe-python's objects); then every event the account got is checked too. The
only differences allowed are those listed, with their reasons, in ``docs/sandbox.md``
("Shape differences"): a new difference fails, and so does a listed one that no longer occurs.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import stripe

from unifiedmcp.sandbox import SandboxServer, serve_in_thread
from unifiedmcp.sandbox._router import resolve, routes

from .stripe_shapes import Difference, Shapes

DOC = Path(__file__).resolve().parents[2] / "docs" / "sandbox.md"
DAY = 86400
T0 = 1_767_225_600  # 2026-01-01


class Recorder(stripe.RequestsClient):
    """stripe-python's HTTP client, keeping each response's method, path, status and body."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, str, int, bytes]] = []

    def request(self, method: str, url: str, headers: Any, post_data: Any = None) -> Any:
        content, status, resp_headers = super().request(method, url, headers, post_data)
        self.calls.append((method.upper(), urlsplit(url).path, status, content))
        return content, status, resp_headers


@dataclass
class Report:
    covered: set[tuple[str, str]] = field(default_factory=set)
    differences: dict[Difference, str] = field(default_factory=dict)  # difference -> first route showing it
    events: int = 0
    event_types: set[str] = field(default_factory=set)


def documented() -> set[Difference]:
    """The rows of the "Shape differences" table in docs/sandbox.md: ``| `where` | problem | reason |``."""
    text = DOC.read_text()
    section = text.split("### Shape differences", 1)[1].split("\n## ", 1)[0]
    return {(m.group(1), m.group(2).strip()) for m in re.finditer(r"^\| `([^`]+)` \| ([^|]+?) \|", section, re.M)}


# -- the flows ---------------------------------------------------------------------------------------
def catalog_and_customers(c: stripe.StripeClient, clock: str) -> dict[str, Any]:
    prod = c.v1.products.create({"name": "Shapes Pro", "metadata": {"tier": "pro"}})
    c.v1.products.update(prod.id, {"description": "flat"})
    c.v1.products.retrieve(prod.id)
    c.v1.products.list({"limit": 3})
    c.v1.products.search({"query": "name:'Shapes Pro'"})
    c.v1.products.delete(c.v1.products.create({"name": "Unpriced"}).id)
    flat = c.v1.prices.create({"product": prod.id, "unit_amount": 2900, "currency": "usd",
                               "recurring": {"interval": "month"}, "lookup_key": f"shapes_{clock}"})
    c.v1.prices.update(flat.id, {"nickname": "Pro monthly"})
    c.v1.prices.retrieve(flat.id, {"expand": ["tiers"]})
    c.v1.prices.list({"product": prod.id})
    c.v1.prices.search({"query": f"product:'{prod.id}'"})
    one_off = c.v1.prices.create({"product": prod.id, "unit_amount": 500, "currency": "usd"})
    meter = c.v1.billing.meters.create({"display_name": "Calls", "event_name": f"calls_{clock}",
                                        "default_aggregation": {"formula": "sum"}})
    c.v1.billing.meters.update(meter.id, {"display_name": "MCP calls"})
    c.v1.billing.meters.retrieve(meter.id)
    c.v1.billing.meters.list({"limit": 3})
    metered = c.v1.prices.create({
        "product": prod.id, "currency": "usd", "billing_scheme": "tiered", "tiers_mode": "graduated",
        "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
        "tiers": [{"up_to": 10, "unit_amount": 0}, {"up_to": "inf", "unit_amount_decimal": "0.5"}]})
    spare = c.v1.billing.meters.create({"display_name": "Spare", "event_name": f"spare_{clock}",
                                        "default_aggregation": {"formula": "count"}})
    c.v1.billing.meters.deactivate(spare.id)
    c.v1.billing.meters.reactivate(spare.id)
    cus = c.v1.customers.create({"email": f"shapes-{clock}@example.com", "name": "Shapes", "test_clock": clock,
                                 "address": {"country": "US"}})
    pm = c.v1.payment_methods.attach("pm_card_visa", {"customer": cus.id})
    c.v1.customers.update(cus.id, {"invoice_settings": {"default_payment_method": pm.id}, "metadata": {"k": "v"}})
    c.v1.customers.retrieve(cus.id)
    c.v1.customers.list({"email": cus.email})
    c.v1.customers.search({"query": f"email:'{cus.email}'"})
    c.v1.customers.payment_methods.list(cus.id)
    made = c.v1.payment_methods.create({"type": "card", "card": {"token": "tok_mastercard"}})
    c.v1.payment_methods.update(made.id, {"metadata": {"k": "v"}})
    c.v1.payment_methods.retrieve(made.id)
    c.v1.payment_methods.attach(made.id, {"customer": cus.id})
    c.v1.payment_methods.list({"customer": cus.id, "type": "card"})
    c.v1.payment_methods.detach(made.id)
    gone = c.v1.customers.create({"email": "gone@example.com"})
    c.v1.customers.delete(gone.id)
    c.v1.customers.retrieve(gone.id)
    coupon = c.v1.coupons.create({"percent_off": 10, "duration": "repeating", "duration_in_months": 3})
    c.v1.coupons.update(coupon.id, {"name": "Ten"})
    c.v1.coupons.retrieve(coupon.id)
    c.v1.coupons.list({"limit": 3})
    doomed = c.v1.coupons.create({"amount_off": 100, "currency": "usd", "duration": "once"})
    c.v1.coupons.delete(doomed.id)
    return {"product": prod, "flat": flat, "one_off": one_off, "metered": metered, "meter": meter,
            "customer": cus, "coupon": coupon}


def subscriptions_and_invoices(c: stripe.StripeClient, clock: str, k: dict[str, Any]) -> None:
    cus, flat, metered = k["customer"], k["flat"], k["metered"]
    sub = c.v1.subscriptions.create({"customer": cus.id, "items": [{"price": flat.id}, {"price": metered.id}],
                                     "discounts": [{"coupon": k["coupon"].id}],
                                     "expand": ["latest_invoice.payments", "latest_invoice.confirmation_secret",
                                                "discounts"]})
    c.v1.subscriptions.retrieve(sub.id, {"expand": ["customer", "items.data.price.product"]})
    c.v1.subscriptions.list({"customer": cus.id, "status": "all"})
    c.v1.subscriptions.search({"query": f"customer:'{cus.id}'"})
    c.v1.subscription_items.list({"subscription": sub.id})
    c.v1.billing.meter_events.create({"event_name": k["meter"].event_name, "identifier": f"{clock}-1",
                                      "payload": {"stripe_customer_id": cus.id, "value": "25"}, "timestamp": T0 + 60})
    c.v1.billing.meter_events.create({"event_name": k["meter"].event_name, "identifier": f"{clock}-2",
                                      "payload": {"stripe_customer_id": cus.id, "value": "1"}, "timestamp": T0 + 120})
    c.v1.billing.meter_event_adjustments.create({"event_name": k["meter"].event_name, "type": "cancel",
                                                 "cancel": {"identifier": f"{clock}-2"}})
    c.v1.billing.meters.event_summaries.list(k["meter"].id, {"customer": cus.id, "start_time": T0,
                                                             "end_time": T0 + 3600})
    c.v1.invoices.create_preview({"customer": cus.id, "subscription": sub.id})
    flat_item = next(i for i in sub["items"]["data"] if i.price.id == flat.id)
    c.v1.subscriptions.update(sub.id, {"items": [{"id": flat_item.id, "quantity": 2}],
                                       "proration_behavior": "create_prorations", "description": "two seats"})
    c.v1.test_helpers.test_clocks.advance(clock, {"frozen_time": T0 + 32 * DAY + 7200})
    invoices = c.v1.invoices.list({"customer": cus.id, "limit": 10})
    renewal = invoices.data[0]
    c.v1.invoices.retrieve(renewal.id, {"expand": ["payments"]})
    c.v1.invoices.line_items.list(renewal.id)
    c.v1.invoices.search({"query": f"customer:'{cus.id}'"})
    pays = c.v1.invoice_payments.list({"invoice": renewal.id})
    c.v1.invoice_payments.retrieve(pays.data[0].id)
    # a one-off invoice, through its states
    c.v1.invoice_items.create({"customer": cus.id, "pricing": {"price": k["one_off"].id}})
    draft = c.v1.invoices.create({"customer": cus.id, "auto_advance": False})
    item = c.v1.invoice_items.create({"customer": cus.id, "amount": 700, "currency": "usd", "invoice": draft.id})
    c.v1.invoice_items.update(item.id, {"description": "extra"})
    c.v1.invoice_items.retrieve(item.id)
    c.v1.invoice_items.list({"customer": cus.id})
    c.v1.invoices.update(draft.id, {"description": "one-off"})
    c.v1.invoices.finalize_invoice(draft.id)
    c.v1.invoices.send_invoice(draft.id)
    c.v1.invoices.pay(draft.id)
    other = c.v1.invoices.create({"customer": cus.id, "auto_advance": False})
    c.v1.invoice_items.create({"customer": cus.id, "amount": 300, "currency": "usd", "invoice": other.id})
    c.v1.invoices.finalize_invoice(other.id)
    c.v1.invoices.mark_uncollectible(other.id)
    c.v1.invoices.void_invoice(other.id)
    scrap = c.v1.invoices.create({"customer": cus.id, "auto_advance": False})
    loose = c.v1.invoice_items.create({"customer": cus.id, "amount": 100, "currency": "usd"})
    c.v1.invoice_items.delete(loose.id)
    c.v1.invoices.delete(scrap.id)
    c.v1.subscriptions.cancel(sub.id, {"invoice_now": True, "prorate": True})


def payments(c: stripe.StripeClient, k: dict[str, Any]) -> None:
    cus = k["customer"]
    pi = c.v1.payment_intents.create({"amount": 1500, "currency": "usd", "customer": cus.id,
                                      "allowed_payment_method_types": ["card"]})
    c.v1.payment_intents.update(pi.id, {"description": "order 1"})
    c.v1.payment_intents.confirm(pi.id, {"payment_method": "pm_card_visa"})
    c.v1.payment_intents.retrieve(pi.id)
    c.v1.payment_intents.list({"customer": cus.id})
    c.v1.payment_intents.search({"query": f"customer:'{cus.id}'"})
    declined = c.v1.payment_intents.create({"amount": 900, "currency": "usd"})
    with pytest.raises(stripe.CardError):
        c.v1.payment_intents.confirm(declined.id, {"payment_method": "pm_card_chargeCustomerFail"})
    c.v1.payment_intents.retrieve(declined.id)
    c.v1.payment_intents.cancel(declined.id)
    charge = c.v1.charges.retrieve(c.v1.payment_intents.retrieve(pi.id).latest_charge)
    c.v1.charges.update(charge.id, {"description": "order 1"})
    c.v1.charges.list({"customer": cus.id})
    c.v1.charges.search({"query": f"customer:'{cus.id}'"})
    refund = c.v1.refunds.create({"charge": charge.id, "amount": 500})
    c.v1.refunds.update(refund.id, {"metadata": {"why": "goodwill"}})
    c.v1.refunds.retrieve(refund.id)
    c.v1.refunds.list({"charge": charge.id})
    disputed = c.v1.payment_intents.create({"amount": 800, "currency": "usd", "payment_method": "pm_card_createDispute",
                                            "confirm": True})
    dispute = c.v1.disputes.list({"payment_intent": disputed.id}).data[0]
    c.v1.disputes.update(dispute.id, {"evidence": {"uncategorized_text": "more"}, "submit": False})
    c.v1.disputes.retrieve(dispute.id)
    c.v1.disputes.close(dispute.id)
    c.v1.balance.retrieve()
    txns = c.v1.balance_transactions.list({"limit": 3})
    c.v1.balance_transactions.retrieve(txns.data[0].id)


def platform(c: stripe.StripeClient, k: dict[str, Any]) -> None:
    link = c.v1.payment_links.create({"line_items": [{"price": k["flat"].id, "quantity": 1}]})
    c.v1.payment_links.update(link.id, {"metadata": {"k": "v"}})
    c.v1.payment_links.retrieve(link.id)
    c.v1.payment_links.list({"limit": 3})
    c.v1.payment_links.line_items.list(link.id)
    c.v1.billing_portal.sessions.create({"customer": k["customer"].id, "return_url": "https://example.com/back"})
    we = c.v1.webhook_endpoints.create({"url": "http://127.0.0.1:9/hook", "enabled_events": ["invoice.paid"]})
    c.v1.webhook_endpoints.update(we.id, {"description": "shapes"})
    c.v1.webhook_endpoints.retrieve(we.id)
    c.v1.webhook_endpoints.list({"limit": 3})
    c.v1.webhook_endpoints.delete(we.id)
    c.v1.accounts.retrieve_current()
    spare = c.v1.test_helpers.test_clocks.create({"frozen_time": T0, "name": "spare"})
    c.v1.test_helpers.test_clocks.retrieve(spare.id)
    c.v1.test_helpers.test_clocks.list({"limit": 3})
    c.v1.test_helpers.test_clocks.delete(spare.id)
    first = c.v1.events.list({"limit": 1}).data[0]
    c.v1.events.retrieve(first.id)


def checkout_promotions_and_portal(c: stripe.StripeClient, k: dict[str, Any]) -> None:
    promo = c.v1.promotion_codes.create({"promotion": {"type": "coupon", "coupon": k["coupon"].id}, "code": f"SHAPES{T0}",
                                         "restrictions": {"minimum_amount": 1000, "minimum_amount_currency": "usd"}})
    c.v1.promotion_codes.update(promo.id, {"metadata": {"campaign": "launch"}})
    c.v1.promotion_codes.retrieve(promo.id, {"expand": ["promotion.coupon"]})
    c.v1.promotion_codes.list({"code": promo.code})
    session = c.v1.checkout.sessions.create({
        "mode": "subscription", "success_url": "https://example.com/ok?session={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://example.com/cancel", "customer_email": "checkout-shapes@example.com",
        "line_items": [{"price": k["flat"].id, "quantity": 1}, {"price": k["metered"].id}],
        "subscription_data": {"trial_period_days": 7}, "allow_promotion_codes": True})
    c.v1.checkout.sessions.line_items.list(session.id)
    page = httpx.post(session.url, data={"payment_method": "pm_card_visa", "promotion_code": promo.code})
    assert page.status_code == 303, page.text
    done = c.v1.checkout.sessions.retrieve(session.id, {"expand": ["subscription", "line_items"]})
    c.v1.checkout.sessions.list({"customer": done.customer})
    paid = c.v1.checkout.sessions.create({"mode": "payment", "line_items": [{"price": k["one_off"].id, "quantity": 2}],
                                          "customer": k["customer"].id})
    assert httpx.post(paid.url, data={"payment_method": "pm_card_visa"}).status_code == 200
    left = c.v1.checkout.sessions.create({"mode": "payment", "line_items": [{"price": k["one_off"].id, "quantity": 1}]})
    c.v1.checkout.sessions.expire(left.id)
    sub = c.v1.subscriptions.retrieve(done.subscription.id)
    flow = c.v1.billing_portal.sessions.create({
        "customer": done.customer, "return_url": "https://example.com/account",
        "flow_data": {"type": "subscription_cancel", "subscription_cancel": {
            "subscription": sub.id, "retention": {"type": "coupon_offer", "coupon_offer": {"coupon": k["coupon"].id}}},
            "after_completion": {"type": "hosted_confirmation", "hosted_confirmation": {"custom_message": "Bye"}}}})
    assert httpx.post(flow.url, data={"action": "cancel", "subscription": sub.id}).status_code == 200
    c.v1.subscriptions.update(sub.id, {"cancel_at_period_end": False,
                                       "pause_collection": {"behavior": "mark_uncollectible", "resumes_at": T0 + 60 * DAY}})
    c.v1.subscriptions.update(sub.id, {"pause_collection": ""})


def schedules_and_setup_intents(c: stripe.StripeClient, clock: str, k: dict[str, Any]) -> None:
    cus = c.v1.customers.create({"test_clock": clock, "payment_method": "pm_card_visa",
                                 "invoice_settings": {"default_payment_method": "pm_card_visa"}})
    sub = c.v1.subscriptions.create({"customer": cus.id, "items": [{"price": k["flat"].id}, {"price": k["metered"].id}]})
    sched = c.v1.subscription_schedules.create({"from_subscription": sub.id})
    now = sched.phases[0]
    cheaper = c.v1.prices.create({"product": k["product"].id, "unit_amount": 900, "currency": "usd", "recurring": {"interval": "month"}})
    c.v1.subscription_schedules.update(sched.id, {"end_behavior": "release", "phases": [
        {"items": [{"price": k["flat"].id, "quantity": 1}, {"price": k["metered"].id}], "start_date": now.start_date,
         "end_date": now.end_date},
        {"items": [{"price": cheaper.id, "quantity": 1}, {"price": k["metered"].id}], "duration": {"interval": "month"}}]})
    c.v1.subscription_schedules.retrieve(sched.id, {"expand": ["subscription"]})
    c.v1.subscription_schedules.list({"customer": cus.id})
    c.v1.test_helpers.test_clocks.advance(clock, {"frozen_time": now.end_date + 7200})
    c.v1.subscription_schedules.release(sched.id)
    other = c.v1.subscriptions.create({"customer": cus.id, "items": [{"price": cheaper.id}]})
    c.v1.subscription_schedules.cancel(c.v1.subscription_schedules.create({"from_subscription": other.id}).id)
    seti = c.v1.setup_intents.create({"customer": cus.id, "usage": "off_session"})
    c.v1.setup_intents.update(seti.id, {"metadata": {"k": "v"}})
    c.v1.setup_intents.confirm(seti.id, {"payment_method": "pm_card_mastercard"})
    c.v1.setup_intents.retrieve(seti.id)
    c.v1.setup_intents.list({"customer": cus.id})
    failing = c.v1.setup_intents.create({"customer": cus.id})
    with pytest.raises(stripe.CardError):
        c.v1.setup_intents.confirm(failing.id, {"payment_method": "pm_card_visa_chargeDeclinedInsufficientFunds"})
    c.v1.setup_intents.retrieve(failing.id)
    c.v1.setup_intents.cancel(failing.id)


@pytest.fixture(scope="module")
def report() -> Iterator[Report]:
    shapes = Shapes()
    with serve_in_thread() as server:
        recorder = Recorder()
        c = server.client(http_client=recorder)
        clock = c.v1.test_helpers.test_clocks.create({"frozen_time": T0}).id
        kit = catalog_and_customers(c, clock)
        subscriptions_and_invoices(c, clock, kit)
        payments(c, kit)
        platform(c, kit)
        checkout_promotions_and_portal(c, kit)
        schedules_and_setup_intents(c, clock, kit)
        out = Report()
        for method, path, status, body in recorder.calls:
            found = resolve(method, path)
            assert found, (method, path)
            template = found[2]  # type: ignore[index]
            if status != 200:
                continue
            out.covered.add((method, template))
            for diff in shapes.check_response(method, template, json.loads(body)):
                out.differences.setdefault(diff, f"{method} {template}")
        http = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.api_key}"})
        after = None
        for _ in range(1000):  # every event of the account, raw, 100 per page
            page = http.get("/v1/events", params={"limit": 100, **({"starting_after": after} if after else {})}).json()
            for event in page["data"]:
                out.events += 1
                out.event_types.add(event["type"])
                for diff in shapes.check_event(event):
                    out.differences.setdefault(diff, f"event {event['type']}")
            if not page["has_more"]:
                break
            after = page["data"][-1]["id"]
        http.close()
        yield out


def test_the_flows_reach_every_route_the_sandbox_serves(report: Report) -> None:
    """Each registered route answered 200 at least once, so each was checked."""
    missing = sorted(set(routes()) - report.covered)
    assert not missing, f"routes without a checked response: {missing}"


def test_responses_and_events_differ_from_stripe_node_only_where_documented(report: Report) -> None:
    """No difference beyond the documented ones, and no documented one that no longer happens."""
    assert report.events > 50
    found = set(report.differences)
    listed = documented()
    unexpected = sorted(f"{w} | {p} | (first seen: {report.differences[(w, p)]})" for w, p in found - listed)
    stale = sorted(f"{w} | {p}" for w, p in listed - found)
    assert not unexpected and not stale, "\n".join(["undocumented:", *unexpected, "documented but not seen:", *stale])


def test_the_flows_emit_the_versions_event_types_and_no_invented_one(report: Report) -> None:
    """Events the version has and the sandbox used to miss are sent; every type sent is one of
    the version's (``payment_intent.updated``, which Stripe does not have, is never sent)."""
    declared = set(json.loads((Path(__file__).parent / "stripe-shapes.json").read_text())["event_types"])
    assert {"billing_portal.session.created", "invoice_payment.paid", "refund.updated",
            "test_helpers.test_clock.deleted", "checkout.session.completed", "checkout.session.expired",
            "promotion_code.created", "subscription_schedule.updated", "setup_intent.setup_failed"} <= report.event_types
    assert report.event_types <= declared, sorted(report.event_types - declared)


def test_invoices_and_subscriptions_have_the_current_shapes_not_the_legacy_ones(sandbox: SandboxServer) -> None:
    """2025+ shapes: an invoice names its subscription under parent (no ``subscription``,
    ``payment_intent`` or ``charge``), periods live on items, embedded lists carry no total_count."""
    c = sandbox.client()
    prod = c.v1.products.create({"name": "Legacy check"})
    price = c.v1.prices.create({"product": prod.id, "unit_amount": 1000, "currency": "usd", "recurring": {"interval": "month"}})
    cus = c.v1.customers.create({"payment_method": "pm_card_visa", "invoice_settings": {"default_payment_method": "pm_card_visa"}})
    sub = c.v1.subscriptions.create({"customer": cus.id, "items": [{"price": price.id}], "expand": ["latest_invoice"]}).to_dict()
    inv = sub["latest_invoice"]
    assert inv["parent"]["subscription_details"]["subscription"] == sub["id"]
    assert not {"subscription", "payment_intent", "charge"} & set(inv)
    line = inv["lines"]["data"][0]
    assert line["parent"]["subscription_item_details"]["subscription_item"] == sub["items"]["data"][0]["id"]
    assert line["pricing"]["price_details"]["price"] == price.id
    assert "current_period_end" not in sub and sub["items"]["data"][0]["current_period_end"] > sub["items"]["data"][0]["current_period_start"]
    assert "total_count" not in inv["lines"] and "total_count" not in sub["items"]
