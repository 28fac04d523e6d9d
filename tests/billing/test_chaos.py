"""Chaos: duplicated, reordered and delayed deliveries end in the same ledger state as clean delivery.

A realistic history (six customers, upgrades, dunning, expiry, deletion, disputes, refunds, two
clock advances: ~120 events, most stamped with the same second) is recorded once from the sandbox.
Its clean, in-order application is checked against the sandbox's own final objects; then 200
seeded scenarios deliver every event once to three times, in shuffled or delay-reordered order,
through signature verification and the processor, and must end in exactly the clean state.
One more run goes through the sandbox's own chaotic delivery over HTTP into the receiver.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest

from unifiedmcp.billing import EventProcessor, ensure_catalog, verify_delivery
from unifiedmcp.billing.testing import sign_payload
from unifiedmcp.ledger import Ledger
from unifiedmcp.sandbox import serve_in_thread

from ._scenario import recorded_events, run_scenario

pytestmark = pytest.mark.xdist_group("billing_chaos")  # one worker records the history once

SECRET = "whsec_chaos_secret_for_tests"
SCENARIOS = 200

_STATE_QUERIES = {
    "customers": "SELECT customer_id, tier, status, email FROM customers ORDER BY customer_id",
    "subscriptions": "SELECT subscription_id, customer_id, status, price_id, tier, quantity, current_period_start,"
    " current_period_end, cancel_at_period_end, cancel_at, canceled_at, trial_end, state_created, snapshot"
    " FROM subscriptions ORDER BY subscription_id",
    "invoices": "SELECT invoice_id, customer_id, subscription_id, status, billing_reason, currency, amount_due,"
    " amount_paid, attempt_count, payment_failed, state_created FROM invoices ORDER BY invoice_id",
    "incidents": "SELECT incident_id, kind, charge_id, customer_id, amount, currency, status, created"
    " FROM payment_incidents ORDER BY incident_id",
    "events": "SELECT event_id FROM webhook_events ORDER BY event_id",
}


def ledger_state(ledger: Ledger) -> dict[str, list[tuple]]:
    with ledger.transaction() as conn:
        return {name: conn.execute(sql).fetchall() for name, sql in _STATE_QUERIES.items()}


def apply_all(deliveries: list[dict[str, Any]]) -> dict[str, list[tuple]]:
    """Verify and apply deliveries in this order into a fresh ledger; return its final state."""
    signed = _signed(deliveries)
    with Ledger(":memory:") as ledger:
        proc = EventProcessor(ledger)
        for raw, header in signed:
            out = proc.process(verify_delivery(raw, header, [SECRET]), payload=raw.decode())
            assert out.ok, out
        return ledger_state(ledger)


_SIGNED: dict[str, tuple[bytes, str]] = {}


def _signed(events: list[dict[str, Any]]) -> list[tuple[bytes, str]]:
    """Each event's body and signature, computed once per event (deliveries repeat events)."""
    now = int(time.time())
    out = []
    for evt in events:
        hit = _SIGNED.get(evt["id"])
        if hit is None or int(hit[1][2:12]) < now - 200:
            raw = json.dumps(evt, default=str).encode()  # stripe-python parses *_decimal fields as Decimal
            hit = _SIGNED[evt["id"]] = (raw, sign_payload(raw, SECRET, timestamp=now))
        out.append(hit)
    return out


@pytest.fixture(scope="module")
def history() -> Iterator[tuple[list[dict[str, Any]], dict[str, str], dict[str, dict[str, str]]]]:
    """(events in creation order, {role: customer}, {customer: {subscription: status}}) from a private sandbox."""
    with serve_in_thread() as sb:
        client = sb.client()
        ensure_catalog(client)
        ids = run_scenario(client, lambda: None)
        truth: dict[str, dict[str, str]] = {}
        for cid in ids.values():
            subs = client.v1.subscriptions.list({"customer": cid, "status": "all"}).data if cid != ids["delete"] else []
            truth[cid] = {s.id: s.status for s in subs}
        yield recorded_events(client), ids, truth


def chaotic(events: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """Each event delivered 1-3 times; either fully shuffled or each copy delayed by a random lag."""
    rng = random.Random(seed)
    copies = [e for e in events for _ in range(rng.choice((1, 1, 2, 2, 3)))]
    if seed % 2:
        rng.shuffle(copies)
        return copies
    lag = rng.choice((3, 10, 40))
    keyed = [(i + rng.expovariate(1 / lag), rng.random(), e) for i, e in enumerate(copies)]
    return [e for *_, e in sorted(keyed, key=lambda k: (k[0], k[1]))]


def test_clean_delivery_matches_the_sandbox(history: tuple) -> None:
    """In-order application gives each customer the tier and each subscription the status Stripe has."""
    events, ids, truth = history
    state = apply_all(events)
    tiers = {cid: (tier, status) for cid, tier, status, _ in state["customers"]}
    assert tiers[ids["upgrade_cancel"]] == ("free", "active")
    assert tiers[ids["dunning"]] == ("free", "active")
    assert tiers[ids["renew"]] == ("enterprise", "active")
    assert tiers[ids["expire"]] == ("free", "active")
    assert tiers[ids["delete"]] == ("free", "deleted")
    assert tiers[ids["dispute"]] == ("pro", "active")
    mirrored = {sid: status for sid, _, status, *_ in state["subscriptions"]}
    for subs in truth.values():
        for sid, status in subs.items():
            assert mirrored[sid] == status
    assert {k for _, k, *_ in state["incidents"]} == {"refund", "dispute"}
    assert len(state["events"]) == len(events)


def test_chaotic_deliveries_converge_to_the_clean_state(history: tuple) -> None:
    """200 seeded scenarios of duplicates, shuffles and delays: the final ledger equals clean delivery's."""
    events = history[0]
    clean = apply_all(events)
    for seed in range(SCENARIOS):
        got = apply_all(chaotic(events, seed))
        if got != clean:
            diff = {k: (sorted(set(clean[k]) - set(got[k]))[:3], sorted(set(got[k]) - set(clean[k]))[:3])
                    for k in clean if clean[k] != got[k]}
            pytest.fail(f"seed {seed}: state differs from clean delivery: {diff}")


def test_sandbox_chaotic_delivery_over_http_matches_clean(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The sandbox itself duplicates (50 %), reorders and delays deliveries to the receiver over HTTP;
    the receiver's final ledger equals the clean in-order application of the same events."""
    from unifiedmcp.billing import create_webhook_app
    from unifiedmcp.billing.testing import free_port, serve_app
    from unifiedmcp.config import Settings

    with serve_in_thread(settings={"webhook_retry_scale": 0.0001}) as sb:
        port = free_port()
        _, secret = sb.add_webhook_endpoint(f"http://127.0.0.1:{port}/webhooks/stripe")
        sb.set_chaos(duplicate=0.5, delay_seconds=0.02, reorder=True, seed=11)
        settings = Settings(_env_file=None, data_dir=tmp_path, stripe_webhook_secret=secret)
        with Ledger(tmp_path / "ledger.sqlite3") as ledger:
            with serve_app(create_webhook_app(settings=settings, ledger=ledger), port=port):
                client = sb.client()
                ensure_catalog(client)
                run_scenario(client, lambda: sb.wait_for_webhooks(timeout=60))
                sb.wait_for_webhooks(timeout=60)
            got = ledger_state(ledger)
        deliveries = sb.deliveries()
        events = recorded_events(client)
    assert any(d["duplicate"] for d in deliveries), "the sandbox sent no duplicate"
    delivered = [d["event"] for d in deliveries if d["status"] == 200 and not d["duplicate"]]
    created_order = [e["id"] for e in events]
    assert delivered != [i for i in created_order if i in set(delivered)], "the sandbox did not reorder"
    assert got == apply_all(events)
