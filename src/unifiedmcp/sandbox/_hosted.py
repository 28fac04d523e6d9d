"""The local pages a customer uses: the billing portal and Checkout (what a session's ``url`` opens).

| path | what |
|---|---|
| ``GET /_sandbox/portal/{bps_...}?token=`` | the portal: its home page, or the session's ``flow_data`` flow |
| ``POST /_sandbox/portal/{bps_...}?token=`` | a portal action (form ``action``: ``cancel``, ``accept_offer``, ``update``, ``confirm_update``, ``payment_method``) |
| ``GET /_sandbox/checkout/{cs_...}?token=`` | the Checkout page: line items, total, email, promotion code, a test card |
| ``POST /_sandbox/checkout/{cs_...}?token=`` | pay (form ``payment_method`` = a test card token, ``email``, ``promotion_code``) |

The token in the URL (from the session's ``url``) is the only credential, as with Stripe's hosted
pages. An action runs like an API request (under the store lock, committed, its events sent) but
with ``request.id`` null, as Stripe's own actions. After it: Checkout redirects (303) to
``success_url`` (``{CHECKOUT_SESSION_ID}`` replaced), the portal follows the flow's
``after_completion``. A refused action (a declined card, an invalid code) shows its message on the
page, which is answered 402 or 400 like the API call behind it.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ._accounts import Accounts
from ._errors import StripeError
from ._resources import checkout, portal
from ._state import Sandbox

__all__ = ["Hosted"]

Obj = dict[str, Any]
e = html.escape

# The test cards offered on the pages (any pm_card_ token is accepted in the form).
_CARDS = (
    ("pm_card_visa", "Visa 4242 (succeeds)"),
    ("pm_card_mastercard", "Mastercard 4444 (succeeds)"),
    ("pm_card_visa_chargeDeclined", "Visa 0002 (declined: generic_decline)"),
    ("pm_card_visa_chargeDeclinedInsufficientFunds", "Visa 9995 (declined: insufficient_funds)"),
    ("pm_card_chargeCustomerFail", "Visa 0341 (attaches, then every charge fails)"),
)
_STYLE = ("body{font-family:system-ui,sans-serif;margin:2rem;max-width:48rem}td,th{padding:.25rem .75rem;text-align:left}"
          ".error{color:#b00020}form{margin:.5rem 0}")


async def _form(request: Request) -> dict[str, str]:
    """The page's urlencoded form (parsed here: Starlette's parser needs python-multipart)."""
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))


def _page(title: str, body: str) -> str:
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{e(title)} (sandbox)</title><style>{_STYLE}</style>'
            f"</head><body><h1>{e(title)} <small>(UnifiedMCP sandbox)</small></h1>{body}</body></html>")


def _cards() -> str:
    options = "".join(f'<option value="{t}">{e(label)}</option>' for t, label in _CARDS)
    return f'<label>Card <select name="payment_method">{options}</select></label>'


def _money(amount: int | None, currency: str | None) -> str:
    return f"{(amount or 0) / 100:.2f} {(currency or '').upper()}"


class Hosted:
    """The pages of one server; ``routes`` to mount them."""

    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts
        self.routes = [
            Route("/_sandbox/portal/{sid}", self.portal, methods=["GET", "POST"]),
            Route("/_sandbox/checkout/{sid}", self.checkout, methods=["GET", "POST"]),
        ]

    def _find(self, request: Request, kind: str) -> tuple[Sandbox, Obj] | None:
        sid = request.path_params["sid"]
        for sb in self.accounts:
            session = sb.store.get(sid, kind)
            if session is not None and request.query_params.get("token") == session.get("_token"):
                return sb, session
        return None

    def _act(self, sb: Sandbox, action: Any) -> StripeError | None:
        """Run a page action like an API request: atomic under the lock, committed, events sent."""
        with self.accounts.db.lock:
            try:
                action()
                return None
            except StripeError as exc:
                return exc
            finally:
                sb.store.commit()

    # -- portal ---------------------------------------------------------------------------------
    async def portal(self, request: Request) -> Response:
        found = self._find(request, "billing_portal.session")
        if found is None:
            return HTMLResponse(_page("Billing portal", "<p>Session not found or expired.</p>"), status_code=404)
        sb, session = found
        if request.method == "GET":
            return HTMLResponse(_portal_page(sb, session, str(request.url)))
        form = await _form(request)
        error = self._act(sb, lambda: portal.act(sb, session, form))
        if error is not None:
            return HTMLResponse(_portal_page(sb, session, str(request.url), error=error.message), status_code=error.status)
        after = (session.get("flow") or {}).get("after_completion") or {"type": "portal_homepage"}
        if after["type"] == "redirect":
            return RedirectResponse(after["redirect"]["return_url"], status_code=303)
        if after["type"] == "hosted_confirmation":
            message = (after.get("hosted_confirmation") or {}).get("custom_message") or "Your changes were saved."
            back = session.get("return_url")
            link = f'<p><a href="{e(back)}">Return</a></p>' if back else ""
            return HTMLResponse(_page("Billing portal", f"<p>{e(message)}</p>{link}"))
        return RedirectResponse(str(request.url), status_code=303)

    # -- checkout -------------------------------------------------------------------------------
    async def checkout(self, request: Request) -> Response:
        found = self._find(request, checkout.KIND)
        if found is None:
            return HTMLResponse(_page("Checkout", "<p>Session not found.</p>"), status_code=404)
        sb, session = found
        if session["status"] != "open":
            return HTMLResponse(_page("Checkout", f"<p>This Checkout Session is {e(session['status'])}.</p>"), status_code=410)
        if request.method == "GET":
            return HTMLResponse(_checkout_page(sb, session, str(request.url)))
        form = await _form(request)
        error = self._act(sb, lambda: checkout.complete(
            sb, session, payment_method=form.get("payment_method") or "pm_card_visa", email=form.get("email"),
            promotion_code=form.get("promotion_code") or None))
        if error is not None:
            return HTMLResponse(_checkout_page(sb, session, str(request.url), error=error.message), status_code=error.status)
        if session.get("success_url"):
            return RedirectResponse(session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"]), status_code=303)
        return HTMLResponse(_page("Checkout", "<p>Thanks: payment complete.</p>"))


def _portal_page(sb: Sandbox, session: Obj, url: str, *, error: str | None = None) -> str:
    cus = sb.store.get(session["customer"]) or {}
    flow = session.get("flow")
    shown = f'<p class="error">{e(error)}</p>' if error else ""
    back = session.get("return_url")
    link = f'<p><a href="{e(back)}">Return to {e(back)}</a></p>' if back else ""
    head = f"<p>Customer: <b>{e(cus.get('name') or cus.get('email') or cus.get('id', ''))}</b></p>{shown}"
    if flow is not None:
        return _page("Billing portal", head + _flow_form(sb, flow, url) + link)
    subs = [s for s in sb.store.iter("subscription") if s["customer"] == cus.get("id")]
    invs = [i for i in sb.store.iter("invoice") if i["customer"] == cus.get("id")][:12]
    rows = "".join(
        f"<tr><td>{e(s['id'])}</td><td>{e(s['status'])}</td>"
        f"<td>{e(', '.join(i['price'].get('nickname') or i['price']['id'] for i in s['items']['data']))}</td>"
        f"<td>{'cancels at period end' if s.get('cancel_at_period_end') else _button(url, 'cancel', s['id'], 'Cancel at period end') if s['status'] in ('active', 'trialing', 'past_due') else ''}</td></tr>"
        for s in subs
    )
    inv_rows = "".join(
        f"<tr><td>{e(i.get('number') or i['id'])}</td><td>{e(i['status'])}</td><td>{_money(i['total'], i['currency'])}</td></tr>"
        for i in invs
    )
    return _page("Billing portal", head
                 + f"<h2>Subscriptions</h2><table><tr><th>id</th><th>status</th><th>prices</th><th></th></tr>{rows}</table>"
                 + f"<h2>Invoices</h2><table><tr><th>number</th><th>status</th><th>total</th></tr>{inv_rows}</table>"
                 + f'<h2>Payment method</h2><form method="post" action="{e(url)}"><input type="hidden" name="action" '
                   f'value="payment_method">{_cards()} <button>Save as default</button></form>' + link)


def _button(url: str, action: str, subscription: str, label: str, extra: str = "") -> str:
    return (f'<form method="post" action="{e(url)}"><input type="hidden" name="action" value="{action}">'
            f'<input type="hidden" name="subscription" value="{e(subscription)}">{extra}<button>{e(label)}</button></form>')


def _flow_form(sb: Sandbox, flow: Obj, url: str) -> str:
    kind = flow["type"]
    if kind == "payment_method_update":
        return (f'<h2>Update your payment method</h2><form method="post" action="{e(url)}"><input type="hidden" '
                f'name="action" value="payment_method">{_cards()} <button>Save</button></form>')
    detail = flow[kind]
    sub = sb.store.get(detail["subscription"]) or {"items": {"data": []}}
    plans = ", ".join(i["price"].get("nickname") or i["price"]["id"] for i in sub["items"]["data"])
    head = f"<p>Subscription {e(detail['subscription'])}: {e(plans)}</p>"
    if kind == "subscription_cancel":
        offer = ""
        if detail.get("retention"):
            coupon = detail["retention"]["coupon_offer"]["coupon"]
            offer = _button(url, "accept_offer", detail["subscription"], f"Stay, with coupon {coupon}")
        return f"<h2>Cancel your subscription</h2>{head}{_button(url, 'cancel', detail['subscription'], 'Cancel at period end')}{offer}"
    if kind == "subscription_update":
        current = {i["price"]["id"] for i in sub["items"]["data"]}
        first = next((i["price"] for i in sub["items"]["data"] if "quantity" in i), None) or {}
        recurring = first.get("recurring") or {}
        choices = [p for p in sb.store.iter("price") if p["active"] and p["id"] not in current and p.get("recurring")
                   and p["currency"] == first.get("currency") and p["recurring"]["interval"] == recurring.get("interval")
                   and p["recurring"].get("usage_type") == "licensed"]
        options = "".join(f'<option value="{e(p["id"])}">{e(p.get("nickname") or p["id"])} '
                          f'({_money(p["unit_amount"], p["currency"])})</option>' for p in choices)
        select = f'<label>New plan <select name="price">{options}</select></label> '
        return f"<h2>Change your plan</h2>{head}{_button(url, 'update', detail['subscription'], 'Change plan', select)}"
    items = "".join(f"<li>{e(i['id'])}: {e(i['price'] or 'same price')}"
                    f"{' x ' + str(i['quantity']) if i.get('quantity') is not None else ''}</li>" for i in detail["items"])
    return (f"<h2>Confirm your new plan</h2>{head}<ul>{items}</ul>"
            f"{_button(url, 'confirm_update', detail['subscription'], 'Confirm')}")


def _checkout_page(sb: Sandbox, session: Obj, url: str, *, error: str | None = None) -> str:
    rows = "".join(
        f"<tr><td>{e(li['description'] or '')}</td><td>{'' if li['quantity'] is None else li['quantity']}</td>"
        f"<td>{'billed by usage' if li['quantity'] is None else _money(li['amount_total'], li['currency'])}</td></tr>"
        for li in checkout.line_items(sb, session)
    )
    trial = "<p>Starts with a free trial.</p>" if session.get("_trial_end") else ""
    email = "" if session["customer"] else (
        f'<p><label>Email <input name="email" type="email" value="{e(session["customer_email"] or "")}"></label></p>')
    code = '<p><label>Promotion code <input name="promotion_code"></label></p>' if session["allow_promotion_codes"] else ""
    shown = f'<p class="error">{e(error)}</p>' if error else ""
    cancel = f'<p><a href="{e(session["cancel_url"])}">Cancel</a></p>' if session.get("cancel_url") else ""
    verb = "Subscribe" if session["mode"] == "subscription" else "Pay"
    return _page("Checkout", f"<table><tr><th>item</th><th>qty</th><th>amount</th></tr>{rows}</table>"
                 f"<p>Due today: <b>{_money(session['amount_total'], session['currency'])}</b></p>{trial}{shown}"
                 f'<form method="post" action="{e(url)}">{email}{code}<p>{_cards()}</p><button>{verb}</button></form>{cancel}')
