"""UTC calendar months: parsing and half-open bounds (metrics.md §2)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from unifiedmcp import InvalidInput, Month


def test_bounds_are_half_open_in_utc() -> None:
    m = Month.parse("2026-12")
    assert m.start == datetime(2026, 12, 1, tzinfo=UTC)
    assert m.end == datetime(2027, 1, 1, tzinfo=UTC)
    assert m.previous == Month(2026, 11) and m.next == Month(2027, 1)
    assert Month.of(m.end) == m.next
    assert Month.of(m.end - timedelta(microseconds=1)) == m


def test_offsets_are_converted_to_utc() -> None:
    """23:30 on Oct 31 at UTC-2 is already November in UTC."""
    assert Month.of(datetime(2026, 10, 31, 23, 30, tzinfo=timezone(timedelta(hours=-2)))) == Month(2026, 11)


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-1", "26-10", "october", ""])
def test_malformed_months_are_rejected(text: str) -> None:
    with pytest.raises(InvalidInput):
        Month.parse(text)


def test_coerce_takes_a_month_or_its_text() -> None:
    """What public functions accept for a month: a Month passes through, text is parsed, bad text fails."""
    m = Month(2026, 9)
    assert Month.coerce(m) is m
    assert Month.coerce("2026-09") == m
    with pytest.raises(InvalidInput):
        Month.coerce("2026-13")


@pytest.mark.parametrize("text, message", [
    ("9999-01", "invalid month 9999-01: the year must be from 1970 to 9998"),
    ("1969-12", "invalid month 1969-12: the year must be from 1970 to 9998"),
    ("2026-13", "invalid month 2026-13: expected YYYY-MM with MM from 01 to 12"),
])
def test_an_out_of_range_year_or_month_is_named(text: str, message: str) -> None:
    """A year past the supported range says so, rather than blaming the month."""
    with pytest.raises(InvalidInput) as caught:
        Month.parse(text)
    assert str(caught.value) == message
