"""Products, prices, coupons and payment links (discounts: ``discounts.py``)."""

from __future__ import annotations

import secrets

from .._errors import invalid, missing, missing_param
from .._objects import blank, new_id, public, to_bool, to_float, to_int
from .._pricing import parse_tiers, tiers_of, unit_fields
from .._router import route
from .._state import INCLUDABLES, Sandbox
from ._common import Obj, apply_metadata, do_search, require


# -- products -----------------------------------------------------------------------------------
@route("POST", "/v1/products")
def product_create(sb: Sandbox, p: Obj) -> Obj:
    now = sb.now()
    prod = blank(
        "product",
        id=p.get("id") or new_id("prod", 14),
        active=to_bool(p.get("active", True), param="active"),
        created=now,
        updated=now,
        description=p.get("description"),
        images=list(p.get("images") or []),
        marketing_features=list(p.get("marketing_features") or []),
        name=require(p, "name"),
        package_dimensions=None,
        shippable=None,
        statement_descriptor=p.get("statement_descriptor"),
        tax_code=p.get("tax_code"),
        unit_label=p.get("unit_label"),
        url=p.get("url"),
        type="service",
    )
    if sb.store.get(prod["id"]) is not None:
        raise invalid("Product already exists.", param="id", code="resource_already_exists")
    apply_metadata(prod, p)
    sb.store.put(prod)
    sb.emit("product.created", prod)
    if isinstance(p.get("default_price_data"), dict):
        d = p["default_price_data"]
        price = _price(sb, {**d, "product": prod["id"]})
        prod["default_price"] = price["id"]
    return prod


@route("GET", "/v1/products/{pid}")
def product_retrieve(sb: Sandbox, p: Obj, pid: str) -> Obj:
    return sb.get("product", pid)


@route("POST", "/v1/products/{pid}")
def product_update(sb: Sandbox, p: Obj, pid: str) -> Obj:
    prod = sb.get("product", pid)
    before = sb.snapshot(prod)
    for k in ("name", "description", "statement_descriptor", "unit_label", "url", "tax_code"):
        if k in p:
            prod[k] = p[k] or None
    if "active" in p:
        prod["active"] = to_bool(p["active"], param="active")
    if "default_price" in p:
        prod["default_price"] = sb.get("price", p["default_price"], param="default_price")["id"]
    apply_metadata(prod, p)
    prod["updated"] = sb.now()
    sb.store.touch(prod)
    sb.emit_updated("product.updated", prod, before)
    return prod


@route("DELETE", "/v1/products/{pid}")
def product_delete(sb: Sandbox, p: Obj, pid: str) -> Obj:
    prod = sb.get("product", pid)
    if any(pr["product"] == pid for pr in sb.store.iter("price")):
        raise invalid("This product cannot be deleted because it has one or more user-created prices.", param="id")
    sb.store.remove(pid)
    sb.emit("product.deleted", prod)
    return {"id": pid, "object": "product", "deleted": True}


@route("GET", "/v1/products")
def product_list(sb: Sandbox, p: Obj) -> Obj:
    active = to_bool(p["active"], param="active") if "active" in p else None
    ids = set(p["ids"]) if isinstance(p.get("ids"), list) else None
    return sb.list(
        "product", p, url="/v1/products",
        match=lambda o: (active is None or o["active"] == active) and (ids is None or o["id"] in ids),
    )


@route("GET", "/v1/products/search")
def product_search(sb: Sandbox, p: Obj) -> Obj:
    return do_search(sb, "product", p, url="/v1/products/search", resource="products")


# -- prices -------------------------------------------------------------------------------------
def _recurring(sb: Sandbox, r: Obj) -> Obj:
    interval = require(r, "interval")
    if interval not in ("day", "week", "month", "year"):
        raise invalid("Invalid recurring[interval]: must be one of day, month, week, or year", param="recurring[interval]")
    usage_type = r.get("usage_type", "licensed")
    if usage_type not in ("licensed", "metered"):
        raise invalid("Invalid recurring[usage_type]: must be one of licensed or metered", param="recurring[usage_type]")
    meter = r.get("meter") or None
    if usage_type == "metered" and meter is None:
        raise invalid("Starting with Stripe version `2025-03-31.basil`, metered prices must be backed by meters.",
                      param="recurring[meter]")
    if meter is not None:
        if usage_type != "metered":
            raise invalid("`recurring[meter]` can only be set when `recurring[usage_type]` is `metered`.", param="recurring[meter]")
        if sb.get("billing.meter", meter, param="recurring[meter]")["status"] != "active":
            raise invalid("You can't attach a deactivated meter to a price.", param="recurring[meter]")
    return {
        "interval": interval,
        "interval_count": to_int(r.get("interval_count", 1), param="recurring[interval_count]", minimum=1),
        "meter": meter,
        "usage_type": usage_type,
        "trial_period_days": to_int(r["trial_period_days"], param="recurring[trial_period_days]", minimum=0) if r.get("trial_period_days") else None,
    }


def _price(sb: Sandbox, p: Obj) -> Obj:
    currency = str(require(p, "currency")).lower()
    if "product" in p and p["product"]:
        product = sb.get("product", p["product"], param="product")["id"]
    elif isinstance(p.get("product_data"), dict):
        product = product_create(sb, p["product_data"])["id"]
    else:
        raise invalid("You must specify either `product` or `product_data` when creating a price.", param="product")
    scheme = p.get("billing_scheme", "per_unit")
    if scheme not in ("per_unit", "tiered"):
        raise invalid("Invalid billing_scheme: must be one of per_unit or tiered", param="billing_scheme")
    tiers, tiers_mode = None, None
    if scheme == "tiered":
        for name in ("unit_amount", "unit_amount_decimal"):
            if name in p:
                raise invalid(f"You cannot set `{name}` when `billing_scheme` is `tiered`; set the amounts in `tiers`.", param=name)
        tiers_mode = require(p, "tiers_mode")
        if tiers_mode not in ("graduated", "volume"):
            raise invalid("Invalid tiers_mode: must be one of graduated or volume", param="tiers_mode")
        tiers = parse_tiers(p.get("tiers"))
        unit, unit_text = None, None
    else:
        for name in ("tiers", "tiers_mode"):
            if name in p:
                raise invalid(f"`{name}` can only be set when `billing_scheme` is `tiered`.", param=name)
        unit, unit_text = unit_fields(p)
        if unit_text is None and not p.get("custom_unit_amount"):
            raise missing_param("unit_amount")
    recurring = _recurring(sb, p["recurring"]) if isinstance(p.get("recurring"), dict) else None
    lookup_key = p.get("lookup_key")
    if lookup_key:
        for other in sb.store.iter("price"):
            if other.get("lookup_key") == lookup_key:
                if to_bool(p.get("transfer_lookup_key", False), param="transfer_lookup_key"):
                    other["lookup_key"] = None
                    sb.store.touch(other)
                else:
                    raise invalid(
                        f"A price (`{other['id']}`) already uses that lookup key.", param="lookup_key",
                    )
    price = blank(
        "price",
        id=new_id("price"),
        active=to_bool(p.get("active", True), param="active"),
        billing_scheme=scheme,
        created=sb.now(),
        currency=currency,
        custom_unit_amount=None,
        lookup_key=lookup_key or None,
        nickname=p.get("nickname"),
        product=product,
        recurring=recurring,
        tax_behavior=p.get("tax_behavior", "unspecified"),
        tiers_mode=tiers_mode,
        transform_quantity=None,
        type="recurring" if recurring else "one_time",
        unit_amount=unit,
        unit_amount_decimal=unit_text,
        _tiers=tiers,
    )
    apply_metadata(price, p)
    sb.store.put(price)
    sb.emit("price.created", price)
    return price


@route("POST", "/v1/prices")
def price_create(sb: Sandbox, p: Obj) -> Obj:
    return _price(sb, p)


@route("GET", "/v1/prices/{pid}")
def price_retrieve(sb: Sandbox, p: Obj, pid: str) -> Obj:
    return sb.get("price", pid)


@route("POST", "/v1/prices/{pid}")
def price_update(sb: Sandbox, p: Obj, pid: str) -> Obj:
    price = sb.get("price", pid)
    before = sb.snapshot(price)
    if "active" in p:
        price["active"] = to_bool(p["active"], param="active")
    if "nickname" in p:
        price["nickname"] = p["nickname"] or None
    if "lookup_key" in p:
        key = p["lookup_key"] or None
        if key:
            for other in sb.store.iter("price"):
                if other["id"] != pid and other.get("lookup_key") == key:
                    if to_bool(p.get("transfer_lookup_key", False), param="transfer_lookup_key"):
                        other["lookup_key"] = None
                        sb.store.touch(other)
                    else:
                        raise invalid(f"A price (`{other['id']}`) already uses that lookup key.", param="lookup_key")
        price["lookup_key"] = key
    apply_metadata(price, p)
    sb.store.touch(price)
    sb.emit_updated("price.updated", price, before)
    return price


@route("GET", "/v1/prices")
def price_list(sb: Sandbox, p: Obj) -> Obj:
    product = p.get("product")
    active = to_bool(p["active"], param="active") if "active" in p else None
    keys = p.get("lookup_keys")
    if keys is not None and not isinstance(keys, list):
        keys = [keys]
    currency = p.get("currency")
    ptype = p.get("type")
    interval = (p.get("recurring") or {}).get("interval") if isinstance(p.get("recurring"), dict) else None

    def match(o: Obj) -> bool:
        return (
            (product is None or o["product"] == product)
            and (active is None or o["active"] == active)
            and (keys is None or o.get("lookup_key") in keys)
            and (currency is None or o["currency"] == currency)
            and (ptype is None or o["type"] == ptype)
            and (interval is None or (o.get("recurring") or {}).get("interval") == interval)
        )

    return sb.list("price", p, url="/v1/prices", match=match)


@route("GET", "/v1/prices/search")
def price_search(sb: Sandbox, p: Obj) -> Obj:
    return do_search(sb, "price", p, url="/v1/prices/search", resource="prices")


# A price's tiers appear only when expanded (``expand: ["tiers"]``), as with Stripe.
INCLUDABLES["price"] = {"tiers": lambda sb, node: [dict(t) for t in tiers_of(sb, node)]}


# -- coupons ------------------------------------------------------------------------------------
@route("POST", "/v1/coupons")
def coupon_create(sb: Sandbox, p: Obj) -> Obj:
    cid = p.get("id") or secrets.token_hex(4).upper()
    if sb.store.get(cid) is not None:
        raise invalid("Coupon already exists.", param="id", code="resource_already_exists")
    pct = p.get("percent_off")
    amt = p.get("amount_off")
    if (pct is None) == (amt is None):
        raise invalid("You must pass exactly one of percent_off or amount_off.", param="percent_off")
    duration = p.get("duration", "once")
    if duration not in ("once", "repeating", "forever"):
        raise invalid("Invalid duration: must be one of forever, once, or repeating", param="duration")
    months = p.get("duration_in_months")
    if duration == "repeating" and months is None:
        raise missing_param("duration_in_months")
    if pct is not None:
        pct = to_float(pct, param="percent_off")
        if not 0 < pct <= 100:
            raise invalid("Invalid percent_off: must be greater than 0 and at most 100", param="percent_off")
    if amt is not None and not p.get("currency"):
        raise invalid("You must specify a currency when creating an amount_off coupon.", param="currency")
    coupon = blank(
        "coupon",
        id=cid,
        amount_off=to_int(amt, param="amount_off", minimum=1) if amt is not None else None,
        created=sb.now(),
        currency=(p.get("currency") or "").lower() or None,
        duration=duration,
        duration_in_months=to_int(months, param="duration_in_months", minimum=1) if months is not None else None,
        max_redemptions=to_int(p["max_redemptions"], param="max_redemptions", minimum=1) if p.get("max_redemptions") else None,
        name=p.get("name"),
        percent_off=pct,
        redeem_by=to_int(p["redeem_by"], param="redeem_by") if p.get("redeem_by") else None,
        times_redeemed=0,
        valid=True,
        _kind="coupon",
    )
    apply_metadata(coupon, p)
    sb.store.put(coupon, kind="coupon")
    sb.emit("coupon.created", coupon)
    return coupon


@route("GET", "/v1/coupons/{cid}")
def coupon_retrieve(sb: Sandbox, p: Obj, cid: str) -> Obj:
    return sb.get("coupon", cid)


@route("POST", "/v1/coupons/{cid}")
def coupon_update(sb: Sandbox, p: Obj, cid: str) -> Obj:
    coupon = sb.get("coupon", cid)
    before = sb.snapshot(coupon)
    if "name" in p:
        coupon["name"] = p["name"] or None
    apply_metadata(coupon, p)
    sb.store.touch(coupon)
    sb.emit_updated("coupon.updated", coupon, before)
    return coupon


@route("DELETE", "/v1/coupons/{cid}")
def coupon_delete(sb: Sandbox, p: Obj, cid: str) -> Obj:
    coupon = sb.get("coupon", cid)
    coupon["valid"] = False
    sb.store.remove(cid)
    sb.emit("coupon.deleted", coupon)
    return {"id": cid, "object": "coupon", "deleted": True}


@route("GET", "/v1/coupons")
def coupon_list(sb: Sandbox, p: Obj) -> Obj:
    return sb.list("coupon", p, url="/v1/coupons")


# -- payment links ------------------------------------------------------------------------------
@route("POST", "/v1/payment_links")
def payment_link_create(sb: Sandbox, p: Obj) -> Obj:
    items = p.get("line_items")
    if not isinstance(items, list) or not items:
        raise missing_param("line_items")
    prices = []
    for i, item in enumerate(items):
        price = sb.get("price", require(item, "price") if isinstance(item, dict) else None, param=f"line_items[{i}][price]")
        prices.append((price, to_int(item.get("quantity", 1), param=f"line_items[{i}][quantity]", minimum=1)))
    lid = new_id("plink")
    link = blank(
        "payment_link",
        id=lid,
        active=True,
        after_completion={"hosted_confirmation": {"custom_message": None}, "type": "hosted_confirmation"},
        allow_promotion_codes=to_bool(p.get("allow_promotion_codes", False), param="allow_promotion_codes"),
        automatic_tax={"enabled": False, "liability": None},
        billing_address_collection="auto",
        currency=prices[0][0]["currency"],
        custom_fields=[],
        custom_text={"after_submit": None, "shipping_address": None, "submit": None, "terms_of_service_acceptance": None},
        customer_creation="if_required",
        invoice_creation=None,
        payment_method_collection="always",
        phone_number_collection={"enabled": False},
        shipping_options=[],
        submit_type="auto",
        tax_id_collection={"enabled": False, "required": "never"},
        url=f"https://buy.stripe.com/test_{lid[6:]}",
        _line_items=[{"price": public(pr), "quantity": q} for pr, q in prices],
    )
    apply_metadata(link, p)
    sb.store.put(link)
    sb.emit("payment_link.created", link)
    return link


@route("GET", "/v1/payment_links/{lid}")
def payment_link_retrieve(sb: Sandbox, p: Obj, lid: str) -> Obj:
    return sb.get("payment_link", lid, label="payment link")


@route("POST", "/v1/payment_links/{lid}")
def payment_link_update(sb: Sandbox, p: Obj, lid: str) -> Obj:
    link = sb.get("payment_link", lid, label="payment link")
    before = sb.snapshot(link)
    if "active" in p:
        link["active"] = to_bool(p["active"], param="active")
    apply_metadata(link, p)
    sb.store.touch(link)
    sb.emit_updated("payment_link.updated", link, before)
    return link


@route("GET", "/v1/payment_links")
def payment_link_list(sb: Sandbox, p: Obj) -> Obj:
    active = to_bool(p["active"], param="active") if "active" in p else None
    return sb.list("payment_link", p, url="/v1/payment_links", match=lambda o: active is None or o["active"] == active)


@route("GET", "/v1/payment_links/{lid}/line_items")
def payment_link_items(sb: Sandbox, p: Obj, lid: str) -> Obj:
    link = sb.get("payment_link", lid, label="payment link")
    data = []
    for i, li in enumerate(link["_line_items"]):
        pr = li["price"]
        total = (pr["unit_amount"] or 0) * li["quantity"]
        data.append(blank(
            "item", id=f"li_{lid[6:]}{i}", adjustable_quantity=None, amount_discount=0, amount_subtotal=total, amount_tax=0,
            amount_total=total, currency=pr["currency"], description=pr.get("nickname") or pr["product"], price=pr,
            quantity=li["quantity"],
        ))
    return {"object": "list", "data": data, "has_more": False, "url": f"/v1/payment_links/{lid}/line_items"}
