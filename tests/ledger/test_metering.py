"""check_and_record: hard and soft limits, idempotent event ids, UTC months."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from unifiedmcp import QuotaExceeded, UnknownCustomer
from unifiedmcp.ledger import Ledger

OCT = datetime(2026, 10, 15, 12, tzinfo=UTC)


def test_free_tier_refuses_the_101st_call_and_records_it_as_rejected(ledger: Ledger) -> None:
    """The hard limit: 100 calls pass, the 101st raises QuotaExceeded with tier, limit, used and reset."""
    for i in range(100):
        a = ledger.check_and_record("cus_free", "list_customers", at=OCT)
    assert (a.used, a.remaining) == (100, 0)
    with pytest.raises(QuotaExceeded) as info:
        ledger.check_and_record("cus_free", "list_customers", event_id="call-101", at=OCT)
    e = info.value
    assert (e.customer, e.tier, e.limit, e.used) == ("cus_free", "free", 100, 100)
    assert e.resets_at == datetime(2026, 11, 1, tzinfo=UTC)
    rows = [r for r in ledger.usage_events() if r[1] == "call-101"]
    assert rows and rows[0][5] == "rejected"
    usage = ledger.usage("cus_free", month=_month("2026-10"))
    assert (usage.calls, usage.rejected) == (100, 1)


def test_soft_limits_admit_calls_past_the_limit_as_overage(ledger: Ledger) -> None:
    """Pro is a soft limit: the 10,001st call is admitted and counted as overage."""
    for i in range(10_001):
        a = ledger.check_and_record("cus_pro", "t", event_id=f"e{i}", at=OCT)
    assert (a.used, a.limit, a.overage, a.remaining) == (10_001, 10_000, 1, 0)
    assert ledger.usage("cus_pro", month=_month("2026-10")).overage == 1


def test_a_retried_event_id_counts_once(ledger: Ledger) -> None:
    """The same event id twice: one count, and the second answer says duplicate."""
    first = ledger.check_and_record("cus_pro", "t", event_id="retry-me", at=OCT)
    again = ledger.check_and_record("cus_pro", "t", event_id="retry-me", at=OCT)
    assert (first.duplicate, again.duplicate) == (False, True)
    assert first.used == again.used == 1
    assert ledger.usage("cus_pro", month=_month("2026-10")).calls == 1


def test_a_retried_rejected_call_is_rejected_again_without_counting(ledger: Ledger) -> None:
    for i in range(100):
        ledger.check_and_record("cus_free", "t", at=OCT)
    for _ in range(2):
        with pytest.raises(QuotaExceeded):
            ledger.check_and_record("cus_free", "t", event_id="late", at=OCT)
    assert ledger.usage("cus_free", month=_month("2026-10")).rejected == 1


def test_months_are_utc_calendar_months(ledger: Ledger) -> None:
    """A free customer at its limit on Oct 31 23:59:59 UTC may call again at Nov 1 00:00 UTC."""
    last_second = datetime(2026, 11, 1, tzinfo=UTC) - timedelta(seconds=1)
    for i in range(100):
        ledger.check_and_record("cus_free", "t", at=last_second)
    with pytest.raises(QuotaExceeded):
        ledger.check_and_record("cus_free", "t", at=last_second)
    a = ledger.check_and_record("cus_free", "t", at=datetime(2026, 11, 1, tzinfo=UTC))
    assert (a.month, a.used) == ("2026-11", 1)


def test_tier_changes_apply_to_the_next_call(ledger: Ledger) -> None:
    """Upgrading a free customer at its limit lets the next call through (the counter is kept)."""
    for i in range(100):
        ledger.check_and_record("cus_free", "t", at=OCT)
    ledger.set_tier("cus_free", "pro")
    assert ledger.check_and_record("cus_free", "t", at=OCT).used == 101


def test_unknown_and_deleted_customers_are_refused_and_nothing_is_recorded(ledger: Ledger) -> None:
    with pytest.raises(UnknownCustomer):
        ledger.check_and_record("cus_nobody", "t")
    ledger.upsert_customer("cus_gone", status="deleted")
    with pytest.raises(UnknownCustomer):
        ledger.check_and_record("cus_gone", "t")
    assert ledger.usage_events() == []


def test_complete_records_outcome_and_latency_but_never_unrejects(ledger: Ledger) -> None:
    a = ledger.check_and_record("cus_pro", "t", event_id="x", at=OCT)
    ledger.complete(a.event_id, status="error", latency_ms=12.5)
    row = ledger.usage_events()[0]
    assert (row[5], row[7]) == ("error", 12.5)
    for i in range(100):
        ledger.check_and_record("cus_free", "t", at=OCT)
    with pytest.raises(QuotaExceeded):
        ledger.check_and_record("cus_free", "t", event_id="r", at=OCT)
    ledger.complete("r", status="ok")
    assert [r[5] for r in ledger.usage_events() if r[1] == "r"] == ["rejected"]


def _month(text: str):
    from unifiedmcp import Month

    return Month.parse(text)


def test_generated_event_ids_are_unique_and_sort_by_creation(ledger: Ledger) -> None:
    """Default ids are time-ordered (they append to the event-id index) and never collide."""
    ids = [ledger.check_and_record("cus_pro", "t").event_id for _ in range(200)]
    assert len(set(ids)) == 200
    assert ids == sorted(ids)


def test_a_call_that_completes_later_reads_interrupted_until_it_completes(ledger: Ledger) -> None:
    """What the server does: the admission says `interrupted` (what it stays if the process dies
    before the call ends); complete() replaces it with the outcome. It is counted either way."""
    a = ledger.check_and_record("cus_pro", "t", event_id="long", at=OCT, completes=True)
    assert _status(ledger, "long") == ("interrupted", None)
    assert a.used == ledger.usage("cus_pro", month=_month("2026-10")).calls == 1
    ledger.complete("long", status="ok", latency_ms=40.0)
    assert _status(ledger, "long") == ("ok", 40.0)
    again = ledger.check_and_record("cus_pro", "t", event_id="long", at=OCT, completes=True)
    assert again.duplicate and _status(ledger, "long") == ("ok", 40.0)  # a retry changes nothing


def test_a_call_without_completion_is_recorded_ok_as_before(ledger: Ledger) -> None:
    ledger.check_and_record("cus_pro", "t", event_id="whole", at=OCT)
    assert _status(ledger, "whole") == ("ok", None)


def test_usage_events_stop_before_a_call_that_may_still_be_running(ledger: Ledger) -> None:
    """Readers copy rows once, by seq: they get nothing from the first recent `interrupted` row on
    (it may still end ok or error), and get an old one, a call that never ended, as it is."""
    now = datetime.now(UTC)
    ledger.check_and_record("cus_pro", "t", event_id="old-killed", at=now - timedelta(hours=1), completes=True)
    ledger.check_and_record("cus_pro", "t", event_id="done", at=now)
    ledger.check_and_record("cus_pro", "t", event_id="running", at=now, completes=True)
    ledger.check_and_record("cus_pro", "t", event_id="after", at=now)
    assert [r[1] for r in ledger.usage_events()] == ["old-killed", "done"]
    ledger.complete("running", status="error", latency_ms=5.0)
    assert [(r[1], r[5]) for r in ledger.usage_events()] == [
        ("old-killed", "interrupted"), ("done", "ok"), ("running", "error"), ("after", "ok"),
    ]


def _status(ledger: Ledger, event_id: str) -> tuple[str, float | None]:
    with ledger.transaction() as conn:
        row = conn.execute("SELECT status, latency_ms FROM usage_events WHERE event_id = ?", (event_id,)).fetchone()
    return row[0], row[1]
