"""The consent page: where a customer signs in with a UnifiedMCP API key and approves an OAuth
client and its scopes.

``GET /oauth/consent?request=H`` shows the client (its name, its client id, where the answer goes)
and the scopes asked for; ``POST`` with the API key and ``decision=approve`` (or ``deny``) decides
the request once and redirects to the client with a code (or ``error=access_denied``). Only
customer keys sign in here: the token then acts for that customer exactly as the key would. An
operator key is refused (operator access stays with operator keys on ``serve --operator``).

The handle ``H`` is single-use, expires (10 minutes) and is stored hashed; it doubles as the
form's anti-forgery token. Nothing typed here (the key) is echoed back, logged or put in a page.
Pages carry ``no-store``, ``no-referrer`` and may not be framed (clickjacking).
"""

from __future__ import annotations

import html
from mcp.server.auth.provider import construct_redirect_uri
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ...errors import AuthError, UnknownCustomer
from ...ledger import OAuthAuthorization
from ...ledger._tokens import hex_hash, new_oauth_token
from ._provider import LedgerOAuthProvider, _later, off_loop
from ._scopes import READ, WRITE

__all__ = ["ConsentPage"]

_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
}
_SCOPE_TEXT = {
    READ: "Read your Stripe data and your UnifiedMCP usage (read-only tools, resources, prompts)",
    WRITE: "Make changes in your Stripe account (write tools: create, update, refund, cancel...)",
}
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:36em;margin:3em auto;padding:0 1em;color:#222}"
    "code{background:#f3f3f3;padding:0 .2em}.error{color:#a00}label{display:block;margin:.4em 0}"
    "input[type=password]{width:100%;padding:.4em}button{margin:1em .5em 0 0;padding:.5em 1.2em}"
)


def _page(body: str, *, status: int = 200) -> HTMLResponse:
    text = f"<!doctype html><html><head><meta charset=utf-8><title>UnifiedMCP authorization</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    return HTMLResponse(text, status_code=status, headers=_HEADERS)


def _gone() -> HTMLResponse:
    return _page(
        "<h1>This authorization request is no longer valid</h1><p>It was already answered or it expired "
        "(10 minutes). Start again from your MCP client.</p>",
        status=400,
    )


class ConsentPage:
    """The ASGI endpoint of ``/oauth/consent`` (GET shows, POST decides)."""

    def __init__(self, provider: LedgerOAuthProvider) -> None:
        self._provider = provider
        self._ledger = provider.ledger

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        request = Request(scope, receive)
        if request.method == "POST":
            response = await self._decide(request)
        else:
            response = await self._show(request.query_params.get("request", ""))
        await response(scope, receive, send)

    async def _pending(self, handle: str) -> OAuthAuthorization | None:
        if not handle or len(handle) > 100:
            return None
        return await off_loop(self._ledger, self._ledger.oauth.pending_authorization, hex_hash(handle))

    async def _show(self, handle: str, *, error: str | None = None, status: int = 200) -> Response:
        pending = await self._pending(handle)
        if pending is None:
            return _gone()
        client = await off_loop(self._ledger, self._ledger.oauth.client, pending.client_id)
        name = (client.client_name if client else None) or "An MCP client"
        e = html.escape
        scopes = "".join(
            f'<label><input type=checkbox name=scope value="{e(s)}" checked> {e(_SCOPE_TEXT.get(s, s))}</label>'
            for s in pending.scopes
        )
        problem = f'<p class=error role=alert>{e(error)}</p>' if error else ""
        body = (
            f"<h1>Authorize {e(name)}</h1>"
            f"<p><b>{e(name)}</b> (client id <code>{e(pending.client_id)}</code>) asks to use UnifiedMCP as you. "
            f"After you approve, your browser returns to <code>{e(pending.redirect_uri)}</code>.</p>"
            f"{problem}<form method=post action=consent>"
            f'<input type=hidden name=request value="{e(handle)}">'
            f"<fieldset><legend>It may</legend>{scopes}</fieldset>"
            "<label>Your UnifiedMCP API key (<code>umk_…</code>, from <code>unifiedmcp keys create --customer …</code>)"
            ' <input type=password name=api_key autocomplete=off required></label>'
            "<p>Its calls are metered to your plan and reach only your own connected Stripe accounts. "
            "You can revoke the access at any time.</p>"
            "<button type=submit name=decision value=approve>Approve</button>"
            "<button type=submit name=decision value=deny formnovalidate>Deny</button></form>"
        )
        return _page(body, status=status)

    async def _decide(self, request: Request) -> Response:
        form = await request.form()
        handle = str(form.get("request") or "")
        pending = await self._pending(handle)
        if pending is None:
            return _gone()
        if form.get("decision") != "approve":
            decided = await off_loop(
                self._ledger, lambda: self._ledger.oauth.decide_authorization(hex_hash(handle), customer_id=None)
            )
            if decided is None:
                return _gone()
            return _back(decided, error="access_denied", error_description="the user denied the request")
        chosen = [s for s in form.getlist("scope") if s in pending.scopes]
        if not chosen:
            return await self._show(handle, error="Tick at least one permission, or deny.", status=400)
        customer = await self._customer(str(form.get("api_key") or ""))
        if isinstance(customer, _Refusal):
            return await self._show(handle, error=customer.reason, status=401)
        _, code, _ = new_oauth_token("ac")
        decided = await off_loop(
            self._ledger,
            lambda: self._ledger.oauth.decide_authorization(
                hex_hash(handle), customer_id=customer, scopes=chosen, code_hash=hex_hash(code),
                code_expires_at=_later(self._provider.options.code_ttl),
            ),
        )
        if decided is None:
            return _gone()
        return _back(decided, code=code)

    async def _customer(self, api_key: str) -> str | _Refusal:
        try:
            who = await off_loop(self._ledger, self._ledger.authenticate, api_key)
        except (AuthError, UnknownCustomer):
            return _Refusal("That API key is not valid (unknown, revoked or mistyped). Nothing was approved.")
        if who.role != "customer" or who.customer_id is None:
            return _Refusal(
                "An operator key cannot authorize an OAuth client: sign in with a customer key. "
                "Operators use their key directly with `unifiedmcp serve --operator`."
            )
        return who.customer_id


class _Refusal:
    def __init__(self, reason: str) -> None:
        self.reason = reason


def _back(decided: OAuthAuthorization, **params: str) -> Response:
    """303 to the client's redirect URI with the answer (and its state)."""
    query: dict[str, str | None] = {**params, "state": decided.state}
    return RedirectResponse(
        construct_redirect_uri(decided.redirect_uri, **query), status_code=303, headers={"Cache-Control": "no-store"}
    )

