"""The sandbox's own control paths (``/_sandbox/...``), beside the Stripe API.

| path | key | what |
|---|---|---|
| ``GET/POST /_sandbox/settings`` | any / secret | read (any key) or change (a secret key) the server-wide settings (JSON) |
| ``GET /_sandbox/deliveries`` | any | delivery attempts to the caller's account's endpoints; ``idle`` |
| ``POST /_sandbox/accounts`` | any | a new independent account: ``{"id", "secret_key"}`` |
| ``POST /_sandbox/restricted_keys`` | secret | a restricted key of the key's account |
| ``GET /_sandbox/connect`` | secret | the account's Connect ``client_id`` |
| ``GET /_sandbox/health`` | none | liveness |

"secret" means an account's own ``sk_test_`` key: not a restricted key, not an OAuth access token.
Errors have Stripe's shape; keys never appear in them unmasked.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._accounts import SECRET, Accounts, Credential
from ._auth import authenticate, key_from
from ._errors import StripeError, invalid
from ._permissions import expand
from ._state import API_VERSION

__all__ = ["Control"]

Obj = dict[str, Any]


async def _json(request: Request) -> Obj:
    """The JSON object of the body (an empty body is ``{}``)."""
    body = await request.body()
    if not body:
        return {}
    try:
        values = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise invalid("Expected a JSON object") from None
    if not isinstance(values, dict):
        raise invalid("Expected a JSON object")
    return values


def _optional_text(values: Obj, name: str) -> str | None:
    value = values.get(name)
    if value is not None and not isinstance(value, str):
        raise invalid(f"{name} must be a string", param=name)
    return value


def _error(exc: StripeError) -> Response:
    return JSONResponse(exc.body(), status_code=exc.status, headers={"Request-Id": "req_control", **exc.headers})


class Control:
    """The ``/_sandbox`` endpoints of one server; ``routes`` to mount them."""

    def __init__(self, accounts: Accounts, *, api_keys: set[str] | None) -> None:
        self.accounts = accounts
        self.api_keys = api_keys
        self.routes = [
            Route("/_sandbox/settings", self.settings, methods=["GET", "POST"]),
            Route("/_sandbox/deliveries", self.deliveries, methods=["GET"]),
            Route("/_sandbox/accounts", self.create_account, methods=["POST"]),
            Route("/_sandbox/restricted_keys", self.restricted_key, methods=["POST"]),
            Route("/_sandbox/connect", self.connect, methods=["GET"]),
            Route("/_sandbox/health", self.health, methods=["GET"]),
        ]

    def _caller(self, request: Request, *, secret: bool = False) -> Credential:
        with self.accounts.db.lock:
            cred = authenticate(self.accounts, key_from(request.headers), api_keys=self.api_keys)
        if secret and cred.kind != SECRET:
            raise StripeError(403, type="invalid_request_error",
                              message="This path needs an account's own secret key (not a restricted key or an OAuth access token).")
        return cred

    async def settings(self, request: Request) -> Response:
        try:
            self._caller(request, secret=request.method == "POST")
            if request.method == "POST":
                values = await _json(request)
                with self.accounts.db.lock:
                    self.accounts.settings.update(values)
                    self.accounts.save_settings()
                    self.accounts.db.commit()
                    dispatcher = self.accounts.shared.dispatcher
                    if "chaos_seed" in values:
                        self.accounts.shared.chaos.seed(self.accounts.settings.chaos_seed)
                        if dispatcher is not None:
                            dispatcher.reseed()
            return JSONResponse(self.accounts.settings.to_dict())
        except StripeError as exc:
            return _error(exc)

    async def deliveries(self, request: Request) -> Response:
        try:
            cred = self._caller(request)
        except StripeError as exc:
            return _error(exc)
        d = self.accounts.shared.dispatcher
        mine = [entry for entry in d.log if entry["account"] == cred.account] if d else []
        return JSONResponse({"idle": d.idle if d else True, "deliveries": mine})

    async def create_account(self, request: Request) -> Response:
        try:
            self._caller(request)
            values = await _json(request)
            email, name = _optional_text(values, "email"), _optional_text(values, "business_name")
            with self.accounts.db.lock:
                acct, key = self.accounts.create(email=email, business_name=name)
                self.accounts.db.commit()
        except StripeError as exc:
            return _error(exc)
        return JSONResponse({"id": acct, "secret_key": key})

    async def restricted_key(self, request: Request) -> Response:
        try:
            cred = self._caller(request, secret=True)
            values = await _json(request)
            names = values.get("permissions")
            if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
                raise invalid("permissions must be a non-empty list of permission names", param="permissions")
            try:
                permissions = expand(names)
            except ValueError as exc:
                raise invalid(f"Unknown permission: {exc}", param="permissions") from None
            with self.accounts.db.lock:
                rid, key = self.accounts.mint_restricted(cred.account, permissions, name=_optional_text(values, "name"))
                self.accounts.db.commit()
        except StripeError as exc:
            return _error(exc)
        return JSONResponse({"id": rid, "secret": key, "account": cred.account, "permissions": sorted(permissions)})

    async def connect(self, request: Request) -> Response:
        try:
            cred = self._caller(request, secret=True)
        except StripeError as exc:
            return _error(exc)
        return JSONResponse({"client_id": self.accounts.client_id(cred.account), "account": cred.account})

    async def health(self, request: Request) -> Response:
        return JSONResponse({"ok": True, "api_version": API_VERSION})
