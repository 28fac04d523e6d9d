"""Meter events (``POST /v1/billing/meter_events``) and meter event adjustments (cancel).

Stripe validates part of a meter event when it is received and reports the rest later,
asynchronously, as ``v1.billing.meter.error_report_triggered`` events (v2 event destinations,
which the sandbox does not have). The sandbox checks everything at once and answers 400
``invalid_request_error``; where Stripe's error report has a code for the problem, the 400
carries that code, so a caller can treat both the same way:

| problem | code | message |
|---|---|---|
| no active meter has the event name | ``no_meter`` | ``No active meter found for event name "X".`` |
| identifier already used (kept for the account's lifetime; Stripe: "at least 24 hours") | none | ``An event already exists with identifier X.`` |
| payload lacks the customer key | ``meter_event_no_customer_defined`` | ``Customer mapping key stripe_customer_id not found in payload.`` |
| no such customer (or deleted) | ``meter_event_customer_not_found`` | ``No such customer: 'cus_X'`` |
| timestamp more than 35 days (35 × 86,400 s) back | ``timestamp_too_far_in_past`` | ``The event timestamp cannot be more than 35 days in past. Expected a timestamp greater than or equal to T.`` |
| timestamp more than 5 minutes ahead | ``timestamp_in_future`` | ``The event timestamp cannot be more than 5 minutes in the future. Expected a timestamp less than or equal to T.`` |
| value missing or not a whole number (``sum``/``last`` meters) | ``meter_event_invalid_value`` | ``Meter event value must be a whole number: 'x'.`` |

"Now" is the customer's test clock time when the customer is on a test clock. The past-timestamp
and duplicate wordings are Stripe's as seen on the wire; the others follow them.

Failure injection: ``chaos_meter_event_failure_rate`` (see :class:`~.._settings.SandboxSettings`).
"""

from __future__ import annotations

import re
import uuid

from .. import _usage
from .._errors import StripeError, invalid, missing_param, rate_limited
from .._objects import blank, new_id, to_int
from .._router import route
from .._state import Sandbox
from ._common import Obj, require, sget

_PAST_SECONDS = 35 * 86400
_FUTURE_SECONDS = 5 * 60
_CANCEL_WINDOW_SECONDS = 24 * 3600  # "You can only cancel events sent to Stripe within the last 24 hours."
_WHOLE = re.compile(r"^-?\d+$")


def _injected_fault(sb: Sandbox) -> str | None:
    rate = sb.settings.chaos_meter_event_failure_rate
    if rate <= 0 or sb.chaos.random() >= rate:
        return None
    return sb.chaos.choice(("rate_limit", "error", "error_after_recording"))


def _injected_error(*, recorded: bool) -> StripeError:
    state = "the event was recorded" if recorded else "nothing was recorded"
    return StripeError(500, type="api_error", message=f"Injected failure (chaos_meter_event_failure_rate): {state}.")


def _active_meter(sb: Sandbox, event_name: str) -> Obj:
    for meter in sb.store.iter("billing.meter"):
        if meter["event_name"] == event_name and meter["status"] == "active":
            return meter
    raise invalid(f'No active meter found for event name "{event_name}".', param="event_name", code="no_meter")


def _value(meter: Obj, payload: Obj) -> int:
    key = meter["value_settings"]["event_payload_key"]
    raw = payload.get(key)
    if raw is None and meter["default_aggregation"]["formula"] == "count":
        return 1  # a count meter counts events; their value is not read
    if not isinstance(raw, str) or not _WHOLE.match(raw):
        raise invalid(f"Meter event value must be a whole number: '{raw}'.", param=f"payload[{key}]", code="meter_event_invalid_value")
    return int(raw)


def _view(event: Obj) -> Obj:
    """The event as the API shows it: Stripe's keys only (the stored id is the sandbox's own)."""
    return {k: event[k] for k in ("created", "event_name", "identifier", "livemode", "object", "payload", "timestamp")}


@route("POST", "/v1/billing/meter_events")
def meter_event_create(sb: Sandbox, p: Obj) -> Obj:
    fault = _injected_fault(sb)
    if fault == "rate_limit":
        raise rate_limited()
    if fault == "error":
        raise _injected_error(recorded=False)
    event_name = require(p, "event_name")
    payload = p.get("payload")
    if not isinstance(payload, dict) or not payload:
        raise missing_param("payload")
    meter = _active_meter(sb, event_name)
    identifier = str(p.get("identifier") or uuid.uuid4())
    if len(identifier) > 100:
        raise invalid("Invalid identifier: must be at most 100 characters", param="identifier")
    book = _usage.book(sb)
    if book.find(identifier) is not None:
        raise invalid(f"An event already exists with identifier {identifier}.", param="identifier")
    key = meter["customer_mapping"]["event_payload_key"]
    cid = payload.get(key)
    if not cid:
        raise invalid(f"Customer mapping key {key} not found in payload.", param=f"payload[{key}]",
                      code="meter_event_no_customer_defined")
    customer = sb.store.get(str(cid), "customer")
    if customer is None or customer.get("deleted"):
        raise invalid(f"No such customer: '{cid}'", param=f"payload[{key}]", code="meter_event_customer_not_found")
    now = sb.now(customer.get("test_clock"))
    timestamp = to_int(p["timestamp"], param="timestamp") if p.get("timestamp") not in (None, "") else now
    if timestamp < now - _PAST_SECONDS:
        raise invalid("The event timestamp cannot be more than 35 days in past. Expected a timestamp greater than or "
                      f"equal to {now - _PAST_SECONDS}.", param="timestamp", code="timestamp_too_far_in_past")
    if timestamp > now + _FUTURE_SECONDS:
        raise invalid("The event timestamp cannot be more than 5 minutes in the future. Expected a timestamp less than "
                      f"or equal to {now + _FUTURE_SECONDS}.", param="timestamp", code="timestamp_in_future")
    event = blank(
        _usage.KIND,
        created=now,
        event_name=event_name,
        identifier=identifier,
        payload={str(k): str(v) for k, v in payload.items()},
        timestamp=timestamp,
        _meter=meter["id"],
        _customer=customer["id"],
        _value=_value(meter, payload),
        _cancelled=False,
    )
    event["id"] = new_id("mtrevt")  # the store's key; never shown (see _view)
    book.add(sb, event)
    if fault == "error_after_recording":
        raise _injected_error(recorded=True)
    return _view(event)


@route("POST", "/v1/billing/meter_event_adjustments")
def meter_event_adjustment_create(sb: Sandbox, p: Obj) -> Obj:
    """Cancel one event by identifier, within 24 hours of its receipt. Applied at once (status
    ``complete``); cancelling a cancelled event again is accepted and changes nothing. Usage on a
    finalized invoice is not corrected, as with Stripe."""
    event_name = require(p, "event_name")
    if require(p, "type") != "cancel":
        raise invalid("Invalid type: must be cancel", param="type")
    identifier = sget(p, "cancel", "identifier")
    if not identifier:
        raise missing_param("cancel[identifier]")
    event = _usage.book(sb).find(identifier)
    if event is None or event["event_name"] != event_name:
        raise invalid(f"No meter event with identifier {identifier} was found for event name \"{event_name}\".",
                      param="cancel[identifier]")
    customer = sb.store.get(event["_customer"], "customer") or {}
    if sb.now(customer.get("test_clock")) - event["created"] > _CANCEL_WINDOW_SECONDS:
        raise invalid("Meter events can only be cancelled within 24 hours of being received.", param="cancel[identifier]")
    if not event["_cancelled"]:
        event["_cancelled"] = True
        sb.store.touch(event)
    return blank("billing.meter_event_adjustment", cancel={"identifier": identifier}, event_name=event_name,
                 status="complete", type="cancel")
