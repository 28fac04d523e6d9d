"""Which Stripe account a call may touch, and how customers connect their own accounts.

    from unifiedmcp.accounts import Accounts, Caller, CredentialCipher
    accounts = Accounts(ledger=ledger, settings=settings, operator_client=client, cipher=CredentialCipher(settings.secret_key))
    target = accounts.resolve(Caller.of_customer("cus_123"))      # target.client: the customer's own account

The operator's account (``STRIPE_API_KEY``) bills UnifiedMCP's customers; only operator callers
reach it. A customer's calls reach only the customer's connections: Stripe Connect OAuth
(:func:`authorize_url`, the ``/oauth/stripe/callback`` app, :func:`disconnect`) or a key the
customer supplied (:func:`connect_api_key`), stored encrypted (:class:`CredentialCipher`).
See architecture.md, "Tenancy".
"""

from ._callback import create_connect_app
from ._cipher import CredentialCipher, new_secret_key
from ._connect import (
    CALLBACK_PATH,
    STATE_TTL,
    authorize_url,
    complete_authorization,
    connect_api_key,
    disconnect,
    operator_account_id,
)
from ._resolver import CACHE_SECONDS, STRIPE, Accounts, Caller, Target

__all__ = [
    "CACHE_SECONDS",
    "CALLBACK_PATH",
    "STATE_TTL",
    "STRIPE",
    "Accounts",
    "Caller",
    "CredentialCipher",
    "Target",
    "authorize_url",
    "complete_authorization",
    "connect_api_key",
    "create_connect_app",
    "disconnect",
    "new_secret_key",
    "operator_account_id",
]
