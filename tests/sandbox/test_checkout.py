"""Checkout Sessions and promotion codes through stripe-python 16 and the local hosted page."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import stripe

from unifiedmcp.sandbox import SandboxServer

from .helpers import monthly_price


def _pay(url: str, **form: str) -> httpx.Response:
    """Submit the hosted Checkout page as a browser would (redirects not followed)."""
    return httpx.post(url, data={"payment_method": "pm_card_visa", **form}, follow_redirects=False)


def _subscription_session(client: stripe.StripeClient, price: str, *, email: str = "buyer@example.com",
                          **extra: object) -> stripe.checkout.Session:
    return client.v1.checkout.sessions.create({
        "mode": "subscription", "line_items": [{"price": price, "quantity": 1}],
        "success_url": "https://example.com/ok?session={CHECKOUT_SESSION_ID}", "cancel_url": "https://example.com/no",
        "customer_email": email, **extra})


def test_a_subscription_checkout_with_a_promotion_code_creates_a_discounted_active_subscription(sandbox: SandboxServer) -> None:
    """Paying on the hosted page with a promotion code: a customer with the email, an active
    subscription whose first invoice carries the code's discount, the card saved as its default,
    the code redeemed once, checkout.session.completed after the subscription's events, and a 303
    to success_url with the session id filled in."""
    client = sandbox.client()
    price = monthly_price(client, amount=2000)
    coupon = client.v1.coupons.create({"percent_off": 25, "duration": "forever"})
    promo = client.v1.promotion_codes.create({"promotion": {"type": "coupon", "coupon": coupon.id}, "code": "LAUNCH25"})
    session = _subscription_session(client, price.id, allow_promotion_codes=True, email="promo@example.com")
    assert (session.status, session.payment_status, session.amount_total) == ("open", "unpaid", 2000)
    assert "LAUNCH25" not in httpx.get(session.url).text and "Promotion code" in httpx.get(session.url).text
    page = _pay(session.url, promotion_code="launch25")  # codes match case-insensitively
    assert page.status_code == 303
    assert parse_qs(urlsplit(page.headers["location"]).query) == {"session": [session.id]}
    done = client.v1.checkout.sessions.retrieve(session.id, {"expand": ["subscription.latest_invoice"]})
    assert (done.status, done.payment_status, done.amount_total) == ("complete", "paid", 1500)
    assert done.customer_details.email == "promo@example.com" and done.url is None
    sub = done.subscription
    assert sub.status == "active" and sub.customer == done.customer
    assert sub.latest_invoice.amount_paid == 1500 and sub.latest_invoice.status == "paid"
    assert sub.default_payment_method is not None
    [discount] = sub.discounts
    assert client.v1.promotion_codes.retrieve(promo.id).times_redeemed == 1
    assert done.discounts[0].promotion_code == promo.id and discount.startswith("di_")
    newest_first = [e.type for e in client.v1.events.list({"limit": 30}).data]
    assert newest_first[0] == "checkout.session.completed"  # sent last, once the subscription exists
    assert "customer.subscription.created" in newest_first
    assert client.v1.customers.retrieve(done.customer).email == "promo@example.com"


def test_a_declined_card_on_the_page_leaves_the_session_open_and_creates_nothing(sandbox: SandboxServer) -> None:
    """The page shows the decline (402); no customer, no subscription; another card then completes it."""
    client = sandbox.client()
    price = monthly_price(client)
    session = _subscription_session(client, price.id, email="declined@example.com")
    page = _pay(session.url, payment_method="pm_card_visa_chargeDeclinedInsufficientFunds")
    assert page.status_code == 402 and "insufficient funds" in page.text.lower()
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    assert list(client.v1.customers.list({"email": "declined@example.com"}).data) == []
    assert _pay(session.url).status_code == 303
    [cus] = client.v1.customers.list({"email": "declined@example.com"}).data
    [sub] = client.v1.subscriptions.list({"customer": cus.id}).data
    assert sub.status == "active"


def test_a_trial_checkout_charges_nothing_today_and_starts_trialing(sandbox: SandboxServer) -> None:
    client = sandbox.client()
    price = monthly_price(client)
    session = _subscription_session(client, price.id, subscription_data={"trial_period_days": 14})
    assert (session.amount_total, session.payment_status) == (0, "no_payment_required")
    assert _pay(session.url).status_code == 303
    done = client.v1.checkout.sessions.retrieve(session.id, {"expand": ["subscription"]})
    assert done.payment_status == "no_payment_required"
    assert done.subscription.status == "trialing" and done.subscription.trial_end == done.subscription.trial_start + 14 * 86400


def test_a_payment_checkout_charges_the_line_items_to_a_payment_intent(sandbox: SandboxServer) -> None:
    client = sandbox.client()
    prod = client.v1.products.create({"name": "Credits"})
    price = client.v1.prices.create({"product": prod.id, "unit_amount": 700, "currency": "usd"})
    session = client.v1.checkout.sessions.create({"mode": "payment", "line_items": [{"price": price.id, "quantity": 3}]})
    items = client.v1.checkout.sessions.line_items.list(session.id)
    assert [(i.quantity, i.amount_total, i.price.id) for i in items.data] == [(3, 2100, price.id)]
    page = _pay(session.url)
    assert page.status_code == 200  # no success_url: the page says it is done
    done = client.v1.checkout.sessions.retrieve(session.id, {"expand": ["payment_intent"]})
    assert done.payment_intent.status == "succeeded" and done.payment_intent.amount == 2100
    assert done.subscription is None and done.customer is None  # customer_creation=if_required


def test_expire_and_list_and_the_expired_page(sandbox: SandboxServer) -> None:
    client = sandbox.client()
    price = monthly_price(client)
    kept, dropped = (_subscription_session(client, price.id) for _ in range(2))
    url = dropped.url
    expired = client.v1.checkout.sessions.expire(dropped.id)
    assert (expired.status, expired.url) == ("expired", None)
    assert client.v1.events.list({"limit": 1}).data[0].type == "checkout.session.expired"
    assert httpx.post(url, data={"payment_method": "pm_card_visa"}).status_code == 410
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.expire(dropped.id)
    open_ids = {s.id for s in client.v1.checkout.sessions.list({"status": "open", "limit": 100}).auto_paging_iter()}
    assert kept.id in open_ids and dropped.id not in open_ids
    assert httpx.get(kept.url.split("?")[0] + "?token=wrong").status_code == 404  # the token is the credential


def test_checkout_refuses_what_stripe_refuses(sandbox: SandboxServer) -> None:
    """A recurring price in payment mode, a metered price with a quantity, promotion codes on a
    session that does not allow them: 400s naming the parameter or shown on the page."""
    client = sandbox.client()
    price = monthly_price(client)
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.checkout.sessions.create({"mode": "payment", "line_items": [{"price": price.id, "quantity": 1}]})
    assert err.value.param == "line_items[0][price]"
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.checkout.sessions.create({"mode": "subscription", "line_items": [{"price": price.id}]})
    assert (err.value.code, err.value.param) == ("parameter_missing", "line_items[0][quantity]")
    session = _subscription_session(client, price.id)
    page = _pay(session.url, promotion_code="ANY")
    assert page.status_code == 400 and "does not accept promotion codes" in page.text


def test_promotion_code_restrictions_are_enforced_when_redeemed(sandbox: SandboxServer) -> None:
    """minimum_amount, max_redemptions, a customer-bound code and an inactive code each refuse a
    subscription's discount with a 400 naming discounts[0][promotion_code]; the code is unique
    among active codes."""
    client = sandbox.client()
    cheap = monthly_price(client, amount=500)
    coupon = client.v1.coupons.create({"amount_off": 100, "currency": "usd", "duration": "once"})

    def promo(**extra: object) -> stripe.PromotionCode:
        return client.v1.promotion_codes.create({"promotion": {"type": "coupon", "coupon": coupon.id}, **extra})

    def subscribe(code: str) -> stripe.Subscription:
        cus = client.v1.customers.create({"payment_method": "pm_card_visa",
                                          "invoice_settings": {"default_payment_method": "pm_card_visa"}})
        return client.v1.subscriptions.create({"customer": cus.id, "items": [{"price": cheap.id}],
                                               "discounts": [{"promotion_code": code}]})

    minimum = promo(restrictions={"minimum_amount": 1000, "minimum_amount_currency": "usd"})
    once = promo(max_redemptions=1)
    bound = promo(customer=client.v1.customers.create({}).id)
    off = promo()
    client.v1.promotion_codes.update(off.id, {"active": False})
    assert subscribe(once.id).status == "active"
    for code in (minimum, once, bound, off):
        with pytest.raises(stripe.InvalidRequestError) as err:
            subscribe(code.id)
        assert err.value.param == "discounts[0][promotion_code]", code.id
    promo(code="UNIQUE1")
    with pytest.raises(stripe.InvalidRequestError) as err:
        promo(code="unique1")
    assert (err.value.code, err.value.param) == ("resource_already_exists", "code")
    assert [p.code for p in client.v1.promotion_codes.list({"code": "UNIQUE1"}).data] == ["UNIQUE1"]
