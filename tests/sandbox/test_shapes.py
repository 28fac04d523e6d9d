"""Every resource the sandbox returns has exactly the top-level keys of Stripe's own fixture.

The reference is Stripe's published ``openapi/fixtures3.json`` (a copy sits next to this file).
Raw HTTP is used here so that the keys are the wire keys, untouched by stripe-python.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from unifiedmcp.sandbox import SandboxServer

FIXTURES = json.loads((Path(__file__).with_name("stripe-openapi-fixtures3.json")).read_text())["resources"]


@pytest.fixture(scope="module")
def objects(sandbox_server: SandboxServer) -> dict[str, dict[str, Any]]:
    """One object of every resource, fetched as raw JSON."""
    sb = sandbox_server
    http = httpx.Client(base_url=sb.url, headers={"Authorization": f"Bearer {sb.api_key}"})

    def call(method: str, path: str, **data: Any) -> dict[str, Any]:
        r = http.request(method, path, data=data or None)
        assert r.status_code == 200, r.text
        return r.json()

    out: dict[str, dict[str, Any]] = {}
    clock = call("POST", "/v1/test_helpers/test_clocks", frozen_time="1767225600")
    cus = call("POST", "/v1/customers", email="shape@example.com", test_clock=clock["id"])
    pm = call("POST", "/v1/payment_methods/pm_card_visa/attach", customer=cus["id"])
    call("POST", f"/v1/customers/{cus['id']}", **{"invoice_settings[default_payment_method]": pm["id"]})
    prod = call("POST", "/v1/products", name="Shape")
    price = call("POST", "/v1/prices", product=prod["id"], unit_amount="1000", currency="usd", **{"recurring[interval]": "month"})
    coupon = call("POST", "/v1/coupons", percent_off="10", duration="forever")
    sub = call("POST", "/v1/subscriptions", customer=cus["id"], **{"items[0][price]": price["id"], "discounts[0][coupon]": coupon["id"], "expand[0]": "discounts"})
    inv = call("GET", f"/v1/invoices/{sub['latest_invoice']}")
    pi_charge = call("POST", "/v1/payment_intents", amount="500", currency="usd", payment_method="pm_card_createDispute", confirm="true")
    charge = call("GET", f"/v1/charges/{pi_charge['latest_charge']}")
    refund_pi = call("POST", "/v1/payment_intents", amount="500", currency="usd", payment_method="pm_card_visa", confirm="true")
    we = call("POST", "/v1/webhook_endpoints", url="http://127.0.0.1:9/hook", **{"enabled_events[0]": "*"})
    meter = call("POST", "/v1/billing/meters", display_name="Shape", event_name=f"shape_{clock['id']}",
                 **{"default_aggregation[formula]": "sum"})
    usage = {"event_name": meter["event_name"], "payload[stripe_customer_id]": cus["id"], "payload[value]": "3"}
    meter_event = call("POST", "/v1/billing/meter_events", identifier=f"shape-{clock['id']}", **usage)
    start = int(clock["frozen_time"]) - 3600
    out.update(
        {
            "customer": call("GET", f"/v1/customers/{cus['id']}"),
            "payment_method": pm,
            "product": prod,
            "price": price,
            "coupon": coupon,
            "discount": sub["discounts"][0],
            "subscription": {k: v for k, v in sub.items()},
            "subscription_item": sub["items"]["data"][0],
            "plan": sub["items"]["data"][0]["plan"],
            "invoice": inv,
            "line_item": inv["lines"]["data"][0],
            "invoice_payment": call("GET", "/v1/invoice_payments", invoice=inv["id"])["data"][0],
            "payment_intent": pi_charge,
            "charge": charge,
            "refund": call("POST", "/v1/refunds", payment_intent=refund_pi["id"]),
            "dispute": call("GET", "/v1/disputes", charge=charge["id"])["data"][0],
            "balance": call("GET", "/v1/balance"),
            "balance_transaction": call("GET", f"/v1/balance_transactions/{charge['balance_transaction']}"),
            "event": call("GET", "/v1/events", limit="1")["data"][0],
            "webhook_endpoint": call("GET", f"/v1/webhook_endpoints/{we['id']}"),
            "test_helpers.test_clock": call("GET", f"/v1/test_helpers/test_clocks/{clock['id']}"),
            "payment_link": call("POST", "/v1/payment_links", **{"line_items[0][price]": price["id"], "line_items[0][quantity]": "1"}),
            "billing_portal.session": call("POST", "/v1/billing_portal/sessions", customer=cus["id"]),
            "account": call("GET", "/v1/account"),
            "invoiceitem": call("POST", "/v1/invoiceitems", customer=cus["id"], amount="100", currency="usd"),
            "deleted_customer": call("DELETE", f"/v1/customers/{call('POST', '/v1/customers')['id']}"),
            "billing.meter": meter,
            "billing.meter_event": meter_event,
            "billing.meter_event_adjustment": call(
                "POST", "/v1/billing/meter_event_adjustments", event_name=meter["event_name"], type="cancel",
                **{"cancel[identifier]": meter_event["identifier"]}),
            "billing.meter_event_summary": call(
                "GET", f"/v1/billing/meters/{meter['id']}/event_summaries", customer=cus["id"], start_time=str(start),
                end_time=str(start + 7200))["data"][0],
        }
    )
    call("DELETE", f"/v1/webhook_endpoints/{we['id']}")
    http.close()
    return out


RESOURCES = [
    "customer", "deleted_customer", "payment_method", "product", "price", "coupon", "discount", "subscription",
    "subscription_item", "plan", "invoice", "line_item", "invoice_payment", "payment_intent", "charge", "refund",
    "dispute", "balance", "balance_transaction", "event", "webhook_endpoint", "test_helpers.test_clock",
    "payment_link", "billing_portal.session", "account", "invoiceitem",
    "billing.meter", "billing.meter_event", "billing.meter_event_adjustment", "billing.meter_event_summary",
]


@pytest.mark.parametrize("resource", RESOURCES)
def test_top_level_keys_match_stripe_fixture(objects: dict[str, dict[str, Any]], resource: str) -> None:
    """Top-level keys of the sandbox's object == keys of Stripe's fixture for that resource."""
    got = set(objects[resource])
    want = set(FIXTURES[resource])
    assert got == want, f"missing {sorted(want - got)}, extra {sorted(got - want)}"
    if "object" in want:
        assert objects[resource]["object"] == FIXTURES[resource]["object"]


def test_current_api_shapes_not_legacy(objects: dict[str, dict[str, Any]]) -> None:
    """The 2025+ shapes: invoices link subscriptions through parent, periods live on items."""
    inv = objects["invoice"]
    assert inv["parent"]["type"] == "subscription_details"
    assert inv["parent"]["subscription_details"]["subscription"] == objects["subscription"]["id"]
    assert "payment_intent" not in inv and "charge" not in inv
    line = objects["line_item"]
    assert line["parent"]["subscription_item_details"]["subscription_item"] == objects["subscription_item"]["id"]
    assert line["pricing"]["price_details"]["price"] == objects["price"]["id"]
    assert "current_period_end" not in objects["subscription"]
    assert objects["subscription_item"]["current_period_end"] > objects["subscription_item"]["current_period_start"]
    assert objects["invoice_payment"]["payment"]["payment_intent"]
