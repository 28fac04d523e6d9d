"""UTC calendar months, the period of quotas and reports (metrics.md §2)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from .errors import InvalidInput

__all__ = ["Month"]

_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
FIRST_YEAR = 1970  # Unix time
LAST_YEAR = 9998  # the end of 9999-12 would be in year 10000, past what datetime holds


@dataclass(frozen=True, order=True)
class Month:
    """A report month: the half-open UTC interval ``[start, next.start)``."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise InvalidInput(f"invalid month {self}: expected YYYY-MM with MM from 01 to 12")
        if not FIRST_YEAR <= self.year <= LAST_YEAR:
            raise InvalidInput(f"invalid month {self}: the year must be from {FIRST_YEAR} to {LAST_YEAR}")

    @classmethod
    def parse(cls, text: str) -> Month:
        """Parse ``YYYY-MM``; anything else is an :class:`InvalidInput`."""
        m = _MONTH_RE.match(text.strip()) if isinstance(text, str) else None
        if not m:
            raise InvalidInput(f"invalid month {text!r}: expected YYYY-MM, e.g. 2026-10")
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def coerce(cls, value: Month | str) -> Month:
        """``value`` itself if it is a Month, else :meth:`parse` of it (what public functions accept)."""
        return value if isinstance(value, Month) else cls.parse(value)

    @classmethod
    def of(cls, instant: datetime) -> Month:
        """The month containing ``instant`` (naive datetimes are UTC)."""
        if instant.tzinfo is not None:
            instant = instant.astimezone(UTC)
        return cls(instant.year, instant.month)

    @classmethod
    def current(cls) -> Month:
        return cls.of(datetime.now(UTC))

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    @property
    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    @property
    def end(self) -> datetime:
        """The exclusive end: the first instant of the next month."""
        return self.next.start

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"
