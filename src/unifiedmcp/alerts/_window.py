"""The period alerts look at: a report month (as of its end, or now if earlier), or the last
hours or days (``--since 24h``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..errors import InvalidInput
from ..months import Month

__all__ = ["Window", "parse_duration"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhd])\s*$")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}


def parse_duration(text: str) -> timedelta:
    """``"90m"``, ``"24h"``, ``"7d"`` as a timedelta; anything else is an InvalidInput."""
    m = _DURATION.match(text) if isinstance(text, str) else None
    if not m or float(m.group(1)) <= 0:
        raise InvalidInput(f"invalid duration {text!r}: expected a number and m, h or d, e.g. 24h")
    return float(m.group(1)) * _UNITS[m.group(2)]


@dataclass(frozen=True)
class Window:
    """``[start, end)`` in UTC; ``end`` is also the instant the window is judged "as of"."""

    start: datetime
    end: datetime
    label: str

    @classmethod
    def month(cls, month: Month | str, *, now: datetime | None = None) -> Window:
        """Month ``month``, up to its end or to ``now`` (default: the clock) if that is earlier."""
        m = Month.coerce(month)
        return cls(m.start, min(m.end, now or datetime.now(UTC)), str(m))

    @classmethod
    def since(cls, duration: str | timedelta, *, now: datetime | None = None) -> Window:
        """The last ``duration`` (``"24h"`` or a timedelta) up to ``now`` (default: the clock)."""
        span = parse_duration(duration) if isinstance(duration, str) else duration
        end = now or datetime.now(UTC)
        label = duration if isinstance(duration, str) else f"{span.total_seconds() / 3600:g}h"
        return cls(end - span, end, f"last {label.strip()}")

    @classmethod
    def of(cls, value: Window | Month | str, *, now: datetime | None = None) -> Window:
        """``value`` itself if it is a Window, else the window of that month."""
        return value if isinstance(value, Window) else cls.month(value, now=now)

    def as_dict(self) -> dict[str, str]:
        return {"label": self.label, "start": self.start.isoformat(), "end": self.end.isoformat()}
