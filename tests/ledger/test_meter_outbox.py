"""The usage outbox (usage billing, sql/005): staging turns the settled billable calls of paying
tiers into one meter event per customer and second, exactly once, never before a call's outcome
is final; sends are recorded on pending rows only. On both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from unifiedmcp.ledger import Ledger

T0 = datetime(2026, 11, 10, 12, 0, 0, 250_000, tzinfo=UTC)
PAYING = {"pro", "enterprise"}


def _call(ledger: Ledger, customer: str, event: str, at: datetime, *, status: str = "ok") -> None:
    ledger.check_and_record(customer, "list_customers", event_id=event, at=at, completes=True)
    ledger.complete(event, status=status, latency_ms=1.0)


def _stage(ledger: Ledger, **options: object):  # type: ignore[no-untyped-def]
    return ledger.stage_meter_events(event_name="mcp_api_call", billable_tiers=PAYING, **options)


def test_billable_calls_are_summed_per_customer_and_second(ledger: Ledger) -> None:
    for i in range(3):
        _call(ledger, "cus_pro", f"p{i}", T0 + timedelta(milliseconds=100 * i))  # same second
    _call(ledger, "cus_pro", "p-next", T0 + timedelta(seconds=1))
    _call(ledger, "cus_pro", "p-err", T0, status="error")  # failed calls are not billable
    _call(ledger, "cus_enterprise", "e0", T0)
    _call(ledger, "cus_free", "f0", T0)  # the free tier is never reported
    step = _stage(ledger)
    assert (step.rows, step.events) == (7, 3)
    events = {(r.customer_id, r.ts): (r.value, r.status) for r in ledger.meter_events()}
    second = int(T0.replace(microsecond=0).timestamp())
    assert events == {
        ("cus_pro", second): (3, "pending"),
        ("cus_pro", second + 1): (1, "pending"),
        ("cus_enterprise", second): (1, "pending"),
    }
    again = _stage(ledger)
    assert (again.rows, again.events) == (0, 0)  # staged once


def test_a_call_still_running_holds_back_the_calls_after_it(ledger: Ledger) -> None:
    now = datetime.now(UTC)
    _call(ledger, "cus_pro", "done-1", now)
    ledger.check_and_record("cus_pro", "list_customers", event_id="running", at=now, completes=True)  # still running
    _call(ledger, "cus_pro", "done-2", now)
    assert _stage(ledger).rows == 1  # only the row before the running call
    ledger.complete("running", status="error", latency_ms=5.0)  # it failed: not billable
    step = _stage(ledger)
    assert step.rows == 2
    assert sum(r.value for r in ledger.meter_events()) == 2


def test_a_call_that_never_completes_is_staged_after_the_grace(ledger: Ledger) -> None:
    old = datetime.now(UTC) - timedelta(minutes=30)
    ledger.check_and_record("cus_pro", "list_customers", event_id="lost", at=old, completes=True)  # its process died
    assert _stage(ledger, grace_seconds=3600).rows == 0
    assert _stage(ledger, grace_seconds=600).rows == 1


def test_identifiers_are_made_from_ledger_ids(ledger: Ledger) -> None:
    _call(ledger, "cus_pro", "a", T0)
    _stage(ledger)
    [row] = ledger.meter_events()
    seq = ledger.usage_events()[0][0]
    assert row.identifier == f"umcp-cus_pro-{int(T0.timestamp())}-{seq}"


def test_results_change_pending_rows_only(ledger: Ledger) -> None:
    _call(ledger, "cus_pro", "a", T0)
    _call(ledger, "cus_pro", "b", T0 + timedelta(seconds=5))
    _stage(ledger)
    first, second = ledger.pending_meter_events(event_name="mcp_api_call")
    ledger.record_meter_results([(first.identifier, "sent", None), (second.identifier, "pending", None)])
    ledger.record_meter_results([(first.identifier, "failed", "late")])  # already sent: unchanged
    rows = {r.identifier: (r.status, r.attempts, r.error) for r in ledger.meter_events()}
    assert rows == {first.identifier: ("sent", 1, None), second.identifier: ("pending", 1, None)}
    assert ledger.meter_backlog(event_name="mcp_api_call") == (1, second.ts)


def test_billable_calls_over_a_range(ledger: Ledger) -> None:
    _call(ledger, "cus_pro", "in", T0)
    _call(ledger, "cus_pro", "err", T0, status="error")
    _call(ledger, "cus_pro", "out", T0 + timedelta(days=40))
    _call(ledger, "cus_free", "free", T0)
    _call(ledger, "cus_pro", "same-second", T0 + timedelta(milliseconds=500))
    _call(ledger, "cus_pro", "next-second", T0 + timedelta(seconds=1))
    start, second = int(T0.timestamp()) - 60, int(T0.timestamp())
    assert ledger.billable_calls_per_second(start=start, end=start + 3600, tiers=PAYING) == {
        ("cus_pro", "pro"): [(second, 2), (second + 1, 1)]  # ok calls of paying tiers, per second, in range
    }


def test_calls_are_billed_on_the_tier_they_were_made_on(ledger: Ledger) -> None:
    """Staging reads each call's recorded tier, not the customer's tier when it stages: a pro call
    staged after a downgrade to free is reported; a free call staged after an upgrade is not."""
    ledger.upsert_customer("cus_down", tier="pro")
    ledger.upsert_customer("cus_up", tier="free")
    _call(ledger, "cus_down", "made-on-pro", T0)
    _call(ledger, "cus_up", "made-on-free", T0)
    ledger.upsert_customer("cus_down", tier="free")
    ledger.upsert_customer("cus_up", tier="pro")
    step = _stage(ledger)
    assert (step.rows, step.events) == (2, 1)
    assert [(r.customer_id, r.value) for r in ledger.meter_events()] == [("cus_down", 1)]
