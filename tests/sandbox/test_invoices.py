"""One-off invoices and invoice items: finalize, pay, void, mark_uncollectible, lines, search."""

from __future__ import annotations

import pytest
import stripe

from unifiedmcp.sandbox import SandboxServer

from .helpers import customer_with_card


def _draft(client: stripe.StripeClient, cus: str) -> stripe.Invoice:
    inv = client.v1.invoices.create({"customer": cus, "description": "consulting"})
    client.v1.invoice_items.create({"customer": cus, "invoice": inv.id, "amount": 5000, "currency": "usd", "description": "Setup"})
    client.v1.invoice_items.create({"customer": cus, "invoice": inv.id, "amount": 2500, "currency": "usd", "description": "Extra"})
    return client.v1.invoices.retrieve(inv.id)


def test_one_off_invoice_finalize_and_pay(sandbox: SandboxServer) -> None:
    """Items on a draft add up; finalize -> open with a number; pay -> paid through a charge."""
    client = sandbox.client()
    cus = customer_with_card(client)
    inv = _draft(client, cus.id)
    assert (inv.status, inv.total, inv.amount_due) == ("draft", 7500, 7500)
    lines = client.v1.invoices.line_items.list(inv.id)
    assert [l.amount for l in lines.data] == [5000, 2500]
    assert lines.data[0].parent.type == "invoice_item_details"
    inv = client.v1.invoices.finalize_invoice(inv.id)
    assert inv.status == "open" and inv.number is not None and inv.status_transitions.finalized_at
    inv = client.v1.invoices.pay(inv.id, {"expand": ["payments.data.payment.payment_intent"]})
    assert inv.status == "paid" and inv.amount_paid == 7500 and inv.amount_remaining == 0
    pi = inv.payments.data[0].payment.payment_intent
    assert pi.status == "succeeded" and pi.amount == 7500
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.void_invoice(inv.id)


def test_pay_with_failing_card_is_402_and_invoice_stays_open(sandbox: SandboxServer) -> None:
    """invoices.pay with a declining card -> 402 card_error; the invoice stays open, attempted."""
    client = sandbox.client()
    cus = customer_with_card(client, "pm_card_chargeCustomerFail")
    inv = client.v1.invoices.finalize_invoice(_draft(client, cus.id).id)
    with pytest.raises(stripe.CardError):
        client.v1.invoices.pay(inv.id)
    inv = client.v1.invoices.retrieve(inv.id)
    assert inv.status == "open" and inv.attempted is True and inv.attempt_count == 1
    inv = client.v1.invoices.pay(inv.id, {"payment_method": "pm_card_visa"})
    assert inv.status == "paid"


def test_void_and_mark_uncollectible(sandbox: SandboxServer) -> None:
    """void: open -> void; mark_uncollectible: open -> uncollectible, which can still be paid."""
    client = sandbox.client()
    cus = customer_with_card(client)
    a = client.v1.invoices.finalize_invoice(_draft(client, cus.id).id)
    b = client.v1.invoices.finalize_invoice(_draft(client, cus.id).id)
    a = client.v1.invoices.void_invoice(a.id)
    assert a.status == "void" and a.status_transitions.voided_at
    b = client.v1.invoices.mark_uncollectible(b.id)
    assert b.status == "uncollectible"
    b = client.v1.invoices.pay(b.id, {"paid_out_of_band": True})
    assert b.status == "paid"
    statuses = {i.id: i.status for i in client.v1.invoices.list({"customer": cus.id}).data}
    assert statuses == {a.id: "void", b.id: "paid"}
    assert [i.id for i in client.v1.invoices.list({"customer": cus.id, "status": "void"}).data] == [a.id]


def test_pending_items_join_the_next_invoice_and_drafts_delete(sandbox: SandboxServer) -> None:
    """Pending invoice items are pulled in with pending_invoice_items_behavior=include; a draft
    can be deleted (its items become pending again)."""
    client = sandbox.client()
    cus = client.v1.customers.create({})
    ii = client.v1.invoice_items.create({"customer": cus.id, "amount": 900, "currency": "usd"})
    assert ii.invoice is None
    inv = client.v1.invoices.create({"customer": cus.id, "pending_invoice_items_behavior": "include"})
    assert inv.total == 900
    assert client.v1.invoice_items.retrieve(ii.id).invoice == inv.id
    assert client.v1.invoices.delete(inv.id).deleted is True
    assert client.v1.invoice_items.retrieve(ii.id).invoice is None
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoices.retrieve(inv.id)
    assert exc.value.http_status == 404


def test_invoice_search(sandbox: SandboxServer) -> None:
    """invoices.search by customer and status, with total comparisons."""
    client = sandbox.client()
    cus = customer_with_card(client)
    inv = client.v1.invoices.pay(_draft(client, cus.id).id)
    res = client.v1.invoices.search({"query": f"customer:'{cus.id}' AND status:'paid' AND total>=7500"})
    assert [i.id for i in res.data] == [inv.id]
    assert client.v1.invoices.search({"query": f"customer:'{cus.id}' AND total<100"}).data == []


def test_decimal_invoice_items_round_half_up_once_for_the_line(sandbox: SandboxServer) -> None:
    """unit_amount_decimal × quantity is rounded half up at the line (Stripe's decimal-amounts
    rule): 0.5 × 3 = 1.5 -> 2 and 0.25 × 2 = 0.5 -> 1 (not truncated per unit, not to even);
    a price with a decimal unit amount bills the same way."""
    client = sandbox.client()
    cus = client.v1.customers.create({})
    three = client.v1.invoice_items.create({"customer": cus.id, "currency": "usd", "unit_amount_decimal": "0.5", "quantity": 3})
    assert (three.amount, str(three.pricing.unit_amount_decimal)) == (2, "0.5")
    two = client.v1.invoice_items.create({"customer": cus.id, "currency": "usd", "unit_amount_decimal": "0.25", "quantity": 2})
    assert two.amount == 1
    prod = client.v1.products.create({"name": "Sub-cent"})
    price = client.v1.prices.create({"product": prod.id, "currency": "usd", "unit_amount_decimal": "0.05"})
    assert client.v1.invoice_items.create({"customer": cus.id, "pricing": {"price": price.id}, "quantity": 30}).amount == 2
