"""Subscription schedules: create (from a subscription, or for a customer with phases), update the
phases, release, cancel, retrieve, list; phases take effect at period ends.

A schedule made ``from_subscription`` has one phase: the subscription's items from its current
period start to its current period end. ``update`` replaces the phases: the first keeps the
current phase's start; each phase ends at its ``end_date`` or after its ``duration``, the last one
after one billing period if it names neither, and the next one starts there. When a phase ends
(at a renewal: :func:`_enter_next_phase`, hooked into the clock's renewal after the ended period's
usage is measured) the subscription takes the next phase's items: a price it already has keeps
its item, a new price gets a new item, the others go. So the renewal invoice bills the new
licensed prices for the new period and the ended period's usage at the old metered price, as
Stripe does at a phase boundary. Phase ``metadata`` replaces the subscription's. After the last
phase, ``end_behavior=release`` (the default) completes the schedule and leaves the subscription
running; ``cancel`` ends the subscription there (its ``cancel_at``).

Sandbox limits (400s naming the parameter): phase boundaries must fall on the subscription's
billing period ends (``end_date`` on a period end; ``duration`` in whole periods of the
subscription's interval), and every phase's prices must share the subscription's currency and
interval; no trials, invoice items or per-phase settings beyond items, metadata and
``proration_behavior`` (recorded; boundaries fall on period ends, so there is nothing to prorate).
Events: ``subscription_schedule.created``, ``.updated``, ``.released``, ``.canceled``, ``.completed``.
"""

from __future__ import annotations

from .. import _billing as engine
from .. import _clock, _pricing
from .._errors import invalid, missing_param
from .._objects import blank, new_id, to_bool, to_int
from .._periods import add_interval
from .._router import route
from .._state import Sandbox
from ._common import Obj, apply_metadata, require
from .subscriptions import _item, set_quantity, sub_cancel, sub_create

KIND = "subscription_schedule"
_LIVE = ("active", "past_due", "trialing", "unpaid")
_MAX_PERIODS = 1200  # bounds the search for a period boundary (100 years of months)


def _schedule(sb: Sandbox, sid: str) -> Obj:
    return sb.get(KIND, sid, label="subscription schedule")


def _interval(sub: Obj) -> tuple[str, int]:
    rec = sub["items"]["data"][0]["price"]["recurring"]
    return rec["interval"], rec["interval_count"]


def _boundary(sub: Obj, t: int) -> int | None:
    """``k`` such that the subscription's ``k``-th period ends at ``t`` (from its anchor), or None."""
    interval, count = _interval(sub)
    for k in range(_MAX_PERIODS):
        end = add_interval(sub["billing_cycle_anchor"], interval, count * k)
        if end == t:
            return k
        if end > t:
            return None
    return None


def _phase_item(sb: Sandbox, sub: Obj, item: object, param: str) -> Obj:
    if not isinstance(item, dict):
        raise invalid("Invalid object", param=param)
    ref = item.get("price") or item.get("plan")
    if not ref:
        raise missing_param(f"{param}[price]")
    price = sb.get("price", ref, param=f"{param}[price]")
    interval, count = _interval(sub)
    rec = price.get("recurring") or {}
    if price["type"] != "recurring" or not price["active"]:
        raise invalid("A phase's prices must be active recurring prices.", param=f"{param}[price]")
    if price["currency"] != sub["currency"] or (rec["interval"], rec["interval_count"]) != (interval, count):
        raise invalid("The sandbox's schedules keep the subscription's currency and billing interval in every phase.",
                      param=f"{param}[price]")
    out: Obj = {"billing_thresholds": None, "discounts": [], "metadata": item.get("metadata") or {}, "plan": price["id"],
                "price": price["id"]}
    if _pricing.is_metered(price):
        if "quantity" in item:
            raise invalid("Quantity should not be specified where usage_type is `metered`.", param=f"{param}[quantity]")
    else:
        out["quantity"] = to_int(item.get("quantity", 1), param=f"{param}[quantity]", minimum=0)
    return out


def _phase(sb: Sandbox, sub: Obj, start: int, raw: Obj, i: int, last: bool) -> Obj:
    param = f"phases[{i}]"
    items = raw.get("items")
    if not isinstance(items, list) or not items:
        raise missing_param(f"{param}[items]")
    interval, count = _interval(sub)
    if raw.get("end_date") not in (None, ""):
        end = to_int(raw["end_date"], param=f"{param}[end_date]")
        if _boundary(sub, end) is None:
            raise invalid("The sandbox's schedules change phases at billing period ends: end_date must be one.",
                          param=f"{param}[end_date]")
    else:
        duration = raw.get("duration") if isinstance(raw.get("duration"), dict) else None
        if duration is None and not last:
            raise invalid("Every phase but the last needs an end_date or a duration.", param=f"{param}[end_date]")
        n = to_int((duration or {}).get("interval_count", 1), param=f"{param}[duration][interval_count]", minimum=1)
        if duration is not None and (duration.get("interval") != interval or n % count):
            raise invalid("The sandbox's schedules change phases at billing period ends: the duration must be whole "
                          "billing periods.", param=f"{param}[duration]")
        k = _boundary(sub, start)
        periods = n // count if duration is not None else 1
        end = add_interval(sub["billing_cycle_anchor"], interval, count * ((k or 0) + periods)) if k is not None else (
            add_interval(start, interval, count * periods))
    if end <= start:
        raise invalid("A phase must end after it starts.", param=f"{param}[end_date]")
    behavior = raw.get("proration_behavior", "create_prorations")
    return {
        "add_invoice_items": [], "application_fee_percent": None, "billing_cycle_anchor": None, "billing_thresholds": None,
        "collection_method": None, "currency": sub["currency"], "default_payment_method": None, "description": None,
        "discounts": [], "end_date": end, "invoice_settings": None,
        "items": [_phase_item(sb, sub, it, f"{param}[items][{n}]") for n, it in enumerate(items)],
        "metadata": raw.get("metadata") or {}, "on_behalf_of": None, "proration_behavior": behavior,
        "start_date": start, "transfer_data": None, "trial_end": None,
    }


def _current_phase(sub: Obj) -> Obj:
    items = [{"billing_thresholds": None, "discounts": [], "metadata": dict(i["metadata"]), "plan": i["price"]["id"],
              "price": i["price"]["id"], **({"quantity": i["quantity"]} if "quantity" in i else {})}
             for i in sub["items"]["data"]]
    return {
        "add_invoice_items": [], "application_fee_percent": None, "billing_cycle_anchor": None, "billing_thresholds": None,
        "collection_method": None, "currency": sub["currency"], "default_payment_method": None, "description": None,
        "discounts": [], "end_date": engine.period_end(sub), "invoice_settings": None, "items": items,
        "metadata": dict(sub["metadata"]), "on_behalf_of": None, "proration_behavior": "create_prorations",
        "start_date": min(i["current_period_start"] for i in sub["items"]["data"]), "transfer_data": None,
        "trial_end": None,
    }


def _set_end_behavior(sub: Obj, sched: Obj) -> None:
    """``cancel`` ends the subscription when the last phase ends (its ``cancel_at``)."""
    sub["cancel_at"] = sched["phases"][-1]["end_date"] if sched["end_behavior"] == "cancel" else None


@route("POST", "/v1/subscription_schedules")
def schedule_create(sb: Sandbox, p: Obj) -> Obj:
    if p.get("from_subscription"):
        if p.get("phases") or p.get("customer"):
            raise invalid("You cannot set `phases` or `customer` when `from_subscription` is set.", param="from_subscription")
        sub = sb.get("subscription", p["from_subscription"], param="from_subscription")
        if sub["status"] not in _LIVE:
            raise invalid(f"The subscription {sub['id']} has ended.", param="from_subscription")
        if sub.get("schedule"):
            raise invalid(f"The subscription {sub['id']} is already attached to a schedule.", param="from_subscription")
        phases = [_current_phase(sub)]
    else:
        cus = sb.get("customer", require(p, "customer"), param="customer")
        raw = p.get("phases")
        if not isinstance(raw, list) or not raw:
            raise missing_param("phases")
        if p.get("start_date", "now") != "now":
            raise invalid("The sandbox's schedules start now: start_date must be `now`.", param="start_date")
        first = raw[0].get("items") if isinstance(raw[0], dict) else None
        if not isinstance(first, list) or not first:
            raise missing_param("phases[0][items]")
        sub = sub_create(sb, {"customer": cus["id"], "items": [
            {k: v for k, v in it.items() if k in ("price", "quantity", "metadata")} for it in first if isinstance(it, dict)]})
        start = sub["created"]
        phases = []
        for i, ph in enumerate(raw):
            phases.append(_phase(sb, sub, start, ph, i, i == len(raw) - 1))
            start = phases[-1]["end_date"]
    now = sb.now(sub.get("test_clock"))
    mode = sub["billing_mode"]
    sched = blank(
        KIND,
        id=new_id("sub_sched"),
        billing_mode={"flexible": mode["flexible"], "type": mode["type"], **({"updated_at": mode["updated_at"]} if mode.get("updated_at") else {})},
        created=now,
        current_phase={"end_date": phases[0]["end_date"], "start_date": phases[0]["start_date"]},
        customer=sub["customer"],
        default_settings={
            "application_fee_percent": None, "billing_cycle_anchor": "automatic", "billing_thresholds": None,
            "collection_method": sub["collection_method"], "default_payment_method": sub["default_payment_method"],
            "description": None, "invoice_settings": {"account_tax_ids": None, "custom_fields": None, "days_until_due": None,
                                                      "description": None, "footer": None, "issuer": {"type": "self"}},
            "on_behalf_of": None, "transfer_data": None,
        },
        end_behavior=p.get("end_behavior") or "release",
        pause_schedules=[],
        phases=phases,
        status="active",
        subscription=sub["id"],
        test_clock=sub.get("test_clock"),
    )
    apply_metadata(sched, p)
    before = sb.snapshot(sub)
    sub["schedule"] = sched["id"]
    _set_end_behavior(sub, sched)
    sb.store.put(sched)
    sb.store.touch(sub)
    sb.emit("subscription_schedule.created", sched, clock=sub.get("test_clock"))
    sb.emit_updated("customer.subscription.updated", sub, before, clock=sub.get("test_clock"))
    return sched


def _active(sb: Sandbox, sid: str, verb: str) -> tuple[Obj, Obj]:
    sched = _schedule(sb, sid)
    if sched["status"] not in ("active", "not_started"):
        raise invalid(f"You cannot {verb} a subscription schedule that is {sched['status']}.")
    return sched, sb.get("subscription", sched["subscription"])


@route("POST", "/v1/subscription_schedules/{sid}")
def schedule_update(sb: Sandbox, p: Obj, sid: str) -> Obj:
    sched, sub = _active(sb, sid, "update")
    clock = sub.get("test_clock")
    before = sb.snapshot(sched)
    sub_before = sb.snapshot(sub)
    if "phases" in p:
        raw = p["phases"]
        if not isinstance(raw, list) or not raw:
            raise missing_param("phases")
        current = sched["current_phase"]["start_date"]
        first = raw[0] if isinstance(raw[0], dict) else {}
        if first.get("start_date") not in (None, "", "now") and to_int(first["start_date"], param="phases[0][start_date]") != current:
            raise invalid("You can not modify the start date of the current phase.", param="phases[0][start_date]")
        phases, start = [], current
        for i, ph in enumerate(raw):
            if not isinstance(ph, dict):
                raise invalid("Invalid object", param=f"phases[{i}]")
            if i and ph.get("start_date") not in (None, "") and to_int(ph["start_date"], param=f"phases[{i}][start_date]") != start:
                raise invalid("A phase must start where the previous one ends.", param=f"phases[{i}][start_date]")
            phases.append(_phase(sb, sub, start, ph, i, i == len(raw) - 1))
            start = phases[-1]["end_date"]
        sched["phases"] = phases
        sched["current_phase"] = {"end_date": phases[0]["end_date"], "start_date": phases[0]["start_date"]}
    if "end_behavior" in p:
        sched["end_behavior"] = p["end_behavior"]
    apply_metadata(sched, p)
    _set_end_behavior(sub, sched)
    sb.store.touch(sched)
    sb.store.touch(sub)
    sb.emit_updated("subscription_schedule.updated", sched, before, clock=clock)
    sb.emit_updated("customer.subscription.updated", sub, sub_before, clock=clock)
    return sched


def _detach(sb: Sandbox, sched: Obj, sub: Obj, *, status: str, event: str) -> None:
    clock = sub.get("test_clock")
    now = sb.now(clock)
    before = sb.snapshot(sub)
    sub["schedule"] = None
    if sched["end_behavior"] == "cancel" and sub["status"] in _LIVE and status != "canceled":
        sub["cancel_at"] = None  # released: the schedule no longer ends the subscription
    sched["status"] = status
    sched["current_phase"] = None
    if status == "released":
        sched["released_at"] = now
        sched["released_subscription"] = sub["id"]
        sched["subscription"] = None
    elif status == "completed":
        sched["completed_at"] = now
    else:
        sched["canceled_at"] = now
    sb.store.touch(sched)
    sb.store.touch(sub)
    sb.emit(event, sched, clock=clock)
    if sub["status"] in _LIVE:
        sb.emit_updated("customer.subscription.updated", sub, before, clock=clock)


@route("POST", "/v1/subscription_schedules/{sid}/release")
def schedule_release(sb: Sandbox, p: Obj, sid: str) -> Obj:
    """Stop the schedule and leave the subscription as it is (``preserve_cancel_date`` keeps a cancellation)."""
    sched, sub = _active(sb, sid, "release")
    keep = to_bool(p.get("preserve_cancel_date", False), param="preserve_cancel_date")
    cancel_at = sub.get("cancel_at")
    _detach(sb, sched, sub, status="released", event="subscription_schedule.released")
    if keep and cancel_at:
        sub["cancel_at"] = cancel_at
    return sched


@route("POST", "/v1/subscription_schedules/{sid}/cancel")
def schedule_cancel(sb: Sandbox, p: Obj, sid: str) -> Obj:
    """Cancel the schedule and its subscription now (``invoice_now`` / ``prorate`` as for a subscription)."""
    sched, sub = _active(sb, sid, "cancel")
    params = {k: p[k] for k in ("invoice_now", "prorate") if k in p}
    if sub["status"] in _LIVE:
        sub_cancel(sb, params, sub["id"])
    _detach(sb, sched, sub, status="canceled", event="subscription_schedule.canceled")
    return sched


@route("GET", "/v1/subscription_schedules/{sid}")
def schedule_retrieve(sb: Sandbox, p: Obj, sid: str) -> Obj:
    return _schedule(sb, sid)


@route("GET", "/v1/subscription_schedules")
def schedule_list(sb: Sandbox, p: Obj) -> Obj:
    customer = p.get("customer")
    released = to_bool(p["released"], param="released") if "released" in p else None
    return sb.list(KIND, p, url="/v1/subscription_schedules",
                   match=lambda o: (customer is None or o["customer"] == customer)
                   and (released is None or (o["status"] == "released") == released))


def _enter_next_phase(sb: Sandbox, sub: Obj, at: int) -> None:
    """At a renewal: if the schedule's current phase ends now, the subscription takes the next
    phase's items (or the schedule completes); runs after the ended period's usage is measured."""
    sched = sb.store.get(sub.get("schedule") or "", KIND)
    if sched is None or sched["status"] != "active" or sched["current_phase"]["end_date"] != at:
        return
    phases = sched["phases"]
    index = next((i for i, ph in enumerate(phases) if ph["start_date"] == at), None)
    if index is None:
        _detach(sb, sched, sub, status="completed", event="subscription_schedule.completed")
        return
    phase = phases[index]
    before = sb.snapshot(sched)
    old = {i["price"]["id"]: i for i in sub["items"]["data"]}
    items = []
    for it in phase["items"]:
        kept = old.pop(it["price"], None)
        # A price the subscription keeps keeps its item; a new one gets a new item (renew() sets
        # the new period on every item right after this).
        item = dict(kept) if kept is not None else _item(sb, sub["id"], sb.store.get(it["price"], "price"), None, at, at, at,
                                                          dict(it["metadata"] or {}))
        set_quantity(item, it.get("quantity"))
        items.append(item)
    sub["items"] = {**sub["items"], "data": items}
    if phase["metadata"]:
        sub["metadata"] = dict(phase["metadata"])
    sched["current_phase"] = {"end_date": phase["end_date"], "start_date": phase["start_date"]}
    sb.store.touch(sched)
    sb.emit_updated("subscription_schedule.updated", sched, before, clock=sub.get("test_clock"))


_clock.at_period_end(_enter_next_phase)
