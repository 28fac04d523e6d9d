"""Billing meters, meter events, adjustments and event summaries through stripe-python 16."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest
import stripe

from unifiedmcp.sandbox import SandboxServer, WebhookReceiver, serve_in_thread

from .helpers import connect

T0 = int(datetime(2026, 3, 1, tzinfo=timezone.utc).timestamp())
HOUR, DAY = 3600, 86400


def meter(client: stripe.StripeClient, formula: str = "sum", **extra: Any) -> stripe.billing.Meter:
    """A meter with a fresh event name (the shared sandbox's meters accumulate)."""
    return client.v1.billing.meters.create({
        "display_name": "MCP calls", "event_name": f"mcp_api_call_{uuid.uuid4().hex[:8]}",
        "default_aggregation": {"formula": formula}, **extra,
    })


def clocked_customer(client: stripe.StripeClient, at: int = T0) -> stripe.Customer:
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": at})
    return client.v1.customers.create({"test_clock": clock.id})


def record(client: stripe.StripeClient, m: stripe.billing.Meter, customer: str, value: str = "1", **extra: Any) -> stripe.billing.MeterEvent:
    return client.v1.billing.meter_events.create(
        {"event_name": m.event_name, "payload": {"stripe_customer_id": customer, "value": value}, **extra})


def error_of(call: Any) -> dict[str, Any]:
    with pytest.raises(stripe.StripeError) as exc:
        call()
    assert exc.value.http_status == 400, exc.value
    return exc.value.json_body["error"]


def summaries(client: stripe.StripeClient, m: stripe.billing.Meter, customer: str, start: int, end: int, **extra: Any) -> list[tuple[int, int, float]]:
    page = client.v1.billing.meters.event_summaries.list(
        m.id, {"customer": customer, "start_time": start, "end_time": end, "limit": 100, **extra})
    return [(s.start_time, s.end_time, s.aggregated_value) for s in page.data]


def test_meter_lifecycle_create_update_deactivate_reactivate_with_events(sandbox: SandboxServer) -> None:
    """Defaults for the payload keys, list filtered by status, display_name the only change,
    and one billing.meter.* event per step (updated with previous_attributes)."""
    client = sandbox.client()
    m = meter(client)
    assert m.id.startswith("mtr_test_") and m.status == "active"
    assert m.customer_mapping.to_dict() == {"event_payload_key": "stripe_customer_id", "type": "by_id"}
    assert m.value_settings.event_payload_key == "value" and m.event_time_window is None
    assert client.v1.billing.meters.retrieve(m.id).event_name == m.event_name
    renamed = client.v1.billing.meters.update(m.id, {"display_name": "Tool calls"})
    assert renamed.display_name == "Tool calls"
    off = client.v1.billing.meters.deactivate(m.id)
    assert off.status == "inactive" and off.status_transitions.deactivated_at is not None
    assert m.id in {x.id for x in client.v1.billing.meters.list({"status": "inactive", "limit": 100}).data}
    assert m.id not in {x.id for x in client.v1.billing.meters.list({"status": "active", "limit": 100}).data}
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.billing.meters.deactivate(m.id)
    on = client.v1.billing.meters.reactivate(m.id)
    assert on.status == "active" and on.status_transitions.deactivated_at is None
    events = client.v1.events.list({"type": "billing.meter.*", "limit": 100}).data
    assert [e.type for e in reversed(events) if e.data.object.id == m.id] == [
        "billing.meter.created", "billing.meter.updated", "billing.meter.deactivated", "billing.meter.reactivated"]
    updated = client.v1.events.list({"type": "billing.meter.updated", "limit": 1}).data[0]
    assert updated.data.previous_attributes["display_name"] == "MCP calls"


def test_event_name_is_unique_within_an_account_only(sandbox: SandboxServer) -> None:
    """A second meter with the same event name (even beside a deactivated one) is refused; another
    account has meters of its own and may reuse the name."""
    client = sandbox.client()
    m = meter(client)
    client.v1.billing.meters.deactivate(m.id)
    err = error_of(lambda: client.v1.billing.meters.create(
        {"display_name": "x", "event_name": m.event_name, "default_aggregation": {"formula": "sum"}}))
    assert err["param"] == "event_name"
    _, other_key = sandbox.create_account()
    other = sandbox.client(api_key=other_key)
    twin = other.v1.billing.meters.create({"display_name": "x", "event_name": m.event_name, "default_aggregation": {"formula": "sum"}})
    assert [x.id for x in other.v1.billing.meters.list().data] == [twin.id]
    with pytest.raises(stripe.InvalidRequestError) as exc:
        other.v1.billing.meters.retrieve(m.id)
    assert exc.value.http_status == 404


def test_meter_event_answers_stripes_shape_and_dedupes_identifiers(sandbox: SandboxServer) -> None:
    """The answer echoes the event; the same identifier again is Stripe's 400 "An event already
    exists with identifier ..." (no code) and is not counted twice."""
    client = sandbox.client()
    m = meter(client)
    cus = clocked_customer(client)
    ev = record(client, m, cus.id, "25", identifier="call-1", timestamp=T0 - 60)
    assert ev.to_dict() == {"created": T0, "event_name": m.event_name, "identifier": "call-1", "livemode": False,
                            "object": "billing.meter_event", "payload": {"stripe_customer_id": cus.id, "value": "25"},
                            "timestamp": T0 - 60}
    err = error_of(lambda: record(client, m, cus.id, "25", identifier="call-1", timestamp=T0 - 60))
    assert err["message"] == "An event already exists with identifier call-1." and "code" not in err
    assert record(client, m, cus.id, "5").identifier  # without an identifier, one is generated
    assert summaries(client, m, cus.id, T0 - HOUR, T0 + HOUR) == [(T0 - HOUR, T0 + HOUR, 30)]


def test_timestamp_window_is_35_days_back_and_5_minutes_ahead_of_the_test_clock(sandbox: SandboxServer) -> None:
    """Measured from the customer's test clock, not the wall clock: both edges are accepted, one
    second beyond is refused with Stripe's message and the error report's code."""
    client = sandbox.client()
    m = meter(client)
    cus = clocked_customer(client)
    record(client, m, cus.id, timestamp=T0 - 35 * DAY)
    record(client, m, cus.id, timestamp=T0 + 300)
    past = error_of(lambda: record(client, m, cus.id, timestamp=T0 - 35 * DAY - 1))
    assert past["message"] == ("The event timestamp cannot be more than 35 days in past. Expected a timestamp greater "
                               f"than or equal to {T0 - 35 * DAY}.")
    assert (past["code"], past["param"]) == ("timestamp_too_far_in_past", "timestamp")
    future = error_of(lambda: record(client, m, cus.id, timestamp=T0 + 301))
    assert future["code"] == "timestamp_in_future" and str(T0 + 300) in future["message"]


def test_unknown_meter_customer_and_value_are_refused_with_error_report_codes(sandbox: SandboxServer) -> None:
    """No active meter (unknown or deactivated), no customer key, an unknown or deleted customer,
    a value that is not a whole number: 400s naming the problem; nothing is recorded."""
    client = sandbox.client()
    m = meter(client)
    cus = client.v1.customers.create({})
    gone = client.v1.customers.create({})
    client.v1.customers.delete(gone.id)
    err = error_of(lambda: client.v1.billing.meter_events.create(
        {"event_name": "no_such_event", "payload": {"stripe_customer_id": cus.id, "value": "1"}}))
    assert (err["code"], err["message"]) == ("no_meter", 'No active meter found for event name "no_such_event".')
    assert error_of(lambda: client.v1.billing.meter_events.create(
        {"event_name": m.event_name, "payload": {"value": "1"}}))["code"] == "meter_event_no_customer_defined"
    for missing in ("cus_doesnotexist", gone.id):
        err = error_of(lambda: record(client, m, missing))
        assert (err["code"], err["message"]) == ("meter_event_customer_not_found", f"No such customer: '{missing}'")
    for bad in ("2.5", "ten", ""):
        assert error_of(lambda: record(client, m, cus.id, bad))["code"] == "meter_event_invalid_value"
    record(client, m, cus.id, "-3")  # whole numbers may be negative (corrections)
    client.v1.billing.meters.deactivate(m.id)
    assert error_of(lambda: record(client, m, cus.id))["code"] == "no_meter"
    err = error_of(lambda: client.v1.billing.meter_events.create(
        {"event_name": m.event_name, "payload": {"stripe_customer_id": cus.id}, "unknown_param": "x"}))
    assert err["message"] == "Received unknown parameter: unknown_param"


def test_custom_payload_keys_and_count_meters(sandbox: SandboxServer) -> None:
    """customer_mapping / value_settings name the payload keys; a count meter counts events and
    does not need a value."""
    client = sandbox.client()
    now = int(datetime.now(timezone.utc).timestamp()) // HOUR * HOUR
    cus = client.v1.customers.create({})
    custom = meter(client, customer_mapping={"event_payload_key": "account", "type": "by_id"},
                   value_settings={"event_payload_key": "tokens"})
    client.v1.billing.meter_events.create({"event_name": custom.event_name, "payload": {"account": cus.id, "tokens": "7"}})
    assert error_of(lambda: record(client, custom, cus.id))["code"] == "meter_event_no_customer_defined"
    counter = meter(client, "count")
    for _ in range(3):
        client.v1.billing.meter_events.create({"event_name": counter.event_name, "payload": {"stripe_customer_id": cus.id}})
    window = (now - DAY, now + DAY)
    assert summaries(client, custom, cus.id, *window) == [(*window, 7)]
    assert summaries(client, counter, cus.id, *window) == [(*window, 3)]


def test_summaries_group_by_hour_and_day_newest_first_by_formula(sandbox: SandboxServer) -> None:
    """value_grouping_window=hour|day: one summary per window holding events, newest first; sum
    adds, last takes the latest timestamp's value; times must align to the window."""
    client = sandbox.client()
    cus = clocked_customer(client, T0 + 2 * DAY)
    total, latest = meter(client, "sum"), meter(client, "last")
    for offset, value in ((10, "4"), (HOUR + 5, "6"), (HOUR + 50, "2"), (DAY + 7, "9")):
        for m in (total, latest):
            record(client, m, cus.id, value, timestamp=T0 + offset)
    assert summaries(client, total, cus.id, T0, T0 + 2 * DAY, value_grouping_window="hour") == [
        (T0 + DAY, T0 + DAY + HOUR, 9), (T0 + HOUR, T0 + 2 * HOUR, 8), (T0, T0 + HOUR, 4)]
    assert summaries(client, total, cus.id, T0, T0 + 2 * DAY, value_grouping_window="day") == [
        (T0 + DAY, T0 + 2 * DAY, 9), (T0, T0 + DAY, 12)]
    assert summaries(client, latest, cus.id, T0, T0 + DAY) == [(T0, T0 + DAY, 2)]
    assert summaries(client, total, cus.id, T0 + 60, T0 + HOUR) == [(T0 + 60, T0 + HOUR, 0)]
    assert error_of(lambda: summaries(client, total, cus.id, T0 + 1, T0 + HOUR))["param"] == "start_time"
    assert error_of(lambda: summaries(client, total, cus.id, T0 + 60, T0 + HOUR, value_grouping_window="hour"))["param"] == "start_time"
    page = client.v1.billing.meters.event_summaries.list(
        total.id, {"customer": cus.id, "start_time": T0, "end_time": T0 + 2 * DAY, "value_grouping_window": "hour", "limit": 2})
    assert page.has_more
    rest = client.v1.billing.meters.event_summaries.list(
        total.id, {"customer": cus.id, "start_time": T0, "end_time": T0 + 2 * DAY, "value_grouping_window": "hour",
                   "starting_after": page.data[-1].id})
    assert [s.aggregated_value for s in rest.data] == [4]


def test_pre_aggregated_meter_counts_the_latest_event_of_each_window(sandbox: SandboxServer) -> None:
    """event_time_window=hour: within one hour only the most recently received event counts."""
    client = sandbox.client()
    cus = clocked_customer(client, T0 + DAY)
    m = meter(client, event_time_window="hour")
    for offset, value in ((10, "100"), (20, "40"), (HOUR + 1, "5")):
        record(client, m, cus.id, value, timestamp=T0 + offset)
    assert summaries(client, m, cus.id, T0, T0 + DAY) == [(T0, T0 + DAY, 45)]


def test_adjustment_cancels_an_event_within_24_hours_of_receipt(sandbox: SandboxServer) -> None:
    """A cancelled event leaves the summaries; cancelling again is accepted; an unknown identifier
    or an event received more than 24 hours ago (by the customer's clock) is refused."""
    client = sandbox.client()
    m = meter(client)
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": T0})
    cus = client.v1.customers.create({"test_clock": clock.id})
    record(client, m, cus.id, "10", identifier="keep", timestamp=T0 - 60)
    record(client, m, cus.id, "90", identifier="oops", timestamp=T0 - 60)
    cancel = {"event_name": m.event_name, "type": "cancel", "cancel": {"identifier": "oops"}}
    adj = client.v1.billing.meter_event_adjustments.create(cancel)
    assert adj.to_dict() == {"cancel": {"identifier": "oops"}, "event_name": m.event_name, "livemode": False,
                             "object": "billing.meter_event_adjustment", "status": "complete", "type": "cancel"}
    assert client.v1.billing.meter_event_adjustments.create(cancel).status == "complete"
    assert summaries(client, m, cus.id, T0 - HOUR, T0) == [(T0 - HOUR, T0, 10)]
    assert error_of(lambda: client.v1.billing.meter_event_adjustments.create(
        {**cancel, "cancel": {"identifier": "nope"}}))["param"] == "cancel[identifier]"
    client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": T0 + DAY + 1})
    assert "24 hours" in error_of(lambda: client.v1.billing.meter_event_adjustments.create(
        {**cancel, "cancel": {"identifier": "keep"}}))["message"]


def test_restricted_key_needs_the_billing_meter_permissions(sandbox: SandboxServer) -> None:
    """rak_billing_meter_read lists meters and summaries but cannot record events (403 naming
    rak_billing_meter_write); a key without it cannot even list."""
    client = sandbox.client()
    m = meter(client)
    cus = client.v1.customers.create({})
    reader = sandbox.client(api_key=sandbox.create_restricted_key(["rak_billing_meter_read"]))
    assert reader.v1.billing.meters.retrieve(m.id).id == m.id
    with pytest.raises(stripe.PermissionError) as exc:
        record(reader, m, cus.id)
    assert "'rak_billing_meter_write'" in (exc.value.user_message or "")
    writer = sandbox.client(api_key=sandbox.create_restricted_key(["rak_billing_meter_write", "rak_customer_read"]))
    assert record(writer, m, cus.id).event_name == m.event_name
    outsider = sandbox.client(api_key=sandbox.create_restricted_key(["rak_customer_read"]))
    with pytest.raises(stripe.PermissionError) as exc:
        outsider.v1.billing.meters.list()
    assert "'rak_billing_meter_read'" in (exc.value.user_message or "")


def test_a_customer_of_another_account_is_unknown_to_the_meter(sandbox: SandboxServer) -> None:
    """Accounts do not share customers: an event naming another account's customer is refused."""
    client = sandbox.client()
    m = meter(client)
    _, other_key = sandbox.create_account()
    stranger = sandbox.client(api_key=other_key).v1.customers.create({})
    assert error_of(lambda: record(client, m, stranger.id))["code"] == "meter_event_customer_not_found"


def test_a_platform_meters_usage_on_a_connected_account(sandbox: SandboxServer) -> None:
    """Through Stripe-Account the meter and its events live in the connected account (its own key
    sees them), and billing.meter.created reaches the platform's Connect endpoint with account."""
    platform_key = sandbox.create_account()[1]
    platform = sandbox.client(api_key=platform_key)
    token = connect(sandbox, platform_key=platform_key)
    acct = {"stripe_account": token["stripe_user_id"]}
    with WebhookReceiver() as hub:
        platform.v1.webhook_endpoints.create({"url": hub.url, "enabled_events": ["billing.meter.created"], "connect": True})
        m = platform.v1.billing.meters.create({"display_name": "calls", "event_name": "calls",
                                               "default_aggregation": {"formula": "sum"}}, acct)
        cus = platform.v1.customers.create({}, acct)
        platform.v1.billing.meter_events.create(
            {"event_name": "calls", "payload": {"stripe_customer_id": cus.id, "value": "4"}}, acct)
        sandbox.wait_for_webhooks()
        assert [(e["type"], e["data"]["object"]["id"], e["account"]) for e in hub.events()] == [
            ("billing.meter.created", m.id, token["stripe_user_id"])]
    own = sandbox.client(api_key=token["access_token"])
    now = int(datetime.now(timezone.utc).timestamp()) // HOUR * HOUR
    assert summaries(own, m, cus.id, now - DAY, now + DAY) == [(now - DAY, now + DAY, 4)]
    assert platform.v1.billing.meters.list().data == []


def test_chaos_fails_a_reproducible_share_of_meter_events_some_after_recording(sandbox: SandboxServer) -> None:
    """chaos_meter_event_failure_rate=0.5 with a seed: about half fail, as 429 rate_limit or 500
    api_error; the same seed gives the same sequence; an event whose 500 came after recording is
    there (its retry is a duplicate), the others are not."""
    client = sandbox.client()
    m = meter(client)
    cus = client.v1.customers.create({})
    http = httpx.Client(base_url=sandbox.url, headers={"Authorization": f"Bearer {sandbox.api_key}"})

    def run() -> list[int]:
        sandbox.settings(chaos_meter_event_failure_rate=0.5, chaos_seed=7)
        statuses = []
        for i in range(60):
            r = http.post("/v1/billing/meter_events", data={
                "event_name": m.event_name, "identifier": f"{uuid.uuid4()}", "payload[stripe_customer_id]": cus.id, "payload[value]": "1"})
            statuses.append(r.status_code)
        return statuses

    first, second = run(), run()
    assert first == second
    assert {429, 500, 200} == set(first) and 15 <= first.count(200) <= 45
    outcomes = set()
    for i in range(40):
        sandbox.settings(chaos_meter_event_failure_rate=1.0)
        data = {"event_name": m.event_name, "identifier": f"retry-{uuid.uuid4()}", "payload[stripe_customer_id]": cus.id,
                "payload[value]": "1"}
        failed = http.post("/v1/billing/meter_events", data=data)
        assert failed.status_code in (429, 500)
        sandbox.settings(chaos_meter_event_failure_rate=0.0)
        retry = http.post("/v1/billing/meter_events", data=data)
        recorded = "the event was recorded" in failed.json()["error"]["message"]
        assert retry.status_code == (400 if recorded else 200), (failed.json(), retry.json())
        outcomes.add((failed.status_code, recorded))
    assert outcomes == {(429, False), (500, False), (500, True)}
    http.close()


def test_meter_events_and_their_identifiers_survive_a_restart(tmp_path: Any) -> None:
    """With a SQLite state, events are kept: after a restart the summaries still count them and an
    identifier already used is still refused."""
    db = tmp_path / "sandbox.sqlite3"
    with serve_in_thread(db_path=db) as sb:
        client = sb.client()
        m = meter(client)
        cus = clocked_customer(client)
        record(client, m, cus.id, "12", identifier="persisted", timestamp=T0 - 60)
        key = sb.api_key
    with serve_in_thread(db_path=db, api_key=key) as sb:
        client = sb.client()
        assert summaries(client, m, cus.id, T0 - HOUR, T0) == [(T0 - HOUR, T0, 12)]
        assert "persisted" in error_of(lambda: record(client, m, cus.id, identifier="persisted", timestamp=T0 - 60))["message"]
