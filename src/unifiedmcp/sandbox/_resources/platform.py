"""Events, webhook endpoints, test clocks and the account."""

from __future__ import annotations

import secrets

from .. import _clock as engine
from .._errors import invalid, missing_param
from .._objects import blank, new_id, to_bool, to_int
from .._router import route
from .._state import Sandbox
from ._common import Obj, apply_metadata, require


# -- events -------------------------------------------------------------------------------------
@route("GET", "/v1/events/{eid}")
def event_retrieve(sb: Sandbox, p: Obj, eid: str) -> Obj:
    return sb.get("event", eid)


@route("GET", "/v1/events")
def event_list(sb: Sandbox, p: Obj) -> Obj:
    etype = p.get("type")
    types = p.get("types")
    if types is not None and not isinstance(types, list):
        types = [types]
    if etype is not None and types is not None:
        raise invalid("You may only specify one of these parameters: type, types.", param="types")
    matcher = None
    if etype is not None:
        if etype.endswith("*"):
            prefix = etype[:-1]
            matcher = lambda e: e["type"].startswith(prefix)  # noqa: E731
        else:
            matcher = lambda e: e["type"] == etype  # noqa: E731
    elif types is not None:
        wanted = set(types)
        matcher = lambda e: e["type"] in wanted  # noqa: E731
    return sb.list("event", p, url="/v1/events", match=matcher)


# -- webhook endpoints --------------------------------------------------------------------------
def _check_events(value: object) -> list[str]:
    if not isinstance(value, list) or not value:
        raise missing_param("enabled_events")
    return [str(v) for v in value]


@route("POST", "/v1/webhook_endpoints")
def we_create(sb: Sandbox, p: Obj) -> Obj:
    url = require(p, "url")
    if not str(url).startswith(("http://", "https://")):
        raise invalid("Invalid URL: must start with http:// or https://", param="url")
    secret = "whsec_" + secrets.token_urlsafe(24)
    # A Connect endpoint receives the events of the accounts connected to this one (with
    # ``account``), not this account's own; ``application`` names the platform's client id.
    connect = to_bool(p.get("connect", False), param="connect")
    we = blank(
        "webhook_endpoint",
        id=new_id("we"),
        api_version=p.get("api_version"),
        application=sb.profile["client_id"] if connect else None,
        created=sb.now(),
        description=p.get("description"),
        enabled_events=_check_events(p.get("enabled_events")),
        status="enabled",
        url=url,
        _secret=secret,
        _connect=connect,
    )
    apply_metadata(we, p)
    sb.store.put(we)
    # The secret is returned on creation only, as Stripe does.
    return {**we, "secret": secret}


@route("GET", "/v1/webhook_endpoints/{wid}")
def we_retrieve(sb: Sandbox, p: Obj, wid: str) -> Obj:
    return sb.get("webhook_endpoint", wid)


@route("POST", "/v1/webhook_endpoints/{wid}")
def we_update(sb: Sandbox, p: Obj, wid: str) -> Obj:
    we = sb.get("webhook_endpoint", wid)
    if "url" in p:
        we["url"] = require(p, "url")
    if "enabled_events" in p:
        we["enabled_events"] = _check_events(p["enabled_events"])
    if "disabled" in p:
        we["status"] = "disabled" if p["disabled"] in (True, "true") else "enabled"
        if sb.dispatcher is not None:
            (sb.dispatcher.forget if we["status"] == "disabled" else sb.dispatcher.revive)(wid)
    if "description" in p:
        we["description"] = p["description"] or None
    apply_metadata(we, p)
    sb.store.touch(we)
    return we


@route("DELETE", "/v1/webhook_endpoints/{wid}")
def we_delete(sb: Sandbox, p: Obj, wid: str) -> Obj:
    sb.get("webhook_endpoint", wid)
    sb.store.remove(wid)
    if sb.dispatcher is not None:
        sb.dispatcher.forget(wid)  # Stripe stops delivering (and retrying) to a deleted endpoint
    return {"id": wid, "object": "webhook_endpoint", "deleted": True}


@route("GET", "/v1/webhook_endpoints")
def we_list(sb: Sandbox, p: Obj) -> Obj:
    return sb.list("webhook_endpoint", p, url="/v1/webhook_endpoints")


# -- test clocks --------------------------------------------------------------------------------
_CLOCK = "test_helpers.test_clock"


@route("POST", "/v1/test_helpers/test_clocks")
def clock_create(sb: Sandbox, p: Obj) -> Obj:
    frozen = to_int(require(p, "frozen_time"), param="frozen_time")
    now = sb.now()
    clock = blank(_CLOCK, id=new_id("clock"), created=now, deletes_after=now + 30 * 86400, frozen_time=frozen,
                  name=p.get("name"), status="ready", status_details={})
    sb.store.put(clock)
    sb.emit("test_helpers.test_clock.created", clock)
    return clock


@route("GET", "/v1/test_helpers/test_clocks/{cid}")
def clock_retrieve(sb: Sandbox, p: Obj, cid: str) -> Obj:
    return sb.get(_CLOCK, cid, label="test_clock")


@route("GET", "/v1/test_helpers/test_clocks")
def clock_list(sb: Sandbox, p: Obj) -> Obj:
    return sb.list(_CLOCK, p, url="/v1/test_helpers/test_clocks")


@route("POST", "/v1/test_helpers/test_clocks/{cid}/advance")
def clock_advance(sb: Sandbox, p: Obj, cid: str) -> Obj:
    """Advance synchronously: when the response arrives, every effect has happened (status ready)."""
    clock = sb.get(_CLOCK, cid, label="test_clock")
    target = to_int(require(p, "frozen_time"), param="frozen_time")
    if target <= clock["frozen_time"]:
        raise invalid("The frozen_time must be after the test clock's current frozen_time.", param="frozen_time")
    clock["status"] = "advancing"
    sb.emit("test_helpers.test_clock.advancing", clock)
    request = sb.request_id, sb.idempotency_key
    sb.request_id = sb.idempotency_key = None  # billing events are automatic: request.id is null
    try:
        engine.run_until(sb, clock, target)
    finally:
        sb.request_id, sb.idempotency_key = request
    clock["status"] = "ready"
    sb.store.touch(clock)
    sb.emit("test_helpers.test_clock.ready", clock)
    return clock


@route("DELETE", "/v1/test_helpers/test_clocks/{cid}")
def clock_delete(sb: Sandbox, p: Obj, cid: str) -> Obj:
    clock = sb.get(_CLOCK, cid, label="test_clock")
    # Deleting a clock deletes the customers on it and everything that belongs to them.
    for kind in ("subscription", "invoice", "customer", "payment_intent", "charge", "invoiceitem"):
        for obj in list(sb.store.iter(kind)):
            if obj.get("test_clock") == cid or obj.get("_clock") == cid:
                sb.store.remove(obj["id"])
    sb.store.remove(cid)
    sb.emit("test_helpers.test_clock.deleted", clock)
    return {"id": cid, "object": _CLOCK, "deleted": True}


# -- account ------------------------------------------------------------------------------------
@route("GET", "/v1/account")
def account(sb: Sandbox, p: Obj) -> Obj:
    profile = sb.profile
    name = profile.get("business_name")
    return blank(
        "account",
        id=sb.account_id,
        business_profile={"name": name, "url": None, "support_email": None, "mcc": None,
                          "product_description": None, "support_phone": None, "support_url": None,
                          "annual_revenue": None, "estimated_worker_count": None, "support_address": None,
                          "minority_owned_business_designation": None,
                          "specified_commercial_transactions_act_url": None},
        business_type="company",
        capabilities={"card_payments": "active", "transfers": "active"},
        charges_enabled=True,
        controller={"type": "account"},
        country="US",
        created=profile["created"],
        default_currency="usd",
        details_submitted=True,
        email=profile.get("email"),
        external_accounts={"object": "list", "data": [], "has_more": False, "url": f"/v1/accounts/{sb.account_id}/external_accounts"},
        future_requirements={"alternatives": [], "current_deadline": None, "currently_due": [], "disabled_reason": None, "errors": [], "eventually_due": [], "past_due": [], "pending_verification": []},
        payouts_enabled=True,
        requirements={"alternatives": [], "current_deadline": None, "currently_due": [], "disabled_reason": None, "errors": [], "eventually_due": [], "past_due": [], "pending_verification": []},
        settings={
            "branding": {"icon": None, "logo": None, "primary_color": None, "secondary_color": None},
            "card_payments": {"decline_on": {"avs_failure": False, "cvc_failure": False}, "statement_descriptor_prefix": None,
                              "statement_descriptor_prefix_kana": None, "statement_descriptor_prefix_kanji": None},
            "dashboard": {"display_name": name, "timezone": "Etc/UTC"},
            "payments": {"statement_descriptor": None, "statement_descriptor_kana": None, "statement_descriptor_kanji": None,
                         "statement_descriptor_prefix_kana": None, "statement_descriptor_prefix_kanji": None},
        },
        tos_acceptance={"date": None, "ip": None, "user_agent": None},
        type="standard",
    )
