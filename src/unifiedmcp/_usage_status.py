"""How a metered call ended: ``usage_events.status`` in the ledger and ``status`` in usage logs
(metrics.md §1). It lives below the ledger, which writes it, and the warehouse, which reads it.

- ``ok``, ``error``: the call ran and ended so. Only ``ok`` calls are billable (metrics.md §6).
- ``rejected``: refused past a hard limit; recorded, never counted against the quota.
- ``interrupted``: admitted (so counted against the quota) but never seen ending. The MCP server
  records each call as ``interrupted`` when it admits it and replaces that with ``ok`` or
  ``error`` when the call ends, in the same group-committed writes as before, so a call whose
  process died in between (SIGKILL, OOM, power) says so by itself, with no recovery pass to run.
  Not billable: the caller got no answer, and whether Stripe acted is unknown.

A recent ``interrupted`` row may be a call still running. Readers that copy rows once, by
``seq`` (the warehouse pull, exports), stop before it: see :data:`SETTLED_SQL`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ._times import utc_text

__all__ = ["IN_FLIGHT_SECONDS", "SETTLED_SQL", "USAGE_STATUSES", "in_flight_cutoff"]

USAGE_STATUSES = ("ok", "error", "rejected", "interrupted")

#: How long an ``interrupted`` row may still be a call in progress. A tool call ends well within
#: it: Stripe's client gives up after 80 s, and the server retries a request at most once.
IN_FLIGHT_SECONDS = 600

#: A condition on ``usage_events`` keeping the rows before the first one that may still change
#: (an ``interrupted`` row admitted after the cutoff). Parameters: the ``seq`` to scan from and
#: :func:`in_flight_cutoff`. One statement, so the rows and the bound come from one snapshot.
SETTLED_SQL = (
    " AND seq < coalesce((SELECT min(seq) FROM usage_events WHERE seq > ? AND status = 'interrupted'"
    " AND ts > ?), 9223372036854775807)"
)


def in_flight_cutoff(now: datetime | None = None) -> str:
    """The ledger time text before which an ``interrupted`` row is a call that will never end."""
    return utc_text((now or datetime.now(UTC)) - timedelta(seconds=IN_FLIGHT_SECONDS))
