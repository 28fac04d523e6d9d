"""A receiver killed (SIGKILL) in the middle of an event loses nothing; the retry applies it once.

The receiver runs as its own process; a test hook makes it stop inside the transaction of the
first customer.subscription.updated event. The test kills it there, starts a new receiver on the
same port, and lets the sandbox's retries deliver: the event is applied exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path


from unifiedmcp.billing import subscribe, subscriptions, webhook_events
from unifiedmcp._loopback import ServerDidNotStart, free_port, wait_until_serving
from unifiedmcp.ledger import Ledger


def _start(port: int, env: dict[str, str], cwd: Path, *extra: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "unifiedmcp.billing.testing", "--port", str(port), *extra], env=env, cwd=cwd
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/healthz", proc=proc, timeout=20, name="receiver")
    except ServerDidNotStart:
        proc.kill()
        raise
    return proc


def test_receiver_killed_mid_event_applies_it_once_on_retry(sandbox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """SIGKILL inside the event's transaction: nothing half-written; the retry applies it exactly once."""
    port = free_port()
    _, secret = sandbox.add_webhook_endpoint(f"http://127.0.0.1:{port}/webhooks/stripe")
    sandbox.settings(webhook_retry_scale=0.002)  # retries after 1.2 s, 3.6 s, 10.8 s
    ledger_path = tmp_path / "ledger.sqlite3"
    marker = tmp_path / "hung-on"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "UNIFIEDMCP_"))}
    env.update(UNIFIEDMCP_LEDGER=str(ledger_path), STRIPE_WEBHOOK_SECRET=secret, UNIFIEDMCP_DATA_DIR=str(tmp_path))
    first = _start(port, env, tmp_path, "--hang-on", "customer.subscription.updated", "--marker", str(marker))
    second = None
    try:
        client = sandbox.client()
        from unifiedmcp.billing import ensure_catalog

        ensure_catalog(client)
        email = f"kill-{uuid.uuid4().hex[:8]}@example.com"
        result = subscribe(client, email, "pro", payment_method="pm_card_visa")
        deadline = time.monotonic() + 15
        while not marker.exists():
            assert time.monotonic() < deadline, "the receiver never reached the event"
            time.sleep(0.02)
        time.sleep(0.1)
        hung_event = marker.read_text()
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        with Ledger(ledger_path) as ledger:  # after the kill: no trace of the event
            assert hung_event not in {e.event_id for e in webhook_events(ledger, limit=1000)}
            assert ledger.customer(result.customer_id).tier == "free"
        second = _start(port, env, tmp_path)
        sandbox.wait_for_webhooks(timeout=40)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(10)
    attempts = [d for d in sandbox.deliveries() if d["event"] == hung_event]
    assert len(attempts) >= 2 and attempts[0]["status"] != 200 and attempts[-1]["status"] == 200
    with Ledger(ledger_path) as ledger:
        [stored] = [e for e in webhook_events(ledger, limit=1000) if e.event_id == hung_event]
        assert (stored.status, stored.attempts) == ("applied", 1)
        assert ledger.customer(result.customer_id).tier == "pro"
        [mirror] = subscriptions(ledger, customer=result.customer_id)
        assert mirror.status == "active"
