"""Stripe Connect OAuth for Standard accounts: ``/oauth/authorize``, ``/oauth/token``, ``/oauth/deauthorize``.

The authorize page behaves like test mode's "skip this form": it answers at once with a 302 to
``redirect_uri`` carrying ``code=ac_...``, ``scope`` and ``state``, for a fresh account (with a
secret key of its own) or, with the sandbox-only parameter ``stripe_account=acct_...``, for an
existing sandbox account; ``deny=1`` (sandbox-only) sends Stripe's ``access_denied`` instead. An
unknown ``client_id`` or a missing or invalid parameter is a 400 with Stripe's OAuth error body
and no redirect, so the page never sends a browser to an unvalidated ``redirect_uri``. The page
needs no API key (a browser opens it); any ``http(s)`` ``redirect_uri`` is accepted (there are no
registered redirect URIs in the sandbox).

The account is connected when the platform exchanges the code (single use, valid five minutes:
setting ``oauth_code_lifetime_seconds``; only for the platform it was issued to) at
``/oauth/token`` with its secret key (``Bearer`` or the ``client_secret`` form field); the answer
has Stripe's shape and the connected account sends ``account.application.authorized`` to the
platform. ``grant_type=refresh_token`` returns a new
access token for the same connection. ``/oauth/deauthorize`` ends the connection, revokes its
tokens and sends ``account.application.deauthorized``. Errors: Stripe's ``{"error",
"error_description"}``, 400 (401 for a missing or invalid key). Codes live in memory only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ._accounts import SECRET, Accounts, Credential
from ._auth import authenticate, key_from, mask
from ._errors import StripeError
from ._form import decode_form
from ._objects import new_id

__all__ = ["OAuth"]

_SCOPES = ("read_write", "read_only")
_MAX_CODES = 10_000  # codes kept (used ones too, to say "already used"); the oldest go first


@dataclass
class _Code:
    platform: str
    account: str
    scope: str
    expires: float
    used: bool = False


class OAuthError(Exception):
    """Stripe's OAuth error body: ``{"error": code, "error_description": description}``."""

    def __init__(self, code: str, description: str, *, status: int = 400) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.status = status

    def response(self) -> JSONResponse:
        return JSONResponse({"error": self.code, "error_description": self.description}, status_code=self.status)


def _http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _with_query(url: str, params: dict[str, str]) -> str:
    return url + ("&" if urlsplit(url).query else "?") + urlencode(params)


class OAuth:
    """The three endpoints of one server; ``routes`` to mount them."""

    def __init__(self, accounts: Accounts, *, api_keys: set[str] | None) -> None:
        self.accounts = accounts
        self.api_keys = api_keys
        self._codes: dict[str, _Code] = {}
        self.routes = [
            Route("/oauth/authorize", self.authorize, methods=["GET"]),
            Route("/oauth/token", self.token, methods=["POST"]),
            Route("/oauth/deauthorize", self.deauthorize, methods=["POST"]),
        ]

    # -- the browser page -----------------------------------------------------------------------
    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        try:
            with self.accounts.db.lock:
                platform, redirect_uri, scope = self._check_authorize(q.get("client_id"), q.get("redirect_uri"),
                                                                      q.get("response_type"), q.get("scope", "read_only"))
                state = {"state": q["state"]} if "state" in q else {}
                if q.get("deny") in ("1", "true"):
                    return RedirectResponse(_with_query(redirect_uri, {
                        "error": "access_denied", "error_description": "The user denied your request", **state}), 302)
                account = self._account_to_connect(platform, q.get("stripe_account"))
                code = self._issue(platform, account, scope)
                self.accounts.db.commit()
        except OAuthError as exc:
            return exc.response()
        return RedirectResponse(_with_query(redirect_uri, {"code": code, "scope": scope, **state}), 302)

    def _check_authorize(self, client_id: str | None, redirect_uri: str | None, response_type: str | None,
                         scope: str) -> tuple[str, str, str]:
        if not client_id:
            raise OAuthError("invalid_request", "No client_id provided")
        platform = self.accounts.by_client_id(client_id)
        if platform is None:
            raise OAuthError("invalid_client", f"No such application: '{client_id}'")
        if not redirect_uri or not _http_url(redirect_uri):
            raise OAuthError("invalid_request", "Invalid redirect_uri: an http(s) URL is required")
        if response_type != "code":
            raise OAuthError("unsupported_response_type", f"Unsupported response_type: {response_type}")
        if scope not in _SCOPES:
            raise OAuthError("invalid_scope", f"Invalid scope: {scope}")
        return platform, redirect_uri, scope

    def _account_to_connect(self, platform: str, named: str | None) -> str:
        if named is None:
            return self.accounts.create()[0]
        if self.accounts.sandbox(named) is None or named == platform:
            raise OAuthError("invalid_request", f"No such account to connect: '{named}'")
        return named

    def _issue(self, platform: str, account: str, scope: str) -> str:
        now = time.monotonic()
        lifetime = float(self.accounts.settings.oauth_code_lifetime_seconds)
        # Expired codes are kept for one more lifetime, so that using one says "expired".
        for old in [c for c, rec in self._codes.items() if rec.expires + lifetime < now]:
            del self._codes[old]
        while len(self._codes) >= _MAX_CODES:
            del self._codes[next(iter(self._codes))]
        code = new_id("ac", 32)
        self._codes[code] = _Code(platform, account, scope, now + lifetime)
        return code

    # -- the platform's server-side calls ---------------------------------------------------------
    async def _form(self, request: Request) -> dict[str, object]:
        try:
            return decode_form((await request.body()).decode("utf-8"))
        except (StripeError, UnicodeDecodeError):
            raise OAuthError("invalid_request", "Invalid form body") from None

    def _platform(self, request: Request, form: dict[str, object]) -> Credential:
        """The platform calling: its secret key as ``client_secret`` or ``Authorization``."""
        key = form.get("client_secret") or key_from(request.headers)
        try:
            cred = authenticate(self.accounts, key if isinstance(key, str) else "", api_keys=self.api_keys)
        except StripeError as exc:
            raise OAuthError("invalid_client", exc.message, status=401) from None
        if cred.kind != SECRET:
            raise OAuthError("invalid_client", f"Invalid API Key provided: {mask(cred.key)}", status=401)
        return cred

    async def token(self, request: Request) -> Response:
        try:
            form = await self._form(request)
            with self.accounts.db.lock:
                cred = self._platform(request, form)
                grant = form.get("grant_type")
                if not grant:
                    raise OAuthError("invalid_request", "No grant type specified")
                if grant == "authorization_code":
                    account, scope, access, refresh = self._exchange(cred.account, form.get("code"))
                elif grant == "refresh_token":
                    account, scope, access, refresh = self._refresh(cred.account, form.get("refresh_token"))
                else:
                    raise OAuthError("unsupported_grant_type", f"Unsupported grant type: {grant}")
                body = {
                    "access_token": access, "livemode": False, "refresh_token": refresh, "scope": scope,
                    "stripe_publishable_key": self.accounts.publishable_key(account), "stripe_user_id": account,
                    "token_type": "bearer",
                }
                self.accounts.db.commit()
        except OAuthError as exc:
            return exc.response()
        return JSONResponse(body)

    def _exchange(self, platform: str, code: object) -> tuple[str, str, str, str]:
        if not isinstance(code, str) or not code:
            raise OAuthError("invalid_request", "No authorization code provided")
        rec = self._codes.get(code)
        if rec is None or rec.platform != platform:
            raise OAuthError("invalid_grant", f"Authorization code does not exist: {code}")
        if rec.used:
            raise OAuthError("invalid_grant", f"Authorization code has already been used: {code}")
        if rec.expires < time.monotonic():
            raise OAuthError("invalid_grant", f"Authorization code expired: {code}")
        rec.used = True
        access, refresh = self.accounts.connect(platform, rec.account, rec.scope)
        self._application_event("account.application.authorized", platform, rec.account)
        return rec.account, rec.scope, access, refresh

    def _refresh(self, platform: str, token: object) -> tuple[str, str, str, str]:
        if not isinstance(token, str) or not token:
            raise OAuthError("invalid_request", "No refresh token provided")
        rec = self.accounts.refresh_grant(platform, token)
        if rec is None:
            raise OAuthError("invalid_grant", f"Invalid refresh token: {mask(token)}")
        access = self.accounts.access_token(platform, rec["account"], rec["scope"])
        return rec["account"], rec["scope"], access, token

    async def deauthorize(self, request: Request) -> Response:
        try:
            form = await self._form(request)
            with self.accounts.db.lock:
                cred = self._platform(request, form)
                client_id, account = form.get("client_id"), form.get("stripe_user_id")
                for name, value in (("client_id", client_id), ("stripe_user_id", account)):
                    if not isinstance(value, str) or not value:
                        raise OAuthError("invalid_request", f"No {name} provided")
                if client_id != self.accounts.client_id(cred.account):
                    raise OAuthError("invalid_client", f"No such application: '{client_id}'")
                if self.accounts.scope(cred.account, account) is None:  # type: ignore[arg-type]
                    raise OAuthError("invalid_client", f"Application {client_id} is not connected to stripe account "
                                     f"{account}, or that account does not exist.")
                # Sent while still connected, so that the platform's Connect endpoints receive it.
                self._application_event("account.application.deauthorized", cred.account, account)  # type: ignore[arg-type]
                self.accounts.disconnect(cred.account, account)  # type: ignore[arg-type]
                self.accounts.db.commit()
        except OAuthError as exc:
            return exc.response()
        return JSONResponse({"stripe_user_id": account})

    def _application_event(self, type: str, platform: str, account: str) -> None:
        sb = self.accounts.sandbox(account)
        application = {"id": self.accounts.client_id(platform), "object": "application", "name": None}
        sb.emit(type, application)  # type: ignore[union-attr]
