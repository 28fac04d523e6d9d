"""Webhook endpoints and deliveries: signatures, filtering, retries with backoff, chaos, forwarding."""

from __future__ import annotations

import time

import httpx
import pytest
import stripe

from unifiedmcp.sandbox import SandboxServer, WebhookReceiver, serve_in_thread, sign

from .helpers import connect
from .stripe_shapes import Shapes


def test_signature_matches_stripes_scheme(sandbox: SandboxServer, webhook_receiver: WebhookReceiver) -> None:
    """Stripe-Signature is t=<unix>,v1=HMAC-SHA256(secret, f"{t}.{body}"): construct_event accepts
    it, and rejects it with a different secret or a tampered body."""
    _, secret = sandbox.add_webhook_endpoint(webhook_receiver.url, events=["customer.created"])
    assert secret.startswith("whsec_")
    cus = sandbox.client().v1.customers.create({"email": "hook@example.com"})
    got = webhook_receiver.wait_for(lambda rs: any(r.event["data"]["object"]["id"] == cus.id for r in rs))
    r = next(r for r in got if r.event["data"]["object"]["id"] == cus.id)
    t = int(r.signature.split(",")[0][2:])
    assert r.signature == sign(r.body.decode(), secret, timestamp=t)
    assert abs(time.time() - t) < 60
    event = stripe.Webhook.construct_event(r.body.decode(), r.signature, secret)
    assert event.type == "customer.created" and event.data.object.email == "hook@example.com"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(r.body.decode(), r.signature, "whsec_wrong")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(r.body.decode().replace("hook@", "evil@"), r.signature, secret)
    assert r.headers["content-type"].startswith("application/json")


def test_endpoints_crud_and_enabled_events(sandbox: SandboxServer, webhook_receiver: WebhookReceiver) -> None:
    """Only enabled_events are delivered; the secret is shown at creation only; update/delete work."""
    client = sandbox.client()
    we = client.v1.webhook_endpoints.create({"url": webhook_receiver.url, "enabled_events": ["product.created"]})
    assert we.secret.startswith("whsec_")
    fetched = client.v1.webhook_endpoints.retrieve(we.id)
    assert "secret" not in fetched.to_dict()
    client.v1.customers.create({})
    prod = client.v1.products.create({"name": "Hooked"})
    sandbox.wait_for_webhooks()
    assert [e["type"] for e in webhook_receiver.events()] == ["product.created"]
    assert webhook_receiver.events()[0]["data"]["object"]["id"] == prod.id
    client.v1.webhook_endpoints.update(we.id, {"enabled_events": ["customer.created"]})
    client.v1.products.create({"name": "Not hooked"})
    client.v1.customers.create({})
    sandbox.wait_for_webhooks()
    assert [e["type"] for e in webhook_receiver.events()] == ["product.created", "customer.created"]
    assert client.v1.webhook_endpoints.delete(we.id).deleted is True
    assert we.id not in [w.id for w in client.v1.webhook_endpoints.list().data]


def test_failed_deliveries_are_retried_with_backoff(sandbox: SandboxServer, webhook_receiver: WebhookReceiver) -> None:
    """Two 500s then a 200: three attempts of the same event, spaced by growing delays."""
    sandbox.settings(webhook_retry_scale=0.0002)  # 600 s * 3**n * 0.0002 = 0.12 s, 0.36 s, ...
    sandbox.add_webhook_endpoint(webhook_receiver.url, events=["customer.created"])
    webhook_receiver.fail_next(2, status=500)
    cus = sandbox.client().v1.customers.create({})
    got = webhook_receiver.wait_for(lambda rs: any(r.status == 200 for r in rs))
    mine = [r for r in got if r.event["data"]["object"]["id"] == cus.id]
    assert [r.status for r in mine] == [500, 500, 200]
    assert len({r.event["id"] for r in mine}) == 1
    sandbox.wait_for_webhooks()
    attempts = [d for d in sandbox.deliveries() if d["event"] == mine[0].event["id"]]
    assert [d["attempt"] for d in attempts] == [1, 2, 3]
    gap1 = attempts[1]["at"] - attempts[0]["at"]
    gap2 = attempts[2]["at"] - attempts[1]["at"]
    # Lower bounds only (timers never fire early; a loaded machine can only add delay).
    assert gap1 >= 0.1 and gap2 >= 0.3


def test_retries_stop_after_max_attempts(sandbox: SandboxServer, webhook_receiver: WebhookReceiver) -> None:
    """A receiver that always fails gets webhook_max_attempts attempts, then the sandbox gives up."""
    sandbox.settings(webhook_retry_scale=0.0001, webhook_max_attempts=3)
    sandbox.add_webhook_endpoint(webhook_receiver.url, events=["customer.created"])
    webhook_receiver.fail_next(10, status=503)
    sandbox.client().v1.customers.create({})
    sandbox.wait_for_webhooks(timeout=10)
    assert [r.status for r in webhook_receiver.received] == [503, 503, 503]


def test_chaos_duplicate_and_reorder(sandbox: SandboxServer, webhook_receiver: WebhookReceiver) -> None:
    """chaos_duplicate=1 sends every event twice; chaos_reorder shuffles queued deliveries."""
    sandbox.set_chaos(duplicate=1.0, seed=7)
    sandbox.add_webhook_endpoint(webhook_receiver.url, events=["customer.created"])
    client = sandbox.client()
    client.v1.customers.create({})
    sandbox.wait_for_webhooks()
    ids = [e["id"] for e in webhook_receiver.events()]
    assert len(ids) == 2 and ids[0] == ids[1]

    sandbox.set_chaos(reorder=True, delay_seconds=0.01, reorder_window_seconds=0.5, seed=3)
    webhook_receiver.received.clear()
    created = [client.v1.customers.create({"name": f"r{i}"}).id for i in range(25)]
    sandbox.wait_for_webhooks()
    got = [e["data"]["object"]["id"] for e in webhook_receiver.events()]
    assert sorted(got) == sorted(created)
    assert got != created  # 25 items in creation order after a shuffle: ~1/25! chance


def test_chaos_delay_lets_later_events_overtake(sandbox: SandboxServer, webhook_receiver: WebhookReceiver) -> None:
    """chaos_delay_seconds holds each delivery on its own timer: later events can arrive first."""
    sandbox.set_chaos(delay_seconds=0.4, seed=11)
    sandbox.add_webhook_endpoint(webhook_receiver.url, events=["customer.created"])
    client = sandbox.client()
    created = [client.v1.customers.create({"name": f"d{i}"}).id for i in range(12)]
    sandbox.wait_for_webhooks()
    got = [e["data"]["object"]["id"] for e in webhook_receiver.events()]
    assert sorted(got) == sorted(created)
    assert got != created


def test_events_list_filters_and_retrieve(fresh_sandbox: SandboxServer) -> None:
    """events.list filters by type (with prefix*), types and created; retrieve by id."""
    client = fresh_sandbox.client()
    cus = client.v1.customers.create({"name": "e"})
    client.v1.customers.update(cus.id, {"name": "f"})
    client.v1.products.create({"name": "p"})
    assert [e.type for e in client.v1.events.list({"type": "customer.updated"}).data] == ["customer.updated"]
    assert [e.type for e in client.v1.events.list({"type": "customer.*"}).data] == ["customer.updated", "customer.created"]
    both = client.v1.events.list({"types": ["product.created", "customer.created"]}).data
    assert [e.type for e in both] == ["product.created", "customer.created"]
    upd = client.v1.events.list({"type": "customer.updated"}).data[0]
    assert upd.data.previous_attributes.name == "e"
    assert upd.api_version == stripe.api_version
    assert client.v1.events.retrieve(upd.id).id == upd.id
    assert client.v1.events.list({"created": {"gt": upd.created + 1000}}).data == []


def test_forward_to_receives_every_event() -> None:
    """forward_to (the CLI's --forward-to) delivers every event, signed with the printed secret."""
    with WebhookReceiver() as receiver, serve_in_thread(forward_to=[receiver.url]) as server:
        secret = server.forward_secrets[0]
        client = server.client()
        client.v1.customers.create({})
        client.v1.products.create({"name": "fw"})
        server.wait_for_webhooks()
        types = [r.event["type"] for r in receiver.received]
        assert types == ["customer.created", "product.created"]
        for r in receiver.received:
            stripe.Webhook.construct_event(r.body.decode(), r.signature, secret)


def test_settings_endpoint_validates(sandbox: SandboxServer) -> None:
    """Unknown settings and bad dunning actions are refused with 400."""
    r = httpx.post(f"{sandbox.url}/_sandbox/settings", json={"nope": 1}, headers={"Authorization": f"Bearer {sandbox.api_key}"})
    assert r.status_code == 400
    r = httpx.post(f"{sandbox.url}/_sandbox/settings", json={"dunning_final_action": "explode"}, headers={"Authorization": f"Bearer {sandbox.api_key}"})
    assert r.status_code == 400
    assert httpx.get(f"{sandbox.url}/_sandbox/settings").status_code == 401


def test_connect_endpoints_receive_connected_accounts_events_with_account(sandbox: SandboxServer) -> None:
    """A platform's connect=true endpoint gets its connected accounts' events with "account" (and
    not the platform's own); its ordinary endpoint gets only its own, without "account"; the
    connected account's own endpoint gets its events, without "account"."""
    platform_key = sandbox.create_account()[1]
    platform = sandbox.client(api_key=platform_key)
    token = connect(sandbox, platform_key=platform_key)
    acct = token["stripe_user_id"]
    with WebhookReceiver() as hub, WebhookReceiver() as own, WebhookReceiver() as theirs:
        we = platform.v1.webhook_endpoints.create({"url": hub.url, "enabled_events": ["customer.created"], "connect": True})
        assert we.application == sandbox.connect_client_id(platform_key)
        platform.v1.webhook_endpoints.create({"url": own.url, "enabled_events": ["customer.created"]})
        sandbox.client(api_key=token["access_token"]).v1.webhook_endpoints.create({"url": theirs.url, "enabled_events": ["customer.created"]})
        mine = platform.v1.customers.create({"name": "platform's"})
        connected = platform.v1.customers.create({"name": "connected's"}, {"stripe_account": acct})
        sandbox.wait_for_webhooks()
        assert [(e["data"]["object"]["id"], e["account"]) for e in hub.events()] == [(connected.id, acct)]
        shapes = Shapes()  # Stripe's Connect event keys (``account`` is declared, optional)
        assert shapes.check_event(hub.events()[0]) == [] and "account" in hub.events()[0]
        assert shapes.check_response("POST", "/v1/webhook_endpoints", we.to_dict()) == []
        stripe.Webhook.construct_event(hub.received[0].body.decode(), hub.received[0].signature, we.secret)
        assert [e["data"]["object"]["id"] for e in own.events()] == [mine.id] and "account" not in own.events()[0]
        assert [e["data"]["object"]["id"] for e in theirs.events()] == [connected.id] and "account" not in theirs.events()[0]
        assert platform.v1.events.retrieve(hub.events()[0]["id"], {}, {"stripe_account": acct}).pending_webhooks == 2


def test_deauthorization_event_reaches_the_platform(sandbox: SandboxServer, webhook_receiver: WebhookReceiver) -> None:
    """account.application.deauthorized, with account and an application object, is delivered to
    the platform's Connect endpoint although the connection is gone once it is sent."""
    platform_key = sandbox.create_account()[1]
    client_id = sandbox.connect_client_id(platform_key)
    sandbox.client(api_key=platform_key).v1.webhook_endpoints.create(
        {"url": webhook_receiver.url, "enabled_events": ["account.application.authorized", "account.application.deauthorized"], "connect": True})
    acct = connect(sandbox, platform_key=platform_key)["stripe_user_id"]
    sandbox.client(api_key=platform_key).oauth.deauthorize({"client_id": client_id, "stripe_user_id": acct})
    sandbox.wait_for_webhooks()
    events = webhook_receiver.events()
    assert [e["type"] for e in events] == ["account.application.authorized", "account.application.deauthorized"]
    assert all(e["account"] == acct for e in events)
    assert events[1]["data"]["object"] == {"id": client_id, "object": "application", "name": None}


def test_forward_to_receives_connected_accounts_events_with_account() -> None:
    """forward_to belongs to the primary account: accounts connected to it arrive with "account"."""
    with WebhookReceiver() as receiver, serve_in_thread(forward_to=[receiver.url]) as server:
        acct = connect(server)["stripe_user_id"]
        receiver.received.clear()
        cus = server.client(stripe_account=acct).v1.customers.create({})
        server.wait_for_webhooks()
        events = [r.event for r in receiver.received if r.event["type"] == "customer.created"]
        assert [(e["data"]["object"]["id"], e["account"]) for e in events] == [(cus.id, acct)]
