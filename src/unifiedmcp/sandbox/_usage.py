"""Meter events of one account: the identifier index and usage aggregated by a meter's formula.

Each accepted meter event is a stored object (kind ``billing.meter_event``, under a private id:
Stripe's meter events have none) carrying its meter, customer, integer value and whether a
meter event adjustment cancelled it. :class:`Book` indexes an account's events by identifier
(de-duplication) and by ``(meter, customer)`` in arrival order (aggregation); it is rebuilt from
the store the first time an account's events are needed after a restart.

Aggregation follows https://docs.stripe.com/billing/subscriptions/usage-based/recording-usage
("Aggregation formula", "Event ingestion"): ``sum`` adds the values, ``count`` counts the events,
``last`` takes the value of the event with the latest timestamp (the most recently received one
on a tie), and nothing reported is 0. A meter with ``event_time_window`` (pre-aggregated events)
keeps only the most recently received event of each UTC hour or day. Cancelled events never count.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from weakref import WeakKeyDictionary

from ._state import Sandbox

__all__ = ["Book", "book", "aggregate", "usage", "windows", "KIND"]

Obj = dict[str, Any]
KIND = "billing.meter_event"

_WINDOW_SECONDS = {"hour": 3600, "day": 86400}


class Book:
    """One account's meter events, indexed. Runs under the store lock like everything else."""

    def __init__(self, sb: Sandbox) -> None:
        self._by_identifier: dict[str, Obj] = {}
        self._by_key: dict[tuple[str, str], list[Obj]] = {}
        for event in sb.store.iter(KIND, newest_first=False):
            self._index(event)

    def _index(self, event: Obj) -> None:
        self._by_identifier[event["identifier"]] = event
        self._by_key.setdefault((event["_meter"], event["_customer"]), []).append(event)

    def add(self, sb: Sandbox, event: Obj) -> None:
        sb.store.put(event)
        self._index(event)

    def find(self, identifier: str) -> Obj | None:
        return self._by_identifier.get(identifier)

    def events(self, meter_id: str, customer: str) -> list[Obj]:
        """The customer's events of a meter, oldest received first."""
        return self._by_key.get((meter_id, customer), [])


_BOOKS: WeakKeyDictionary[Sandbox, Book] = WeakKeyDictionary()


def book(sb: Sandbox) -> Book:
    found = _BOOKS.get(sb)
    if found is None:
        found = _BOOKS[sb] = Book(sb)
    return found


def _counted(meter: Obj, events: Iterable[Obj]) -> list[Obj]:
    """The events that count, in arrival order: not cancelled, and for a pre-aggregated meter
    only the most recently received of each time window."""
    live = [e for e in events if not e["_cancelled"]]
    step = _WINDOW_SECONDS.get(meter.get("event_time_window") or "")
    if step is None:
        return live
    latest: dict[int, Obj] = {}
    for e in live:
        latest[e["timestamp"] // step] = e
    return sorted(latest.values(), key=lambda e: e["_seq"])


def aggregate(meter: Obj, events: Iterable[Obj]) -> int:
    """The meter's formula over ``events`` (already limited to the time range wanted)."""
    counted = _counted(meter, events)
    formula = meter["default_aggregation"]["formula"]
    if formula == "count":
        return len(counted)
    if formula == "last":
        if not counted:
            return 0
        # max() keeps the first of equal keys, so compare arrival too: the latest received wins a tie.
        return max(enumerate(counted), key=lambda pair: (pair[1]["timestamp"], pair[0]))[1]["_value"]
    return sum(e["_value"] for e in counted)


def _between(events: Iterable[Obj], start: int, end: int) -> Iterator[Obj]:
    return (e for e in events if start <= e["timestamp"] < end)


def usage(sb: Sandbox, meter_id: str, customer: str, start: int, end: int) -> int:
    """A customer's usage of a meter over ``[start, end)`` by event timestamp, as billed: a
    negative total is 0 ("If the overall cycle usage is negative, Stripe reports the invoice line
    item usage quantity as 0")."""
    meter = sb.store.get(meter_id, "billing.meter")
    if meter is None:
        return 0
    return max(0, aggregate(meter, _between(book(sb).events(meter_id, customer), start, end)))


def windows(sb: Sandbox, meter: Obj, customer: str, start: int, end: int, step: int | None) -> list[tuple[int, int, int]]:
    """``(window start, window end, aggregated value)`` newest first: one window for the whole
    range when ``step`` is ``None``, else one per ``step`` seconds that holds a counted event."""
    events = list(_between(book(sb).events(meter["id"], customer), start, end))
    if step is None:
        return [(start, end, aggregate(meter, events))]
    grouped: dict[int, list[Obj]] = {}
    for e in events:
        grouped.setdefault(start + (e["timestamp"] - start) // step * step, []).append(e)
    out = []
    for window_start in sorted(grouped, reverse=True):
        if _counted(meter, grouped[window_start]):
            out.append((window_start, min(window_start + step, end), aggregate(meter, grouped[window_start])))
    return out
