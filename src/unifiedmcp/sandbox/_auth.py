"""Who is calling and which account the call acts on: API keys, ``Stripe-Account``, permissions.

Rules (Stripe's, as far as the sandbox models them):

- A key is accepted if the sandbox knows it (:mod:`._accounts`) or, for a secret key it has not
  seen, if the server accepts it (``api_keys``, or any ``sk_test_`` key when there is no list); a
  new secret key then gets an account of its own. Anything else is Stripe's 401.
- Without ``Stripe-Account`` a call acts on the key's account. With it, only an account's own
  secret key may act on another account, and only on one connected to it; every other case is
  Stripe's 403 "does not have access to account". Naming the key's own account is allowed.
- A restricted key, a ``read_only`` OAuth access token and a platform acting through a
  ``read_only`` connection are held to their permissions (:mod:`._permissions`): Stripe's 403
  naming the permission (or scope) that would allow the request.

Keys never appear in error messages unmasked.
"""

from __future__ import annotations

import base64
import binascii
import re

from starlette.datastructures import Headers

from ._accounts import RESTRICTED, SECRET, Accounts, Credential
from ._errors import StripeError
from ._permissions import allows
from ._state import Sandbox

__all__ = ["mask", "key_from", "authenticate", "acting_on", "check_permission", "no_key"]

_SECRET_KEY = re.compile(r"^sk_test_[A-Za-z0-9_]+$")


def mask(key: str) -> str:
    """A key as it may appear in a message: its prefix and last four characters."""
    return key[:8] + "*" * 4 + key[-4:] if len(key) > 12 else "****"


def key_from(headers: Headers) -> str:
    """The API key of ``Authorization: Bearer KEY`` or ``Basic base64(KEY:)`` (curl ``-u KEY:``)."""
    header = headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    if header[:6].lower() == "basic ":
        try:
            return base64.b64decode(header[6:]).decode().split(":", 1)[0]
        except (binascii.Error, UnicodeDecodeError):
            return ""
    return ""


def no_key() -> StripeError:
    return StripeError(
        401, type="invalid_request_error",
        message="You did not provide an API key. You need to provide your API key in the Authorization header, "
        "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
    )


def authenticate(accounts: Accounts, key: str, *, api_keys: set[str] | None) -> Credential:
    """The credential of ``key``, adopting an accepted secret key seen for the first time."""
    if not key:
        raise no_key()
    cred = accounts.credential(key)
    if cred is not None:
        return cred
    if (key in api_keys) if api_keys is not None else bool(_SECRET_KEY.match(key)):
        return accounts.adopt(key)
    raise StripeError(401, type="invalid_request_error", message=f"Invalid API Key provided: {mask(key)}")


def acting_on(accounts: Accounts, cred: Credential, stripe_account: str | None) -> tuple[Sandbox, str | None]:
    """The account a call acts on, and the scope that limits it (``None``: no scope limit)."""
    if stripe_account is None or stripe_account == cred.account:
        return accounts.sandbox(cred.account), cred.scope  # type: ignore[return-value]
    scope = accounts.scope(cred.account, stripe_account) if cred.kind == SECRET else None
    if scope is None:
        raise StripeError(
            403, type="invalid_request_error", code="account_invalid",
            message=f"The provided key '{mask(cred.key)}' does not have access to account '{stripe_account}' "
            "(or that account does not exist). Application access may have been revoked.",
        )
    return accounts.sandbox(stripe_account), scope  # type: ignore[return-value]


def check_permission(cred: Credential, scope: str | None, needed: str, account: str) -> None:
    """Stripe's 403 when a restricted key or a read-only connection may not do ``needed``."""
    if cred.kind == RESTRICTED and not allows(cred.permissions or frozenset(), needed):
        raise StripeError(
            403, type="invalid_request_error",
            message=f"The provided key '{mask(cred.key)}' does not have the required permissions for this endpoint "
            f"on account '{account}'. Having the '{needed}' permission would allow this request to continue.",
        )
    if scope == "read_only" and not needed.endswith("_read"):
        raise StripeError(
            403, type="invalid_request_error",
            message=f"This application does not have the required permissions for this endpoint on account '{account}'. "
            "Having the 'read_write' scope would allow this request to continue.",
        )
