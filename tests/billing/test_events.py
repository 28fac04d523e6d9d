"""EventProcessor: exactly-once application, ordering, tier rules, failures and replay, on both
ledger backends (a SQLite file and a PostgreSQL database)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from unifiedmcp.billing import EventProcessor, replay_events, subscriptions, webhook_events
from unifiedmcp.ledger import Ledger

from .conftest import event, subscription


@pytest.fixture(params=["sqlite", "postgres"])
def new_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Ledger]]:
    """Opens fresh, empty ledgers of one backend (closed after the test)."""
    opened: list[Ledger] = []

    def make() -> Ledger:
        if request.param == "sqlite":
            target: Path | str = tmp_path / f"ledger{len(opened)}.sqlite3"
        else:
            target = request.getfixturevalue("postgres_url")
        opened.append(Ledger(target))
        return opened[-1]

    yield make
    for led in opened:
        led.close()


@pytest.fixture
def ledger(new_ledger: Callable[[], Ledger]) -> Ledger:
    return new_ledger()


def _tier(ledger: Ledger, cid: str) -> tuple[str, str]:
    c = ledger.customer(cid)
    return c.tier, c.status


def test_subscription_created_active_gives_the_price_tier(ledger: Ledger) -> None:
    """An active subscription on a pro price makes the ledger customer pro, mirrored with its period."""
    p = EventProcessor(ledger)
    out = p.process(event("customer.subscription.created", subscription("sub_1", "cus_1", "active", period_end=1_900_000_000), 100))
    assert out.status == "applied"
    assert _tier(ledger, "cus_1") == ("pro", "active")
    [m] = subscriptions(ledger, customer="cus_1")
    assert (m.status, m.tier, m.price_id, m.current_period_end) == ("active", "pro", "price_pro", 1_900_000_000)


@pytest.mark.parametrize(
    ("status", "tier"),
    [("active", "pro"), ("trialing", "pro"), ("past_due", "pro"), ("canceled", "free"), ("unpaid", "free"),
     ("incomplete_expired", "free"), ("incomplete", "free"), ("paused", "free")],
)
def test_tier_follows_status(ledger: Ledger, status: str, tier: str) -> None:
    """active/trialing/past_due keep the price's tier; canceled/unpaid/incomplete(_expired)/paused are free."""
    EventProcessor(ledger).process(event("customer.subscription.updated", subscription("sub_1", "cus_1", status), 100))
    assert _tier(ledger, "cus_1")[0] == tier


def test_duplicate_has_no_second_effect(ledger: Ledger) -> None:
    """A redelivered event is acknowledged as duplicate and does not re-apply (even if state moved since)."""
    p = EventProcessor(ledger)
    evt = event("customer.subscription.created", subscription("sub_1", "cus_1", "active"), 100)
    assert p.process(evt).status == "applied"
    ledger.set_tier("cus_1", "enterprise")  # an operator's manual change after the event
    assert p.process(evt).status == "duplicate"
    assert _tier(ledger, "cus_1")[0] == "enterprise"
    [stored] = webhook_events(ledger)
    assert stored.attempts == 1 and stored.status == "applied"


def test_older_event_never_overwrites_newer_state(ledger: Ledger) -> None:
    """An event created earlier than the applied state is stored as stale and changes nothing."""
    p = EventProcessor(ledger)
    p.process(event("customer.subscription.updated", subscription("sub_1", "cus_1", "past_due"), 200))
    out = p.process(event("customer.subscription.updated", subscription("sub_1", "cus_1", "active", tier="enterprise"), 100))
    assert out.status == "ignored" and out.note and out.note.startswith("stale")
    [m] = subscriptions(ledger)
    assert (m.status, m.tier) == ("past_due", "pro")


def test_terminal_status_is_never_left(ledger: Ledger) -> None:
    """After customer.subscription.deleted, even a later-stamped active update cannot revive it."""
    p = EventProcessor(ledger)
    p.process(event("customer.subscription.deleted", subscription("sub_1", "cus_1", "canceled"), 100))
    p.process(event("customer.subscription.updated", subscription("sub_1", "cus_1", "active"), 100))
    p.process(event("customer.subscription.updated", subscription("sub_1", "cus_1", "active"), 150))
    assert _tier(ledger, "cus_1")[0] == "free"
    assert subscriptions(ledger)[0].status == "canceled"


def test_same_second_ties_follow_previous_attributes(new_ledger: Callable[[], Ledger]) -> None:
    """Within one second, the event whose previous_attributes match the other's state is the later one.

    An upgrade right after activation: both updates are ``active``, so only previous_attributes
    (the upgrade's previous ``items`` equal the activation's items) can order them.
    """
    created = event("customer.subscription.created", subscription("sub_1", "cus_1", "incomplete"), 100)
    active_pro = subscription("sub_1", "cus_1", "active")
    active = event("customer.subscription.updated", active_pro, 100, previous={"status": "incomplete"})
    upgraded = event("customer.subscription.updated", subscription("sub_1", "cus_1", "active", tier="enterprise"), 100,
                     previous={"items": active_pro["items"]})
    orders = [[created, active, upgraded], [upgraded, active, created], [active, upgraded, created],
              [upgraded, created, active], [created, upgraded, active], [active, created, upgraded]]
    for n, order in enumerate(orders):
        led = new_ledger()
        p = EventProcessor(led)
        for e in order:
            p.process(e)
        [m] = subscriptions(led)
        assert (m.status, m.tier) == ("active", "enterprise"), n
        assert led.customer("cus_1").tier == "enterprise"


def test_highest_tier_over_live_subscriptions(ledger: Ledger) -> None:
    """Two live subscriptions: the customer has the higher tier; when it ends, the other remains."""
    p = EventProcessor(ledger)
    p.process(event("customer.subscription.created", subscription("sub_a", "cus_1", "active", tier="pro"), 100))
    p.process(event("customer.subscription.created", subscription("sub_b", "cus_1", "active", tier="enterprise"), 101))
    assert _tier(ledger, "cus_1")[0] == "enterprise"
    p.process(event("customer.subscription.deleted", subscription("sub_b", "cus_1", "canceled", tier="enterprise"), 102))
    assert _tier(ledger, "cus_1")[0] == "pro"


def test_customer_deleted_is_free_and_not_resurrected(ledger: Ledger) -> None:
    """customer.deleted marks the customer deleted and free; a late subscription event keeps it so."""
    p = EventProcessor(ledger)
    p.process(event("customer.deleted", {"id": "cus_1", "object": "customer", "deleted": True}, 200))
    p.process(event("customer.subscription.created", subscription("sub_1", "cus_1", "active"), 100))
    assert _tier(ledger, "cus_1") == ("free", "deleted")


def test_unhandled_types_are_stored_and_acknowledged(ledger: Ledger) -> None:
    """An event type without a handler is kept in the log as ignored."""
    out = EventProcessor(ledger).process(event("product.created", {"id": "prod_1", "object": "product"}, 100))
    assert (out.status, out.note) == ("ignored", "unhandled type")
    [stored] = webhook_events(ledger)
    assert stored.type == "product.created" and stored.status == "ignored"


def test_crash_before_commit_leaves_nothing_and_retry_applies_once(ledger: Ledger) -> None:
    """An exception escaping mid-transaction (a crash) rolls back everything; the retry applies once."""
    calls = {"n": 0}

    def crash_once(_: object) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("process dies here")

    p = EventProcessor(ledger, before_apply=crash_once)
    evt = event("customer.subscription.created", subscription("sub_1", "cus_1", "active"), 100)
    with pytest.raises(RuntimeError):
        p.process(evt)
    assert webhook_events(ledger) == [] and subscriptions(ledger) == [] and ledger.customers() == []
    assert p.process(evt).status == "applied"
    assert p.process(evt).status == "duplicate"
    [stored] = webhook_events(ledger)
    assert stored.attempts == 1 and stored.status == "applied"
    assert _tier(ledger, "cus_1")[0] == "pro"


def test_handler_error_is_recorded_and_replayable(ledger: Ledger) -> None:
    """A malformed object fails inside the handler: stored as failed (with the error); replay re-runs it."""
    bad = subscription("sub_1", "cus_1", "active")
    bad["customer"] = None
    evt = event("customer.subscription.created", bad, 100)
    p = EventProcessor(ledger)
    out = p.process(evt)
    assert out.status == "failed"
    [stored] = webhook_events(ledger, status="failed")
    assert "has no customer" in (stored.error or "")
    assert subscriptions(ledger) == []
    # A fixed payload stored for the same id (as after an operator fix) is applied by replay.
    with ledger.transaction() as conn:
        evt["data"]["object"]["customer"] = "cus_1"
        conn.execute("UPDATE webhook_events SET payload = ? WHERE event_id = ?", (json.dumps(evt), evt["id"]))
    [res] = replay_events(ledger, failed=True)
    assert res.status == "applied"
    [stored] = webhook_events(ledger)
    assert stored.status == "applied" and stored.attempts == 2 and stored.replayed_at is not None
    assert _tier(ledger, "cus_1")[0] == "pro"


def test_invoice_refund_and_dispute_mirrors(ledger: Ledger) -> None:
    """Invoice events update the invoice mirror (either shape); refunds and disputes are recorded once."""
    p = EventProcessor(ledger)
    inv = {"id": "in_1", "object": "invoice", "customer": "cus_1", "status": "open", "amount_due": 2900,
           "amount_paid": 0, "attempt_count": 1, "billing_reason": "subscription_cycle", "currency": "usd",
           "parent": {"subscription_details": {"subscription": "sub_1"}}}
    p.process(event("invoice.payment_failed", inv, 100))
    old_shape = {**inv, "status": "paid", "amount_paid": 2900, "attempt_count": 2, "subscription": "sub_1", "parent": None}
    p.process(event("invoice.paid", old_shape, 200))
    p.process(event("invoice.finalized", {**inv, "status": "open", "attempt_count": 0}, 50))  # late and old
    charge = {"id": "ch_1", "object": "charge", "customer": "cus_1", "amount_refunded": 1000, "refunded": False, "currency": "usd"}
    p.process(event("charge.refunded", charge, 300))
    p.process(event("charge.dispute.created", {"id": "dp_1", "object": "dispute", "charge": "ch_1", "amount": 2900,
                                               "currency": "usd", "status": "needs_response"}, 310))
    with ledger.transaction() as conn:
        row = conn.execute("SELECT status, subscription_id, amount_paid, attempt_count, payment_failed FROM invoices").fetchone()
        incidents = conn.execute("SELECT incident_id, kind, amount FROM payment_incidents ORDER BY incident_id").fetchall()
    assert row == ("paid", "sub_1", 2900, 2, 1)
    assert incidents == [("dp_1", "dispute", 2900), ("refund:ch_1", "refund", 1000)]


def test_old_api_shape_subscription_period(ledger: Ledger) -> None:
    """A subscription with subscription-level periods (older API versions) is mirrored the same way."""
    sub = subscription("sub_1", "cus_1", "active")
    item = sub["items"]["data"][0]
    sub["current_period_start"], sub["current_period_end"] = item.pop("current_period_start"), item.pop("current_period_end")
    EventProcessor(ledger).process(event("customer.subscription.updated", sub, 100))
    assert subscriptions(ledger)[0].current_period_end == 1_800_000_000


def test_refetch_failure_marks_the_event_failed(ledger: Ledger) -> None:
    """When a same-second tie needs Stripe and Stripe is unreachable, the event fails (Stripe retries)."""
    from unifiedmcp.billing import build_client
    from unifiedmcp.billing.testing import free_port
    from unifiedmcp.config import Settings

    dead = build_client(
        Settings(_env_file=None, stripe_api_key="sk_test_x", stripe_api_base=f"http://127.0.0.1:{free_port()}"),
        max_network_retries=0,
    )
    p = EventProcessor(ledger, client=dead)
    a = event("customer.subscription.updated", subscription("sub_1", "cus_1", "past_due"), 100, previous={"status": "active"})
    b = event("customer.subscription.updated", subscription("sub_1", "cus_1", "active"), 100, previous={"status": "past_due"})
    assert p.process(b).status == "applied"
    out = p.process(a)
    assert out.status == "failed" and "APIConnectionError" in (out.error or "")
    assert "sk_test_x" not in (out.error or "")
    assert subscriptions(ledger)[0].status == "active"
    assert [e.status for e in webhook_events(ledger) if e.event_id == a["id"]] == ["failed"]
