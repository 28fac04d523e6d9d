"""Payment methods (Stripe's test tokens), payment intents, charges, refunds, disputes, balance."""

from __future__ import annotations

import pytest
import stripe

from unifiedmcp.sandbox import SandboxServer

DECLINE_AT_ATTACH = [
    ("pm_card_visa_chargeDeclined", "card_declined", "generic_decline"),
    ("pm_card_visa_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds"),
    ("pm_card_visa_chargeDeclinedExpiredCard", "expired_card", "expired_card"),
]


@pytest.mark.parametrize(("token", "code", "decline"), DECLINE_AT_ATTACH)
def test_declining_cards_fail_at_attach(sandbox: SandboxServer, token: str, code: str, decline: str) -> None:
    """chargeDeclined* tokens are declined when attached (Stripe validates the card then): 402."""
    client = sandbox.client()
    cus = client.v1.customers.create({})
    with pytest.raises(stripe.CardError) as exc:
        client.v1.payment_methods.attach(token, {"customer": cus.id})
    assert exc.value.http_status == 402
    assert exc.value.code == code
    assert exc.value.json_body["error"]["decline_code"] == decline
    assert client.v1.payment_methods.list({"customer": cus.id, "type": "card"}).data == []


def test_good_cards_attach_list_detach(sandbox: SandboxServer) -> None:
    """pm_card_visa / pm_card_mastercard attach as new pm_ objects with brand and last4; detach."""
    client = sandbox.client()
    cus = client.v1.customers.create({})
    visa = client.v1.payment_methods.attach("pm_card_visa", {"customer": cus.id})
    mc = client.v1.payment_methods.attach("pm_card_mastercard", {"customer": cus.id})
    assert visa.id.startswith("pm_") and visa.id != "pm_card_visa"
    assert (visa.card.brand, visa.card.last4) == ("visa", "4242")
    assert (mc.card.brand, mc.card.last4) == ("mastercard", "4444")
    listed = client.v1.payment_methods.list({"customer": cus.id, "type": "card"})
    assert [p.id for p in listed.data] == [mc.id, visa.id]
    assert [p.id for p in client.v1.customers.payment_methods.list(cus.id).data] == [mc.id, visa.id]
    client.v1.customers.update(cus.id, {"invoice_settings": {"default_payment_method": visa.id}})
    detached = client.v1.payment_methods.detach(visa.id)
    assert detached.customer is None
    assert client.v1.customers.retrieve(cus.id).invoice_settings.default_payment_method is None


def test_default_payment_method_must_belong_to_customer(sandbox: SandboxServer) -> None:
    """invoice_settings.default_payment_method with someone else's card -> 400 on that param."""
    client = sandbox.client()
    a = client.v1.customers.create({})
    b = client.v1.customers.create({})
    pm = client.v1.payment_methods.attach("pm_card_visa", {"customer": a.id})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.customers.update(b.id, {"invoice_settings": {"default_payment_method": pm.id}})
    assert exc.value.param == "invoice_settings[default_payment_method]"


def test_charge_customer_fail_attaches_then_fails_at_charge(sandbox: SandboxServer) -> None:
    """pm_card_chargeCustomerFail attaches fine; confirming a payment with it is declined and the
    intent records last_payment_error; the failed charge has outcome and failure_code."""
    client = sandbox.client()
    cus = client.v1.customers.create({})
    pm = client.v1.payment_methods.attach("pm_card_chargeCustomerFail", {"customer": cus.id})
    pi = client.v1.payment_intents.create({"amount": 1234, "currency": "usd", "customer": cus.id, "payment_method": pm.id})
    assert pi.status == "requires_confirmation"
    with pytest.raises(stripe.CardError) as exc:
        client.v1.payment_intents.confirm(pi.id)
    assert exc.value.json_body["error"]["decline_code"] == "generic_decline"
    pi = client.v1.payment_intents.retrieve(pi.id, {"expand": ["latest_charge"]})
    assert pi.status == "requires_payment_method"
    assert pi.last_payment_error.code == "card_declined"
    charge = pi.latest_charge
    assert charge.status == "failed" and charge.paid is False
    assert charge.failure_code == "card_declined"
    assert (charge.outcome.type, charge.outcome.reason, charge.outcome.network_status) == ("issuer_declined", "generic_decline", "declined_by_network")


def test_authentication_required_needs_action_on_session(sandbox: SandboxServer) -> None:
    """pm_card_authenticationRequired: on-session confirm -> requires_action; off-session -> 402
    authentication_required."""
    client = sandbox.client()
    pi = client.v1.payment_intents.create({"amount": 500, "currency": "usd", "payment_method": "pm_card_authenticationRequired", "confirm": True})
    assert pi.status == "requires_action" and pi.next_action.type == "use_stripe_sdk"
    cus = client.v1.customers.create({})
    pm = client.v1.payment_methods.attach("pm_card_authenticationRequired", {"customer": cus.id})
    with pytest.raises(stripe.CardError) as exc:
        client.v1.payment_intents.create({"amount": 500, "currency": "usd", "customer": cus.id, "payment_method": pm.id, "confirm": True, "off_session": True})
    assert exc.value.code == "authentication_required"


def test_payment_intent_list_search_and_balance(fresh_sandbox: SandboxServer) -> None:
    """Succeeded intents feed charges, balance transactions (fee 2.9% + 30) and the balance."""
    client = fresh_sandbox.client()
    pi = client.v1.payment_intents.create({"amount": 10000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True, "metadata": {"order": "42"}})
    assert pi.status == "succeeded" and pi.amount_received == 10000
    assert [p.id for p in client.v1.payment_intents.list().data] == [pi.id]
    assert [p.id for p in client.v1.payment_intents.search({"query": "metadata['order']:'42' AND amount>9999"}).data] == [pi.id]
    charge = client.v1.charges.retrieve(pi.latest_charge, {"expand": ["balance_transaction"]})
    txn = charge.balance_transaction
    assert (txn.amount, txn.fee, txn.net, txn.type) == (10000, 320, 9680, "charge")
    bal = client.v1.balance.retrieve()
    assert sum(b.amount for b in bal.pending) + sum(b.amount for b in bal.available) == 9680
    assert [t.id for t in client.v1.balance_transactions.list({"type": "charge"}).data] == [txn.id]


def test_refunds_partial_full_and_too_much(sandbox: SandboxServer) -> None:
    """Partial refund, then the rest; refunding more than remains -> 400; charge.refunded."""
    client = sandbox.client()
    pi = client.v1.payment_intents.create({"amount": 1000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True})
    r1 = client.v1.refunds.create({"payment_intent": pi.id, "amount": 300})
    assert (r1.amount, r1.status, r1.charge) == (300, "succeeded", pi.latest_charge)
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.refunds.create({"charge": pi.latest_charge, "amount": 800})
    assert exc.value.param == "amount"
    r2 = client.v1.refunds.create({"charge": pi.latest_charge})
    assert r2.amount == 700
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert charge.amount_refunded == 1000 and charge.refunded is True
    assert [r.id for r in client.v1.refunds.list({"charge": charge.id}).data] == [r2.id, r1.id]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.refunds.create({"charge": charge.id})


def test_dispute_card_opens_dispute_which_can_be_won(sandbox: SandboxServer) -> None:
    """pm_card_createDispute: the charge succeeds and is disputed (needs_response); submitting
    Stripe's "winning_evidence" text wins it; list/update work."""
    client = sandbox.client()
    pi = client.v1.payment_intents.create({"amount": 2500, "currency": "usd", "payment_method": "pm_card_createDispute", "confirm": True})
    assert pi.status == "succeeded"
    disputes = client.v1.disputes.list({"charge": pi.latest_charge}).data
    assert len(disputes) == 1
    d = disputes[0]
    assert (d.status, d.amount, d.reason) == ("needs_response", 2500, "fraudulent")
    assert client.v1.charges.retrieve(pi.latest_charge).disputed is True
    d = client.v1.disputes.update(d.id, {"evidence": {"uncategorized_text": "winning_evidence"}, "metadata": {"case": "1"}})
    assert d.status == "won" and d.metadata.case == "1"
    types = [e.type for e in client.v1.events.list({"type": "charge.dispute.*", "limit": 10}).data if e.data.object.id == d.id]
    assert types == ["charge.dispute.closed", "charge.dispute.updated", "charge.dispute.created"]
