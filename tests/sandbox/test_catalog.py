"""Customers, products, prices, coupons, payment links, billing portal, account."""

from __future__ import annotations

import httpx
import pytest
import stripe

from unifiedmcp.sandbox import SandboxServer


def test_deleted_customer_retrieves_as_tombstone(sandbox: SandboxServer) -> None:
    """Deleting a customer cancels its subscriptions; retrieve then returns {id, object, deleted}."""
    client = sandbox.client()
    cus = client.v1.customers.create({"email": "gone@example.com", "payment_method": "pm_card_visa",
                                      "invoice_settings": {"default_payment_method": "pm_card_visa"}})
    prod = client.v1.products.create({"name": "x"})
    price = client.v1.prices.create({"product": prod.id, "unit_amount": 100, "currency": "usd", "recurring": {"interval": "month"}})
    sub = client.v1.subscriptions.create({"customer": cus.id, "items": [{"price": price.id}]})
    deleted = client.v1.customers.delete(cus.id)
    assert deleted.to_dict() == {"id": cus.id, "object": "customer", "deleted": True}
    assert client.v1.customers.retrieve(cus.id).to_dict() == {"id": cus.id, "object": "customer", "deleted": True}
    assert client.v1.subscriptions.retrieve(sub.id).status == "canceled"
    assert cus.id not in [c.id for c in client.v1.customers.list({"email": "gone@example.com"}).data]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.update(cus.id, {"name": "zombie"})


def test_customer_search_and_metadata_unset(sandbox: SandboxServer) -> None:
    """search by email/metadata/name substring; metadata keys posted empty are removed."""
    client = sandbox.client()
    tag = "s" + client.v1.customers.create({}).id[-8:].lower()
    a = client.v1.customers.create({"email": f"{tag}@example.com", "name": "Ada Lovelace", "metadata": {"plan": "pro", "tag": tag}})
    b = client.v1.customers.create({"email": f"{tag}-b@example.com", "name": "Bob", "metadata": {"plan": "free", "tag": tag}})
    assert [c.id for c in client.v1.customers.search({"query": f"email:'{tag}@example.com'"}).data] == [a.id]
    assert [c.id for c in client.v1.customers.search({"query": f"metadata['tag']:'{tag}' AND -metadata['plan']:'free'"}).data] == [a.id]
    assert [c.id for c in client.v1.customers.search({"query": f"metadata['tag']:'{tag}' AND name~'ovel'"}).data] == [a.id]
    assert {c.id for c in client.v1.customers.search({"query": f"email:'{tag}@example.com' OR email:'{tag}-b@example.com'"}).data} == {a.id, b.id}
    updated = client.v1.customers.update(a.id, {"metadata": {"plan": ""}})
    assert updated.metadata.to_dict() == {"tag": tag}


def test_search_pagination_and_errors(fresh_sandbox: SandboxServer) -> None:
    """Search pages with next_page; unsupported fields and malformed queries are 400s."""
    client = fresh_sandbox.client()
    ids = [client.v1.customers.create({"metadata": {"batch": "p"}}).id for _ in range(5)]
    page = client.v1.customers.search({"query": "metadata['batch']:'p'", "limit": 2})
    assert page.has_more is True and page.next_page
    seen = [c.id for c in page.data]
    while page.has_more:
        page = client.v1.customers.search({"query": "metadata['batch']:'p'", "limit": 2, "page": page.next_page})
        seen += [c.id for c in page.data]
    assert seen == list(reversed(ids))
    assert [c.id for c in client.v1.customers.search({"query": "metadata['batch']:'p'"}).auto_paging_iter()] == list(reversed(ids))
    for bad in ("colour:'red'", "email:'a' AND name:'b' OR phone:'c'", "email:", "name~'ab'"):
        with pytest.raises(stripe.InvalidRequestError) as exc:
            client.v1.customers.search({"query": bad})
        assert exc.value.param == "query", bad
    assert client.v1.customers.search({"query": "email:null"}).data[0].id == ids[-1]


def test_prices_filters_and_lookup_keys(fresh_sandbox: SandboxServer) -> None:
    """prices.list filters on product, active, lookup_keys; a lookup_key is unique unless transferred."""
    client = fresh_sandbox.client()
    p1 = client.v1.products.create({"name": "Pro", "metadata": {"tier": "pro"}})
    p2 = client.v1.products.create({"name": "Team"})
    a = client.v1.prices.create({"product": p1.id, "unit_amount": 2000, "currency": "usd", "recurring": {"interval": "month"}, "lookup_key": "pro_monthly", "metadata": {"tier": "pro"}})
    b = client.v1.prices.create({"product": p1.id, "unit_amount": 20000, "currency": "usd", "recurring": {"interval": "year"}, "lookup_key": "pro_yearly"})
    c = client.v1.prices.create({"product": p2.id, "unit_amount": 500, "currency": "usd"})
    assert c.type == "one_time" and a.type == "recurring" and a.recurring.interval == "month"
    assert [p.id for p in client.v1.prices.list({"product": p1.id}).data] == [b.id, a.id]
    assert [p.id for p in client.v1.prices.list({"lookup_keys": ["pro_monthly"]}).data] == [a.id]
    client.v1.prices.update(b.id, {"active": False})
    assert [p.id for p in client.v1.prices.list({"active": True, "product": p1.id}).data] == [a.id]
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.prices.create({"product": p2.id, "unit_amount": 1, "currency": "usd", "lookup_key": "pro_monthly"})
    assert exc.value.param == "lookup_key"
    moved = client.v1.prices.create({"product": p2.id, "unit_amount": 1, "currency": "usd", "lookup_key": "pro_monthly", "transfer_lookup_key": True})
    assert [p.id for p in client.v1.prices.list({"lookup_keys": ["pro_monthly"]}).data] == [moved.id]
    assert [p.id for p in client.v1.prices.search({"query": "metadata['tier']:'pro'"}).data] == [a.id]
    assert [p.id for p in client.v1.products.search({"query": "name:'Pro'"}).data] == [p1.id]
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.subscriptions.create({"customer": client.v1.customers.create({}).id, "items": [{"price": c.id}]})
    assert exc.value.param == "items[0][price]"


def test_coupons_validation_and_limits(sandbox: SandboxServer) -> None:
    """percent_off / amount_off coupons; max_redemptions is enforced; delete."""
    client = sandbox.client()
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.coupons.create({"duration": "once"})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.coupons.create({"percent_off": 10, "duration": "repeating"})
    assert exc.value.param == "duration_in_months"
    co = client.v1.coupons.create({"amount_off": 500, "currency": "usd", "duration": "once", "max_redemptions": 1})
    assert (co.amount_off, co.valid, co.times_redeemed) == (500, True, 0)
    prod = client.v1.products.create({"name": "c"})
    price = client.v1.prices.create({"product": prod.id, "unit_amount": 800, "currency": "usd", "recurring": {"interval": "month"}})
    cus = client.v1.customers.create({"payment_method": "pm_card_visa", "invoice_settings": {"default_payment_method": "pm_card_visa"}})
    sub = client.v1.subscriptions.create({"customer": cus.id, "items": [{"price": price.id}], "discounts": [{"coupon": co.id}], "expand": ["latest_invoice"]})
    assert sub.latest_invoice.total == 300
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.create({"customer": cus.id, "items": [{"price": price.id}], "discounts": [{"coupon": co.id}]})
    assert client.v1.coupons.delete(co.id).deleted is True


def test_payment_links(sandbox: SandboxServer) -> None:
    """Payment links: create with line items, list line items, deactivate."""
    client = sandbox.client()
    prod = client.v1.products.create({"name": "Link"})
    price = client.v1.prices.create({"product": prod.id, "unit_amount": 1200, "currency": "usd"})
    link = client.v1.payment_links.create({"line_items": [{"price": price.id, "quantity": 2}]})
    assert link.active is True and link.url.startswith("https://")
    items = client.v1.payment_links.line_items.list(link.id)
    assert (items.data[0].price.id, items.data[0].quantity, items.data[0].amount_total) == (price.id, 2, 2400)
    assert client.v1.payment_links.update(link.id, {"active": False}).active is False


def test_billing_portal_session_serves_a_local_page(sandbox: SandboxServer) -> None:
    """The session URL points at the sandbox and shows the customer's subscriptions; a wrong
    token is refused."""
    client = sandbox.client()
    cus = client.v1.customers.create({"name": "Portal Person"})
    session = client.v1.billing_portal.sessions.create({"customer": cus.id, "return_url": "http://127.0.0.1/back"})
    assert session.url.startswith(sandbox.url)
    page = httpx.get(session.url)
    assert page.status_code == 200 and "Portal Person" in page.text and "http://127.0.0.1/back" in page.text
    assert httpx.get(session.url.split("?")[0] + "?token=nope").status_code == 404


def test_account_retrieve(sandbox: SandboxServer) -> None:
    """GET /v1/account returns a test-mode standard account."""
    acct = sandbox.client().v1.accounts.retrieve_current()
    assert acct.id.startswith("acct_") and acct.object == "account" and acct.charges_enabled is True
