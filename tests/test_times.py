"""The project's time forms: utc_text in the ledger (sorts like the time, month first), naive_utc in the warehouse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from unifiedmcp._times import naive_utc, utc_text


def test_utc_naive_and_offset_times_become_the_same_utc_text() -> None:
    """A UTC time, the same instant at +02:00, and a naive time (taken as UTC) all read alike."""
    expected = "2026-11-04T01:02:03.000005Z"
    assert utc_text(datetime(2026, 11, 4, 1, 2, 3, 5, tzinfo=UTC)) == expected
    assert utc_text(datetime(2026, 11, 4, 3, 2, 3, 5, tzinfo=timezone(timedelta(hours=2)))) == expected
    assert utc_text(datetime(2026, 11, 4, 1, 2, 3, 5)) == expected
    assert utc_text(datetime(2026, 11, 4, tzinfo=timezone.utc)) == "2026-11-04T00:00:00.000000Z"


def test_an_offset_can_move_a_time_into_the_next_utc_month() -> None:
    """The first 7 characters are the UTC month, not the local one."""
    text = utc_text(datetime(2026, 11, 30, 23, 30, tzinfo=timezone(timedelta(hours=-2))))
    assert text == "2026-12-01T01:30:00.000000Z" and text[:7] == "2026-12"


def test_default_is_now() -> None:
    before = utc_text(datetime.now(UTC))
    now = utc_text()
    assert before <= now <= utc_text(datetime.now(UTC) + timedelta(seconds=1))


def test_naive_utc_is_the_warehouse_time() -> None:
    """Aware times become naive UTC (an offset is converted, not dropped); naive times are UTC already."""
    assert naive_utc(datetime(2026, 10, 1, 2, 0, tzinfo=timezone(timedelta(hours=2)))) == datetime(2026, 10, 1, 0, 0)
    assert naive_utc(datetime(2026, 10, 1, tzinfo=UTC)) == datetime(2026, 10, 1)
    assert naive_utc(datetime(2026, 10, 1, 5)) == datetime(2026, 10, 1, 5)
