"""Subscription schedules through stripe-python 16 and test clocks: a downgrade at period end."""

from __future__ import annotations

import pytest
import stripe

from unifiedmcp.sandbox import SandboxServer

from .test_metered_invoices import FEB1, HOUR, MAR1, T0, DAY, advance, invoices, make_tier, new_clock, push, subscribe, usage_lines


def _downgrade_at_period_end(client: stripe.StripeClient, sub: stripe.Subscription, to_flat: str, to_metered: str,
                             **extra: object) -> stripe.SubscriptionSchedule:
    sched = client.v1.subscription_schedules.create({"from_subscription": sub.id})
    now = sched.phases[0]
    return client.v1.subscription_schedules.update(sched.id, {"phases": [
        {"items": [{k: v for k, v in i.to_dict().items() if k in ("price", "quantity")} for i in now.items],
         "start_date": now.start_date, "end_date": now.end_date},
        {"items": [{"price": to_flat, "quantity": 1}, {"price": to_metered}]},
    ], **extra})


def test_a_scheduled_downgrade_swaps_the_flat_and_metered_items_at_the_period_end(sandbox: SandboxServer) -> None:
    """Until February 1 the subscription keeps enterprise; the February renewal bills January's
    usage at enterprise's overage price and February at pro's flat price; from then on the items
    are pro's flat and metered prices, and the schedule (end_behavior release) completes after its
    last phase, leaving the subscription running on pro, free of the schedule."""
    client = sandbox.client()
    ent = make_tier(client, included=100, per_call="1", flat=5000)
    pro = make_tier(client, included=10, per_call="2", flat=2000, meter=ent.meter)
    clock = new_clock(client)
    sub = subscribe(client, clock, ent)
    sched = _downgrade_at_period_end(client, sub, pro.flat.id, pro.overage.id)
    assert [p.end_date for p in sched.phases] == [FEB1, MAR1]
    assert client.v1.subscriptions.retrieve(sub.id).schedule == sched.id
    advance(client, clock, T0 + 2 * DAY)
    push(client, ent.meter, sub.customer, 150, T0 + DAY)
    advance(client, clock, FEB1 - HOUR)
    assert {i.price.id for i in client.v1.subscriptions.retrieve(sub.id).items.data} == {ent.flat.id, ent.overage.id}
    advance(client, clock, FEB1 + 2 * HOUR)
    after = client.v1.subscriptions.retrieve(sub.id)
    assert {i.price.id for i in after.items.data} == {pro.flat.id, pro.overage.id}
    assert after.items.data[0].current_period_end == MAR1
    renewal = invoices(client, sub)[-1]
    assert usage_lines(renewal, ent.overage) == [(150, 50, T0, FEB1)]  # 50 calls past 100, at 1 cent
    assert [l.amount for l in renewal.lines.data if l.pricing.price_details.price == pro.flat.id] == [2000]
    assert client.v1.subscription_schedules.retrieve(sched.id).current_phase.start_date == FEB1
    advance(client, clock, MAR1 + 2 * HOUR)
    done = client.v1.subscription_schedules.retrieve(sched.id)
    assert done.status == "completed" and done.completed_at is not None
    final = client.v1.subscriptions.retrieve(sub.id)
    assert final.status == "active" and final.schedule is None
    assert {i.price.id for i in final.items.data} == {pro.flat.id, pro.overage.id}


def test_release_keeps_the_subscription_and_cancel_ends_it(sandbox: SandboxServer) -> None:
    client = sandbox.client()
    tier = make_tier(client, included=10, per_call="1")
    clock = new_clock(client)
    kept, ended = subscribe(client, clock, tier), subscribe(client, clock, tier)
    released = client.v1.subscription_schedules.release(client.v1.subscription_schedules.create({"from_subscription": kept.id}).id)
    assert released.status == "released" and client.v1.subscriptions.retrieve(kept.id).status == "active"
    canceled = client.v1.subscription_schedules.cancel(client.v1.subscription_schedules.create({"from_subscription": ended.id}).id)
    assert canceled.status == "canceled" and client.v1.subscriptions.retrieve(ended.id).status == "canceled"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscription_schedules.release(canceled.id)


def test_end_behavior_cancel_ends_the_subscription_after_the_last_phase(sandbox: SandboxServer) -> None:
    client = sandbox.client()
    tier = make_tier(client, included=10, per_call="1")
    clock = new_clock(client)
    sub = subscribe(client, clock, tier)
    sched = client.v1.subscription_schedules.create({"from_subscription": sub.id})
    client.v1.subscription_schedules.update(sched.id, {"end_behavior": "cancel"})
    assert client.v1.subscriptions.retrieve(sub.id).cancel_at == FEB1
    advance(client, clock, FEB1 + 2 * HOUR)
    assert client.v1.subscriptions.retrieve(sub.id).status == "canceled"


def test_phase_boundaries_off_a_period_end_are_refused_naming_the_parameter(sandbox: SandboxServer) -> None:
    client = sandbox.client()
    tier = make_tier(client, included=10, per_call="1")
    sub = subscribe(client, new_clock(client), tier)
    sched = client.v1.subscription_schedules.create({"from_subscription": sub.id})
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.subscription_schedules.update(sched.id, {"phases": [
            {"items": [{"price": tier.flat.id, "quantity": 1}], "end_date": FEB1 + DAY},
            {"items": [{"price": tier.flat.id, "quantity": 2}]}]})
    assert err.value.param == "phases[0][end_date]"
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.subscription_schedules.create({"from_subscription": sub.id})
    assert err.value.param == "from_subscription"  # already attached to a schedule
