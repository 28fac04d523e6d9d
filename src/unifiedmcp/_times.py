"""Times as the project stores them: the ledger's ISO-8601 UTC text with microseconds and a Z,
and the warehouse's naive UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["naive_utc", "utc_text"]


def utc_text(at: datetime | None = None) -> str:
    """``at`` (default: now; naive means UTC) as ``2026-11-26T20:01:50.123456Z``.

    The text sorts like the time, and its first 7 characters are the UTC month. It is on every
    metered call's path, hence isoformat and a slice rather than strftime.
    """
    if at is None:
        at = datetime.now(UTC)
    elif at.tzinfo is not None and at.tzinfo is not UTC:
        at = at.astimezone(UTC)
    return at.isoformat(timespec="microseconds")[:26] + "Z"  # drops "+00:00"


def naive_utc(at: datetime) -> datetime:
    """``at`` as the warehouse stores times (DuckDB TIMESTAMP): naive, in UTC. Naive input is UTC."""
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo is not None else at
