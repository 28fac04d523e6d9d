"""Billing meters: create, list, retrieve, update, deactivate, reactivate; their event summaries.

A meter is immutable but for its display name; its event name is unique in the account (Stripe:
"You can only use an event name with a single meter"; the sandbox counts deactivated meters
too). Changes emit ``billing.meter.created`` / ``.updated`` / ``.deactivated`` / ``.reactivated``.
"""

from __future__ import annotations

import hashlib

from .. import _usage
from .._errors import invalid, missing_param
from .._objects import blank, new_id, to_int
from .._router import route
from .._state import Sandbox
from ._common import Obj, require, sget

KIND = "billing.meter"
_FORMULAS = ("count", "last", "sum")
_GROUPING = {"hour": 3600, "day": 86400}


def _payload_key(p: Obj, name: str, default: str) -> str:
    if name not in p:
        return default
    key = sget(p, name, "event_payload_key")
    if not key:
        raise missing_param(f"{name}[event_payload_key]")
    return str(key)


@route("POST", "/v1/billing/meters")
def meter_create(sb: Sandbox, p: Obj) -> Obj:
    display_name = require(p, "display_name")
    event_name = require(p, "event_name")
    formula = sget(p, "default_aggregation", "formula")
    if not formula:
        raise missing_param("default_aggregation[formula]")
    if formula not in _FORMULAS:
        raise invalid("Invalid default_aggregation[formula]: must be one of count, last, or sum", param="default_aggregation[formula]")
    if "customer_mapping" in p and sget(p, "customer_mapping", "type") != "by_id":
        raise invalid("Invalid customer_mapping[type]: must be by_id", param="customer_mapping[type]")
    window = p.get("event_time_window") or None
    if window not in (None, "day", "hour"):
        raise invalid("Invalid event_time_window: must be one of day or hour", param="event_time_window")
    for other in sb.store.iter(KIND):
        if other["event_name"] == event_name:
            raise invalid(f"A meter with event_name `{event_name}` already exists: `{other['id']}`.", param="event_name")
    now = sb.now()
    meter = blank(
        KIND,
        id=new_id("mtr_test", 32),  # Stripe's test-mode meter ids: mtr_test_ + 32 characters
        created=now,
        customer_mapping={"event_payload_key": _payload_key(p, "customer_mapping", "stripe_customer_id"), "type": "by_id"},
        default_aggregation={"formula": formula},
        display_name=display_name,
        event_name=event_name,
        event_time_window=window,
        status="active",
        status_transitions={"deactivated_at": None},
        updated=now,
        value_settings={"event_payload_key": _payload_key(p, "value_settings", "value")},
    )
    sb.store.put(meter)
    sb.emit("billing.meter.created", meter)
    return meter


@route("GET", "/v1/billing/meters")
def meter_list(sb: Sandbox, p: Obj) -> Obj:
    status = p.get("status")
    if status not in (None, "active", "inactive"):
        raise invalid("Invalid status: must be one of active or inactive", param="status")
    return sb.list(KIND, p, url="/v1/billing/meters", match=lambda m: status is None or m["status"] == status)


@route("GET", "/v1/billing/meters/{mid}")
def meter_retrieve(sb: Sandbox, p: Obj, mid: str) -> Obj:
    return sb.get(KIND, mid)


@route("POST", "/v1/billing/meters/{mid}")
def meter_update(sb: Sandbox, p: Obj, mid: str) -> Obj:
    meter = sb.get(KIND, mid)
    before = sb.snapshot(meter)
    if "display_name" in p:
        meter["display_name"] = require(p, "display_name")
        meter["updated"] = sb.now()
    sb.store.touch(meter)
    sb.emit_updated("billing.meter.updated", meter, before)
    return meter


def _set_status(sb: Sandbox, mid: str, status: str) -> Obj:
    meter = sb.get(KIND, mid)
    if meter["status"] == status:
        raise invalid(f"This meter is already {status}.", param="id")
    now = sb.now()
    meter["status"] = status
    meter["status_transitions"] = {"deactivated_at": now if status == "inactive" else None}
    meter["updated"] = now
    sb.store.touch(meter)
    sb.emit("billing.meter.deactivated" if status == "inactive" else "billing.meter.reactivated", meter)
    return meter


@route("POST", "/v1/billing/meters/{mid}/deactivate")
def meter_deactivate(sb: Sandbox, p: Obj, mid: str) -> Obj:
    """No more events are accepted for the meter, and no price can be attached to it."""
    return _set_status(sb, mid, "inactive")


@route("POST", "/v1/billing/meters/{mid}/reactivate")
def meter_reactivate(sb: Sandbox, p: Obj, mid: str) -> Obj:
    return _set_status(sb, mid, "active")


def _summary_id(mid: str, customer: str, start: int, end: int) -> str:
    # Derived, not random: the same window has the same id on every call, so list cursors work.
    digest = hashlib.sha256(f"{mid}|{customer}|{start}|{end}".encode()).hexdigest()
    return "mtrusg_test_" + digest[:48]


@route("GET", "/v1/billing/meters/{mid}/event_summaries")
def meter_event_summaries(sb: Sandbox, p: Obj, mid: str) -> Obj:
    """A customer's usage in ``[start_time, end_time)``: one summary, or one per hour or day with
    events (``value_grouping_window``), newest first."""
    meter = sb.get(KIND, mid)
    customer = sb.get("customer", require(p, "customer"), param="customer")["id"]
    start = to_int(require(p, "start_time"), param="start_time")
    end = to_int(require(p, "end_time"), param="end_time")
    grouping = p.get("value_grouping_window")
    if grouping is not None and grouping not in _GROUPING:
        raise invalid("Invalid value_grouping_window: must be one of day or hour", param="value_grouping_window")
    step = _GROUPING.get(grouping or "")
    unit = {None: "minute", 3600: "hour", 86400: "day"}[step]
    for name, t in (("start_time", start), ("end_time", end)):
        if t % (step or 60):
            raise invalid(f"{name} must be aligned with {unit} boundaries.", param=name)
    if end <= start:
        raise invalid("end_time must be after start_time.", param="end_time")
    data = [
        blank("billing.meter_event_summary", id=_summary_id(mid, customer, ws, we), aggregated_value=value,
              end_time=we, meter=mid, start_time=ws)
        for ws, we, value in _usage.windows(sb, meter, customer, start, end, step)
    ]
    return sb.list("billing.meter_event_summary", p, url=f"/v1/billing/meters/{mid}/event_summaries", source=data)
