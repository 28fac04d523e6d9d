"""Running the sandbox: the CLI command, SQLite persistence, the programmatic server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import stripe

from unifiedmcp._loopback import free_port, wait_until_serving
from unifiedmcp.sandbox import WebhookReceiver, serve_in_thread


def test_cli_serve_with_forward_to(tmp_path: Path) -> None:
    """`unifiedmcp sandbox serve --memory --forward-to URL` serves the API on 127.0.0.1, prints
    the forwarding secret once, and forwards signed events; any sk_test_ key is accepted."""
    port = free_port()
    with WebhookReceiver() as receiver:
        exe = Path(sys.executable).with_name("unifiedmcp")
        proc = subprocess.Popen(
            [str(exe), "sandbox", "serve", "--port", str(port), "--memory", "--forward-to", receiver.url],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "UNIFIEDMCP_DATA_DIR": str(tmp_path)},
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_serving(f"{url}/_sandbox/health", proc=proc, timeout=30, name="unifiedmcp sandbox serve")
            client = stripe.StripeClient("sk_test_anything123", base_addresses={"api": url}, max_network_retries=0)
            cus = client.v1.customers.create({"email": "cli@example.com"})
            got = receiver.wait_for(lambda rs: len(rs) >= 1, timeout=10)
        finally:
            proc.terminate()
            out, _ = proc.communicate(timeout=10)
    secret = next(line.strip() for line in out.splitlines() if line.strip().startswith("whsec_"))
    event = stripe.Webhook.construct_event(got[0].body.decode(), got[0].signature, secret)
    assert event.type == "customer.created" and event.data.object.id == cus.id
    assert not (tmp_path / "sandbox.sqlite3").exists()  # --memory writes nothing


def test_sqlite_state_survives_a_restart(tmp_path: Path) -> None:
    """With db_path, objects, list order and settings are still there after a restart."""
    db = tmp_path / "sb.sqlite3"
    with serve_in_thread(db_path=db, api_key="sk_test_persist") as server:
        client = server.client()
        ids = [client.v1.customers.create({"name": f"p{i}"}).id for i in range(3)]
        client.v1.customers.update(ids[0], {"metadata": {"kept": "yes"}})
        server.set_dunning(final_action="unpaid")
    with serve_in_thread(db_path=db, api_key="sk_test_persist") as server:
        client = server.client()
        assert [c.id for c in client.v1.customers.list().data] == list(reversed(ids))
        assert client.v1.customers.retrieve(ids[0]).metadata.kept == "yes"
        assert server.settings()["dunning_final_action"] == "unpaid"
        assert client.v1.customers.create({}).id not in ids


def test_programmatic_server_env_and_repr() -> None:
    """serve_in_thread gives a url, a key, env vars for the toolkit, and never shows the key."""
    with serve_in_thread() as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert server.env() == {"STRIPE_API_KEY": server.api_key, "STRIPE_API_BASE": server.url}
        assert server.api_key not in repr(server)
        assert httpx.get(f"{server.url}/_sandbox/health").json()["ok"] is True
    try:
        httpx.get(f"{server.url}/_sandbox/health", timeout=1)
        stopped = False
    except httpx.HTTPError:
        stopped = True
    assert stopped


def test_objects_without_a_clock_are_billed_in_wall_clock_time() -> None:
    """Without a test clock, the background tick runs the billing engine at real time: an
    auto_advance invoice is finalized and charged once finalize_delay_seconds have passed."""
    with serve_in_thread(tick_seconds=0.1, settings={"finalize_delay_seconds": 1}) as server:
        client = server.client()
        cus = client.v1.customers.create({"payment_method": "pm_card_visa", "invoice_settings": {"default_payment_method": "pm_card_visa"}})
        inv = client.v1.invoices.create({"customer": cus.id, "auto_advance": True})
        client.v1.invoice_items.create({"customer": cus.id, "invoice": inv.id, "amount": 4200, "currency": "usd"})
        assert client.v1.invoices.retrieve(inv.id).status == "draft"
        deadline = time.monotonic() + 10
        while client.v1.invoices.retrieve(inv.id).status != "paid":
            assert time.monotonic() < deadline, "the invoice was never finalized and charged"
            time.sleep(0.1)
        paid = client.v1.invoices.retrieve(inv.id)
        assert paid.amount_paid == 4200
        assert paid.status_transitions.finalized_at >= paid.created + 1
