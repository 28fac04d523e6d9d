"""Several accounts on one sandbox: keys, isolation of every object path, persistence."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx
import pytest
import stripe

from unifiedmcp._loopback import serve_app
from unifiedmcp.sandbox import SandboxServer, WebhookReceiver, serve_in_thread
from unifiedmcp.sandbox._accounts import Accounts
from unifiedmcp.sandbox._app import create_app

from .helpers import customer_with_card, monthly_price


def _missing(call: object) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        call()  # type: ignore[operator]
    return exc.value


def test_a_created_account_has_its_own_key_id_and_account_object(sandbox: SandboxServer) -> None:
    """create_account gives an acct_ id (16 characters) and an sk_test_ key that the server
    accepts although it only accepts its own key otherwise; /v1/account answers for that account."""
    acct, key = sandbox.create_account(email="owner@example.com", business_name="Acme")
    assert acct.startswith("acct_") and len(acct) == len("acct_") + 16 and acct != sandbox.account_id
    assert key.startswith("sk_test_") and key != sandbox.api_key
    mine = sandbox.client(api_key=key).v1.accounts.retrieve_current()
    assert (mine.id, mine.email, mine.business_profile.name) == (acct, "owner@example.com", "Acme")
    assert sandbox.client().v1.accounts.retrieve_current().id == sandbox.account_id
    assert key not in repr(sandbox) and sandbox.api_key not in repr(sandbox)


def test_unknown_keys_are_still_refused_when_the_server_accepts_only_its_own(sandbox: SandboxServer) -> None:
    """Minted keys are accepted; a key the sandbox never issued stays a 401, masked."""
    sandbox.create_account()
    with pytest.raises(stripe.AuthenticationError) as exc:
        sandbox.client(api_key="sk_test_neverissued0000000000001234").v1.customers.list()
    assert exc.value.http_status == 401 and "neverissued" not in str(exc.value)
    r = httpx.post(f"{sandbox.url}/_sandbox/accounts", headers={"Authorization": "Bearer sk_test_neverissued0000000001234"})
    assert r.status_code == 401


def test_objects_of_one_account_are_invisible_from_another(sandbox: SandboxServer) -> None:
    """Retrieve by id is Stripe's 404 resource_missing; lists, search and events show nothing of
    the other account; parameters naming its objects are 400s; updates and deletes are refused."""
    a = sandbox.client()
    b = sandbox.client(api_key=sandbox.create_account()[1])
    cus = a.v1.customers.create({"email": "isolated@example.com", "metadata": {"marker": "iso-1"}})
    price = monthly_price(a, name="A only")
    err = _missing(lambda: b.v1.customers.retrieve(cus.id))
    assert (err.http_status, err.code, err.user_message) == (404, "resource_missing", f"No such customer: '{cus.id}'")
    assert _missing(lambda: b.v1.customers.update(cus.id, {"name": "x"})).http_status == 404
    assert _missing(lambda: b.v1.customers.delete(cus.id)).http_status == 404
    assert _missing(lambda: b.v1.prices.retrieve(price.id)).http_status == 404
    assert b.v1.customers.list({"limit": 100}).data == []
    assert b.v1.customers.search({"query": "metadata['marker']:'iso-1'"}).data == []
    assert b.v1.events.list({"limit": 100}).data == []
    assert _missing(lambda: b.v1.events.retrieve(a.v1.events.list({"limit": 1}).data[0].id)).http_status == 404
    err = _missing(lambda: b.v1.subscriptions.create({"customer": cus.id, "items": [{"price": price.id}]}))
    assert (err.http_status, err.param) == (400, "customer")
    err = _missing(lambda: b.v1.customers.list({"starting_after": cus.id}))
    assert err.param == "starting_after"
    assert a.v1.customers.retrieve(cus.id).email == "isolated@example.com"


def test_ids_resolve_and_expand_within_the_requesting_account(fresh_sandbox: SandboxServer) -> None:
    """The same id (a free-form coupon id, a product id) can exist in two accounts: each account
    retrieves, references and expands its own object, never the other's."""
    a = fresh_sandbox.client()
    b = fresh_sandbox.client(api_key=fresh_sandbox.create_account()[1])
    a.v1.coupons.create({"id": "SHARED", "percent_off": 10, "duration": "forever"})
    b.v1.coupons.create({"id": "SHARED", "percent_off": 50, "duration": "forever"})
    assert a.v1.coupons.retrieve("SHARED").percent_off == 10
    assert b.v1.coupons.retrieve("SHARED").percent_off == 50
    price = monthly_price(a)
    cus = customer_with_card(a)
    sub = a.v1.subscriptions.create({"customer": cus.id, "items": [{"price": price.id}], "expand": ["latest_invoice.customer"]})
    assert sub.latest_invoice.customer.id == cus.id
    b_product = b.v1.products.create({"name": "B", "id": price.product})  # the same id, in B
    b_price = b.v1.prices.create({"product": b_product.id, "unit_amount": 100, "currency": "usd"})
    assert a.v1.prices.retrieve(price.id, {"expand": ["product"]}).product.name == "Pro"
    assert b.v1.prices.retrieve(b_price.id, {"expand": ["product"]}).product.name == "B"


def test_idempotency_keys_are_scoped_to_the_account(sandbox: SandboxServer) -> None:
    """The same Idempotency-Key in two accounts creates two objects, each replayed in its own."""
    a = sandbox.client()
    b = sandbox.client(api_key=sandbox.create_account()[1])
    key = f"idem-accounts-{time.time_ns()}"
    first_a = a.v1.customers.create({"email": "i@example.com"}, {"idempotency_key": key})
    first_b = b.v1.customers.create({"email": "i@example.com"}, {"idempotency_key": key})
    assert first_a.id != first_b.id
    again_b = b.v1.customers.create({"email": "i@example.com"}, {"idempotency_key": key})
    assert again_b.id == first_b.id and again_b.last_response.headers.get("Idempotent-Replayed") == "true"
    assert b.v1.customers.retrieve(first_b.id).id == first_b.id
    assert _missing(lambda: b.v1.customers.retrieve(first_a.id)).http_status == 404


def test_test_clocks_belong_to_their_account_and_advance_there(fresh_sandbox: SandboxServer) -> None:
    """Another account cannot see or advance a clock; each account's clock bills its own customers."""
    a = fresh_sandbox.client()
    b = fresh_sandbox.client(api_key=fresh_sandbox.create_account()[1])
    t0 = 1_767_225_600
    for client in (a, b):
        clock = client.v1.test_helpers.test_clocks.create({"frozen_time": t0})
        cus = customer_with_card(client, test_clock=clock.id)
        client.v1.subscriptions.create({"customer": cus.id, "items": [{"price": monthly_price(client).id}]})
        other = b if client is a else a
        assert _missing(lambda: other.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": t0 + 10})).http_status == 404
        client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": t0 + 32 * 86400})
        paid = client.v1.invoices.list({"customer": cus.id, "status": "paid"}).data
        assert len(paid) == 2
        assert all(i.customer != cus.id for i in other.v1.invoices.list({"limit": 100}).data)


def test_the_background_tick_bills_every_account() -> None:
    """Objects without a clock are billed at wall-clock time in every account, not just the primary."""
    with serve_in_thread(tick_seconds=0.1, settings={"finalize_delay_seconds": 1}) as server:
        invoices = []
        for key in (server.api_key, server.create_account()[1]):
            client = server.client(api_key=key)
            cus = client.v1.customers.create({"payment_method": "pm_card_visa", "invoice_settings": {"default_payment_method": "pm_card_visa"}})
            inv = client.v1.invoices.create({"customer": cus.id, "auto_advance": True})
            client.v1.invoice_items.create({"customer": cus.id, "invoice": inv.id, "amount": 1500, "currency": "usd"})
            invoices.append((client, inv.id))
        deadline = time.monotonic() + 10
        while any(c.v1.invoices.retrieve(i).status != "paid" for c, i in invoices):
            assert time.monotonic() < deadline, "an account's invoice was never finalized and charged"
            time.sleep(0.1)


def test_every_account_and_its_key_survive_a_restart(tmp_path: Path) -> None:
    """With db_path, every account, its keys (restricted ones too) and its objects are back after
    a restart; without api_key the stored primary key is reused."""
    db = tmp_path / "accounts.sqlite3"
    with serve_in_thread(db_path=db) as server:
        primary_key, primary = server.api_key, server.account_id
        acct, key = server.create_account(business_name="Kept")
        ours = server.client().v1.customers.create({"name": "primary's"}).id
        theirs = server.client(api_key=key).v1.customers.create({"name": "theirs"}).id
        restricted = server.create_restricted_key(["rak_customer_read"], api_key=key)
    with serve_in_thread(db_path=db) as server:
        assert (server.api_key, server.account_id) == (primary_key, primary)
        b = server.client(api_key=key)
        assert b.v1.accounts.retrieve_current().business_profile.name == "Kept"
        assert [c.id for c in b.v1.customers.list().data] == [theirs]
        assert [c.id for c in server.client().v1.customers.list().data] == [ours]
        assert [c.id for c in server.client(api_key=restricted).v1.customers.list().data] == [theirs]
        with pytest.raises(stripe.PermissionError):
            server.client(api_key=restricted).v1.customers.create({})


def test_a_file_from_before_accounts_becomes_the_primary_account(tmp_path: Path) -> None:
    """A SQLite file written by the single-account sandbox (table objects, kv account_id) opens
    with its objects in the primary account, whatever key the server is given."""
    db = tmp_path / "legacy.sqlite3"
    conn = sqlite3.connect(db)
    conn.executescript(
        "CREATE TABLE objects (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL);"
        "CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT NOT NULL);"
        "INSERT INTO kv VALUES ('account_id', '\"acct_Legacy0000000001\"');"
    )
    body = '{"id": "cus_legacy1", "object": "customer", "deleted": null, "name": "Old", "_seq": 1}'
    conn.execute("INSERT INTO objects VALUES ('cus_legacy1', 1, 'customer', ?)", (body,))
    conn.commit()
    conn.close()
    with serve_in_thread(db_path=db, api_key="sk_test_legacyowner") as server:
        assert server.account_id == "acct_Legacy0000000001"
        assert server.client().v1.customers.retrieve("cus_legacy1").name == "Old"


def test_forward_to_never_receives_an_unrelated_accounts_events() -> None:
    """forward_to belongs to the primary account: another account's events do not reach it."""
    with WebhookReceiver() as receiver, serve_in_thread(forward_to=[receiver.url]) as server:
        other = server.client(api_key=server.create_account()[1])
        other.v1.customers.create({"name": "not forwarded"})
        mine = server.client().v1.customers.create({"name": "forwarded"})
        server.wait_for_webhooks()
        assert [r.event["data"]["object"]["id"] for r in receiver.received] == [mine.id]
        assert "account" not in receiver.received[0].event


def test_an_accounts_endpoints_receive_only_its_own_events(sandbox: SandboxServer, webhook_receiver: WebhookReceiver) -> None:
    """A webhook endpoint of account B gets B's events, none of the primary's."""
    b = sandbox.client(api_key=sandbox.create_account()[1])
    b.v1.webhook_endpoints.create({"url": webhook_receiver.url, "enabled_events": ["customer.created"]})
    sandbox.client().v1.customers.create({"name": "primary"})
    theirs = b.v1.customers.create({"name": "b"})
    sandbox.wait_for_webhooks()
    assert [e["data"]["object"]["id"] for e in webhook_receiver.events()] == [theirs.id]


def test_an_open_server_gives_each_new_secret_key_its_own_account() -> None:
    """Without a fixed key (``unifiedmcp sandbox serve``), any sk_test_ key is accepted: the first
    owns the primary account, every other new key gets an account of its own; rk_test_ keys the
    sandbox did not mint are refused."""
    accounts = Accounts()
    with serve_app(create_app(accounts)) as url:
        ids = []
        for key in ("sk_test_first0000001", "sk_test_second000002", "sk_test_first0000001"):
            client = stripe.StripeClient(key, base_addresses={"api": url}, max_network_retries=0)
            ids.append(client.v1.accounts.retrieve_current().id)
        assert ids[0] == ids[2] == accounts.primary and ids[1] != ids[0]
        r = httpx.get(f"{url}/v1/customers", headers={"Authorization": "Bearer rk_test_notminted00001"})
        assert r.status_code == 401


def test_the_rate_limit_bucket_is_per_key(sandbox: SandboxServer) -> None:
    """Settings are server-wide, but one key exhausting the rate limit does not limit another."""
    other = sandbox.client(api_key=sandbox.create_account()[1])
    sandbox.settings(rate_limit_per_second=2)
    with pytest.raises(stripe.RateLimitError):
        for _ in range(30):
            sandbox.client().v1.customers.list({"limit": 1})
    assert other.v1.customers.list({"limit": 1}).object == "list"
