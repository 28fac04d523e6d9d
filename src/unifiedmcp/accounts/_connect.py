"""Connecting a customer's own Stripe account: Stripe Connect OAuth, or a key the customer supplies.

OAuth (Standard accounts, field-notes "Stripe Connect OAuth"):

1. :func:`authorize_url` makes a single-use ``state`` bound to the customer (only its hash is
   stored; it expires after :data:`STATE_TTL`) and returns Stripe's authorize URL, whose
   ``redirect_uri`` is ``{base_url}/oauth/stripe/callback`` of ``unifiedmcp serve``;
2. the customer approves on Stripe, which redirects to the callback with ``code`` and ``state``;
3. :func:`complete_authorization` uses the state up (whatever happens next, it cannot be
   replayed), exchanges the code at ``/oauth/token`` with the platform key (``STRIPE_API_KEY``)
   and stores the connected account id, with the grant's refresh token encrypted.

Tool calls then use the platform key with ``Stripe-Account: acct_…`` (``_resolver``). A
connection to the operator's own account is refused on either path, and a grant that cannot be
stored (tier cap) is deauthorized again, so no access is left behind unrecorded.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import stripe

from ..billing import client_for_key
from ..config import Settings
from ..errors import ConfigError, ConnectFailed, ConnectionCapReached, InvalidInput, OperatorAccountRefused
from ..ledger import Ledger, OAuthConnection
from ._cipher import CredentialCipher
from ._resolver import STRIPE

__all__ = [
    "CALLBACK_PATH",
    "STATE_TTL",
    "authorize_url",
    "complete_authorization",
    "connect_api_key",
    "disconnect",
    "operator_account_id",
]

log = logging.getLogger("unifiedmcp.accounts")

CALLBACK_PATH = "/oauth/stripe/callback"
STATE_TTL = timedelta(minutes=10)


def _state_hash(state: str) -> bytes:
    return hashlib.sha256(state.encode("utf-8")).digest()


def _require_connect(settings: Settings) -> None:
    if not settings.stripe_connect_client_id:
        raise ConfigError("STRIPE_CONNECT_CLIENT_ID is not set: the operator's Connect client id (ca_…) is needed")


def operator_account_id(operator_client: stripe.StripeClient) -> str:
    """The operator's own ``acct_`` id (one API call)."""
    return str(operator_client.v1.accounts.retrieve_current().id)


def authorize_url(
    ledger: Ledger,
    operator_client: stripe.StripeClient,
    *,
    customer: str,
    settings: Settings,
    base_url: str,
) -> str:
    """Stripe's authorize URL for ``customer`` (the ``state`` in it is single-use and expires).

    Refused up front when the customer's tier has no room for another connection. (Callers
    load the :class:`CredentialCipher` first: without a secret key the grant could not be stored.)
    """
    _require_connect(settings)
    _check_room(ledger, customer)
    state = secrets.token_urlsafe(32)
    redirect_uri = base_url.rstrip("/") + CALLBACK_PATH
    ledger.add_connect_state(
        _state_hash(state),
        customer_id=customer,
        provider=STRIPE,
        redirect_uri=redirect_uri,
        expires_at=datetime.now(timezone.utc) + STATE_TTL,
    )
    return operator_client.oauth.authorize_url(
        {
            "response_type": "code",
            "client_id": settings.stripe_connect_client_id,
            "scope": "read_write",
            "state": state,
            "redirect_uri": redirect_uri,
        }
    )


def _check_room(ledger: Ledger, customer: str) -> None:
    tier = ledger.tiers[ledger.customer(customer).tier]
    count = len(ledger.connections(customer))
    if tier.oauth_connections is not None and count >= tier.oauth_connections:
        raise ConnectionCapReached(customer=customer, tier=tier.name, cap=tier.oauth_connections)


def complete_authorization(
    ledger: Ledger,
    operator_client: stripe.StripeClient,
    *,
    state: str,
    code: str | None,
    error: str | None = None,
    cipher: CredentialCipher,
    operator_account: Callable[[], str | None],
) -> OAuthConnection:
    """Finish a Connect authorization (the callback's query); raises :class:`ConnectFailed`.

    The state is used up first, so a replayed callback fails even when this one fails later, and
    nothing is asked of Stripe with the operator's key before the state checks out (the callback
    is unauthenticated). ``operator_account`` gives the operator's own account id (None: unknown).
    """
    if not state:
        raise ConnectFailed("invalid_state", "the callback carries no OAuth state")
    pending = ledger.consume_connect_state(_state_hash(state))
    if error:
        reason = "access_denied" if error == "access_denied" else "authorization_error"
        raise ConnectFailed(reason, f"the Stripe authorization was not granted ({error}); nothing was connected")
    if not code:
        raise ConnectFailed("invalid_request", "the callback carries no authorization code")
    try:
        grant = operator_client.oauth.token({"grant_type": "authorization_code", "code": code})
    except stripe.oauth_error.OAuthError as exc:
        # Stripe's description repeats the code; the reason alone says enough.
        reason = exc.code or "invalid_grant"
        raise ConnectFailed(reason, f"Stripe refused the authorization code ({reason}); start again") from None
    account = str(grant.stripe_user_id)
    own = operator_account()
    if own is not None and account == own:
        raise OperatorAccountRefused(account)
    try:
        return ledger.add_connection(
            pending.customer_id,
            STRIPE,
            account=account,
            kind="oauth",
            credential=cipher.encrypt(str(grant.refresh_token or "")),
        )
    except (ConnectionCapReached, InvalidInput):
        # Not stored: take back the access just granted, unless another connection still uses it.
        if not ledger.account_connections(STRIPE, account):
            _deauthorize(operator_client, account)
        raise


def _deauthorize(operator_client: stripe.StripeClient, account: str) -> None:
    try:
        operator_client.oauth.deauthorize({"stripe_user_id": account})
    except stripe.oauth_error.OAuthError as exc:  # already gone: nothing to take back
        log.info("deauthorize %s: %s", account, exc.code)
    except stripe.AuthenticationError:  # stripe-python's own check: the client has no client_id
        raise ConfigError(
            "STRIPE_CONNECT_CLIENT_ID is not set: it is needed to deauthorize a Connect grant"
        ) from None


def connect_api_key(
    ledger: Ledger,
    *,
    customer: str,
    key: str,
    settings: Settings,
    cipher: CredentialCipher,
    operator_account: str | None,
) -> OAuthConnection:
    """Store a key the customer supplied (``rk_test_…``, or ``sk_test_…``), after one read call
    that proves it works and tells which account it belongs to."""
    _check_room(ledger, customer)
    client = client_for_key(key, settings=settings, variable="the supplied key", max_network_retries=0)
    try:
        account = str(client.v1.accounts.retrieve_current().id)
    except stripe.PermissionError:
        raise ConnectFailed(
            "key_refused", "the key cannot read its account: give it the 'Account: Read' permission (rak_account_read)"
        ) from None
    except stripe.AuthenticationError:
        raise ConnectFailed("key_refused", "Stripe does not accept this key (invalid or expired)") from None
    if operator_account is not None and account == operator_account:
        raise OperatorAccountRefused(account)
    return ledger.add_connection(customer, STRIPE, account=account, kind="api_key", credential=cipher.encrypt(key))


def disconnect(ledger: Ledger, operator_client: stripe.StripeClient | None, connection_id: str) -> OAuthConnection:
    """Remove a connection; an OAuth one is deauthorized at Stripe first (unless another
    customer's connection still uses the same account)."""
    conn = ledger.connection(connection_id)
    others = [c for c in ledger.account_connections(STRIPE, conn.account) if c.connection_id != connection_id]
    if conn.provider == STRIPE and conn.kind == "oauth" and not others:
        if operator_client is None:
            raise ConfigError("STRIPE_API_KEY is not set: it is needed to deauthorize the Connect grant")
        _deauthorize(operator_client, conn.account)
    return ledger.remove_connection(connection_id)
