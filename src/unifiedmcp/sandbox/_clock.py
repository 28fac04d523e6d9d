"""The timeline: what the billing engine does when, for a test clock or for wall-clock time.

:func:`run_until` runs every due action in time order up to a target time: the test-clock advance
calls it with the clock (objects are stamped with the clock's time as it moves), and a background
tick calls it every second for objects without a clock. Stripe's timing is kept: a renewal invoice
is drafted at the period end and finalized and charged ``finalize_delay_seconds`` (1 h) later; a
failed renewal is retried ``dunning_retry_days`` after each attempt; an unpaid first invoice
expires the subscription after ``incomplete_expiry_seconds`` (23 h); ``trial_will_end`` comes
3 days before a trial ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from . import _arrears
from ._billing import (
    attempt_payment,
    build_lines_for_subscription,
    cancel_subscription,
    create_invoice,
    final_usage_invoice,
    finalize,
    period_end as _period_end,
    usage_lines,
    void_invoice,
)
from ._periods import add_interval
from ._state import Sandbox

Obj = dict[str, Any]

__all__ = ["due_actions", "run_until", "renew", "register", "at_period_end"]

Due = tuple[int, int, str, str]  # (time, order among actions at that time, kind, object id)
# Timed actions of other resources (Checkout Session expiry...), registered by their modules:
# kind -> (what is due for a clock up to a time, how to run it on the object).
_EXTRA: dict[str, tuple[Callable[[Sandbox, str | None, int], Iterable[Due]], Callable[[Sandbox, Any], None]]] = {}


def register(kind: str, due: Callable[[Sandbox, str | None, int], Iterable[Due]], run: Callable[[Sandbox, Any], None]) -> None:
    """Add a timed action: ``due(sb, clock, until)`` lists them, ``run(sb, obj)`` performs one."""
    _EXTRA[kind] = (due, run)


# Called by renew() at a period end, after the ended period's usage is measured and before the
# next period is billed: subscription schedules enter their next phase there.
_AT_PERIOD_END: list[Callable[[Sandbox, Obj, int], None]] = []


def at_period_end(hook: Callable[[Sandbox, Obj, int], None]) -> None:
    """Run ``hook(sb, subscription, period_end)`` at each renewal (see :func:`renew`)."""
    _AT_PERIOD_END.append(hook)

_LIVE = ("active", "past_due", "trialing", "unpaid")


def due_actions(sb: Sandbox, clock: str | None, until: int) -> list[Due]:
    """Every (time, order, kind, id) due at or before ``until`` for objects on ``clock``."""
    out: list[Due] = []
    s = sb.settings
    for sub in sb.store.iter("subscription", newest_first=False):
        if sub.get("test_clock") != clock:
            continue
        st = sub["status"]
        if st == "incomplete":
            t = sub["created"] + s.incomplete_expiry_seconds
            if t <= until:
                out.append((t, 0, "expire", sub["id"]))
        elif st in _LIVE:
            if st == "trialing" and not sub.get("_trial_will_end_sent") and sub.get("trial_end"):
                t = sub["trial_end"] - 3 * 86400
                if sub["trial_end"] - (sub.get("trial_start") or 0) > 3 * 86400 and t <= until:
                    out.append((t, 1, "trial_will_end", sub["id"]))
            if sub.get("cancel_at") and sub["cancel_at"] <= until and sub["cancel_at"] < _period_end(sub):
                out.append((sub["cancel_at"], 2, "cancel_at", sub["id"]))
            resumes = (sub.get("pause_collection") or {}).get("resumes_at")
            if resumes and resumes <= until:
                out.append((resumes, 1, "resume_collection", sub["id"]))
            t = _period_end(sub)
            if t <= until:
                out.append((t, 2, "renew", sub["id"]))
    for inv in sb.store.iter("invoice", newest_first=False):
        if inv.get("_clock") != clock or not inv["auto_advance"]:
            continue
        if inv["status"] == "draft" and inv.get("automatically_finalizes_at") and inv["automatically_finalizes_at"] <= until:
            out.append((inv["automatically_finalizes_at"], 3, "finalize", inv["id"]))
        elif inv["status"] == "open" and inv.get("next_payment_attempt") and inv["next_payment_attempt"] <= until:
            out.append((inv["next_payment_attempt"], 4, "retry", inv["id"]))
    for due, _ in _EXTRA.values():
        out.extend(due(sb, clock, until))
    return out


def run_until(sb: Sandbox, clock: Obj | None, until: int) -> int:
    """Run every due action in time order up to ``until``; returns how many ran."""
    cid = clock["id"] if clock else None
    ran = 0
    for _ in range(100_000):
        due = due_actions(sb, cid, until)
        if not due:
            break
        t = min(d[0] for d in due)
        if clock is not None:
            clock["frozen_time"] = max(clock["frozen_time"], t)
        for _t, _o, kind, oid in sorted(d for d in due if d[0] == t):
            _run(sb, kind, oid)
            ran += 1
    if clock is not None:
        clock["frozen_time"] = until
        sb.store.touch(clock)
    return ran


def _run(sb: Sandbox, kind: str, oid: str) -> None:
    obj = sb.store.get(oid)
    if obj is None:
        return
    if kind == "expire" and obj["status"] == "incomplete":
        _expire(sb, obj)
    elif kind == "trial_will_end":
        obj["_trial_will_end_sent"] = True
        sb.store.touch(obj)
        sb.emit("customer.subscription.trial_will_end", obj, clock=obj.get("test_clock"))
    elif kind == "resume_collection" and obj.get("pause_collection"):
        before = sb.snapshot(obj)
        obj["pause_collection"] = None
        sb.store.touch(obj)
        sb.emit_updated("customer.subscription.updated", obj, before, clock=obj.get("test_clock"))
    elif kind == "cancel_at" and obj["status"] in _LIVE:
        final_usage_invoice(sb, obj, obj["cancel_at"], billing_reason="subscription_update")
        cancel_subscription(sb, obj, reason="cancellation_requested")
    elif kind == "renew" and obj["status"] in _LIVE:
        renew(sb, obj)
    elif kind == "finalize" and obj["status"] == "draft":
        finalize(sb, obj)
        if obj["status"] == "open" and obj["collection_method"] == "charge_automatically":
            attempt_payment(sb, obj, off_session=True)
    elif kind == "retry" and obj["status"] == "open":
        attempt_payment(sb, obj, off_session=True)
    elif kind in _EXTRA:
        _EXTRA[kind][1](sb, obj)


def _expire(sb: Sandbox, sub: Obj) -> None:
    clock = sub.get("test_clock")
    inv = sb.store.get(sub.get("latest_invoice") or "")
    if inv is not None and inv["status"] == "open":
        void_invoice(sb, inv)
    sub["status"] = "incomplete_expired"
    sub["ended_at"] = sb.now(clock)
    sb.store.touch(sub)
    sb.emit("customer.subscription.deleted", sub, clock=clock)


def renew(sb: Sandbox, sub: Obj) -> None:
    """Period end: cancel if requested, else start the next period and draft its invoice."""
    clock = sub.get("test_clock")
    end = _period_end(sub)
    if sub.get("cancel_at_period_end") or (sub.get("cancel_at") and sub["cancel_at"] <= end):
        final_usage_invoice(sb, sub, end, billing_reason="subscription_cycle")
        cancel_subscription(sb, sub, reason="cancellation_requested")
        return
    before = sb.snapshot(sub)
    ending_trial = sub["status"] == "trialing" and sub.get("trial_end") and sub["trial_end"] <= end
    usages = _arrears.unbilled_all(sb, sub, end)  # the period that ends, billed in arrears (old prices)
    for hook in _AT_PERIOD_END:
        hook(sb, sub, end)  # e.g. a schedule's next phase: new items bill the new period
    rec = sub["items"]["data"][0]["price"]["recurring"]
    anchor = sub["billing_cycle_anchor"]
    idx = sub.get("_period_index", 0) + 1
    nxt = add_interval(anchor, rec["interval"], rec["interval_count"] * idx)
    while nxt <= end:  # the anchor lies further back (a stub period or a changed interval)
        idx += 1
        nxt = add_interval(anchor, rec["interval"], rec["interval_count"] * idx)
    sub["_period_index"] = idx
    sub["items"] = {
        **sub["items"],
        "data": [{**item, "current_period_start": end, "current_period_end": nxt} for item in sub["items"]["data"]],
    }
    sub.pop("_usage_since", None)  # every item's usage window now starts with the new period
    if ending_trial:
        sub["status"] = "active"
    cus = sb.store.get(sub["customer"])
    auto = sub["status"] != "unpaid"  # unpaid subscriptions keep drafting invoices, uncharged
    arrears, windows = usage_lines(sb, sub, usages)
    inv = create_invoice(
        sb, customer=cus, lines=build_lines_for_subscription(sb, sub) + arrears, billing_reason="subscription_cycle",
        subscription=sub, currency=sub["currency"], period=(before_start(before), end), auto_advance=auto,
        collection_method=sub["collection_method"], days_until_due=sub.get("days_until_due"),
    )
    if windows:
        inv["_metered"] = windows
    sub["latest_invoice"] = inv["id"]
    sub.setdefault("_invoices", []).append(inv["id"])
    if sub.get("pause_collection"):
        _paused(sb, inv, sub["pause_collection"]["behavior"])
    _expire_discounts(sb, sub)
    sb.store.touch(sub)
    sb.emit_updated("customer.subscription.updated", sub, before, clock=clock)


def _paused(sb: Sandbox, inv: Obj, behavior: str) -> None:
    """A renewal invoice while collection is paused: kept as a draft, or finalized uncharged and
    marked uncollectible, or voided (``pause_collection.behavior``)."""
    inv["auto_advance"] = False
    inv["automatically_finalizes_at"] = None
    if behavior == "keep_as_draft":
        sb.store.touch(inv)
        return
    finalize(sb, inv)
    if inv["status"] != "open":
        return  # nothing was due: already paid
    if behavior == "void":
        void_invoice(sb, inv)
        return
    inv["status"] = "uncollectible"
    inv["next_payment_attempt"] = None
    inv["status_transitions"]["marked_uncollectible_at"] = sb.now(inv.get("_clock"))
    sb.store.touch(inv)
    sb.emit("invoice.marked_uncollectible", inv, clock=inv.get("_clock"))


def before_start(before: Obj) -> int:
    return min(i["current_period_start"] for i in before["items"]["data"])


def _expire_discounts(sb: Sandbox, sub: Obj) -> None:
    keep = []
    for did in sub["discounts"]:
        d = sb.store.get(did)
        if d is None:
            continue
        coupon = sb.store.get(d["source"]["coupon"]) or {}
        if coupon.get("duration") == "once":
            continue
        if d.get("end") and d["end"] <= sb.now(sub.get("test_clock")):
            continue
        keep.append(did)
    sub["discounts"] = keep


