"""The configured Stripe client and deterministic idempotency keys.

    client = build_client(settings)                     # sandbox if STRIPE_API_BASE is set
    key = idempotency_key("subscriptions.create", {"customer": "cus_1", "price": "price_1"})
    client.v1.subscriptions.create(params, {"idempotency_key": key})
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import stripe

from ..config import LIVE_KEY_PREFIXES, Settings
from ..errors import LiveKeyRefused
from ._errors import StripeNotConfigured

__all__ = ["API_VERSION", "build_client", "client_for_key", "idempotency_key", "KEY_PREFIXES"]

#: The API version stripe-python pins (sent as ``Stripe-Version`` on every request).
API_VERSION: str = stripe.api_version

#: Accepted key kinds: secret (``sk_``) and restricted (``rk_``) keys.
KEY_PREFIXES = ("sk_test_", "rk_test_", "sk_live_", "rk_live_")

_KEY_NAMESPACE = "umcp"
_MAX_KEY = 255  # Stripe's limit on Idempotency-Key


def build_client(
    settings: Settings,
    *,
    max_network_retries: int = 2,
    stripe_account: str | None = None,
) -> stripe.StripeClient:
    """A :class:`stripe.StripeClient` for ``settings`` (the operator's account, ``STRIPE_API_KEY``).

    - the API base is ``settings.stripe_api_base`` when set (the local sandbox), else Stripe's;
      Connect OAuth goes to ``settings.connect_base`` with ``STRIPE_CONNECT_CLIENT_ID``;
    - the API version is the one stripe-python pins (:data:`API_VERSION`);
    - secret (``sk_test_``) and restricted (``rk_test_``) keys are accepted; live keys only with
      ``UNIFIEDMCP_ALLOW_LIVE=1`` (checked again here, not only by :class:`Settings`);
    - ``stripe_account`` (else ``settings.stripe_account``) is sent as ``Stripe-Account``.
    """
    if settings.stripe_api_key is None:
        raise StripeNotConfigured("STRIPE_API_KEY is not set")
    return client_for_key(
        settings.stripe_api_key.get_secret_value(),
        settings=settings,
        variable="STRIPE_API_KEY",
        max_network_retries=max_network_retries,
        stripe_account=stripe_account or settings.stripe_account or None,
    )


def client_for_key(
    key: str,
    *,
    settings: Settings,
    variable: str,
    max_network_retries: int = 2,
    stripe_account: str | None = None,
) -> stripe.StripeClient:
    """A client for any key (the operator's, or one a customer supplied), with the checks of
    :func:`build_client`. ``variable`` names where the key came from, for error messages."""
    key = key.strip()
    if not key.startswith(KEY_PREFIXES):
        raise StripeNotConfigured(f"{variable} must be a secret (sk_test_) or restricted (rk_test_) key")
    if key.startswith(LIVE_KEY_PREFIXES) and not settings.allow_live:
        raise LiveKeyRefused(variable)
    if max_network_retries < 0:
        raise ValueError("max_network_retries must be >= 0")
    bases = {"connect": settings.connect_base}
    if settings.stripe_api_base:
        bases["api"] = settings.stripe_api_base.rstrip("/")
    return stripe.StripeClient(
        key,
        stripe_account=stripe_account,
        stripe_version=API_VERSION,
        client_id=settings.stripe_connect_client_id or None,
        base_addresses=bases,  # type: ignore[arg-type]
        max_network_retries=max_network_retries,
    )


def _canonical(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((_canonical(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "to_dict"):  # a StripeObject
        return _canonical(value.to_dict())
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def idempotency_key(operation: str, params: Mapping[str, Any], *, scope: str = "") -> str:
    """A deterministic ``Idempotency-Key`` for ``operation`` called with ``params``.

    The same operation, parameters and scope always give the same key, so a retried call (an
    agent repeating a tool call, a network retry) is answered from Stripe's idempotency cache
    instead of charging twice. Key order in ``params`` does not matter. ``scope`` separates
    callers or attempts that must not share keys (e.g. an MCP request id). A caller that has its
    own key passes it instead of calling this (every flow takes ``idempotency_key=``).
    """
    if not operation:
        raise ValueError("operation must not be empty")
    canonical = json.dumps(
        {"op": operation, "params": _canonical(params), "scope": scope},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:40]
    op = "".join(c if c.isalnum() or c in "._-" else "-" for c in operation)[:80]
    return f"{_KEY_NAMESPACE}-{op}-{digest}"[:_MAX_KEY]
