"""Which Stripe account a call may touch: the one place that turns a caller into a Stripe client.

The rule (architecture.md, "Tenancy"):

- an **operator** caller gets the operator's client (``STRIPE_API_KEY``), and nothing else;
- a **customer** caller gets a client for one of *its own* Stripe connections, never the
  operator's: an OAuth connection is the platform key with ``Stripe-Account`` set to the
  connected account (a client without that header is never built for a customer), an API-key
  connection is the key the customer supplied. With no connection the call is refused
  (:class:`NoConnection`); with several, the caller names one (``account``).

The customer's connections are read from the ledger on every call (an indexed read of a few
rows), so a removed connection stops working at once. Decrypted keys and the clients built from
them are cached in memory for at most :data:`CACHE_SECONDS`, keyed by connection id.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Literal

import stripe

from ..billing import StripeNotConfigured, client_for_key
from ..config import Settings
from ..errors import AccountChoice, CredentialUnreadable, NoConnection, OperatorAccountRefused, SecretKeyMissing
from ..ledger import Ledger, OAuthConnection
from ._cipher import CredentialCipher

__all__ = ["Accounts", "Caller", "Target", "CACHE_SECONDS", "STRIPE"]

STRIPE = "stripe"  # the provider name of Stripe connections
CACHE_SECONDS = 300.0
_CACHE_MAX = 10_000


@dataclass(frozen=True)
class Caller:
    """Who is calling: the operator, or one customer (``customer`` set)."""

    role: Literal["customer", "operator"]
    customer: str | None = None

    @classmethod
    def operator(cls) -> Caller:
        return cls("operator")

    @classmethod
    def of_customer(cls, customer: str) -> Caller:
        if not customer:
            raise ValueError("a customer caller needs a customer id")
        return cls("customer", customer)


@dataclass(frozen=True)
class Target:
    """Where one call goes: a Stripe client and the account it acts on."""

    client: stripe.StripeClient
    account: str | None  # acct_…; None for the operator when its id is not known
    connection_id: str | None  # None for the operator
    operator: bool

    def __repr__(self) -> str:
        return f"Target(account={self.account!r}, connection_id={self.connection_id!r}, operator={self.operator})"


class Accounts:
    """Resolves callers to Stripe targets. Thread-safe; one per process (it holds the cache).

    ``operator_client``: the operator's client (``build_client(settings)``), used for operator
    callers and, with ``Stripe-Account``, as the Connect platform key. ``cipher``: decrypts
    API-key connections (None: those connections fail with :class:`SecretKeyMissing`).
    ``operator_account``: the operator's ``acct_`` id when known; a connection to it is refused.
    """

    def __init__(
        self,
        *,
        ledger: Ledger,
        settings: Settings,
        operator_client: stripe.StripeClient | None,
        cipher: CredentialCipher | None,
        operator_account: str | None = None,
        max_network_retries: int = 1,
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        self.ledger = ledger
        self.settings = settings
        self.operator_client = operator_client
        self.cipher = cipher
        self.operator_account = operator_account
        self._retries = max_network_retries
        self._ttl = cache_seconds
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, Target]] = {}

    def __repr__(self) -> str:
        return f"Accounts(ledger={self.ledger!r}, cached={len(self._cache)})"

    # -- resolution ------------------------------------------------------------------------------

    def resolve(self, caller: Caller, *, account: str | None = None) -> Target:
        """The target of a call by ``caller`` (naming ``account`` when it has several)."""
        if caller.role == "operator":
            if account is not None and account != self.operator_account:
                raise AccountChoice(
                    "operator tools act on the operator's own account only",
                    customer="operator", account=account, choices=[self.operator_account or "the operator account"],
                )
            return self.operator()
        assert caller.customer is not None
        return self.for_customer(caller.customer, account=account)

    def operator(self) -> Target:
        if self.operator_client is None:
            raise StripeNotConfigured("STRIPE_API_KEY is not set: operator access needs the operator's key")
        return Target(self.operator_client, self.operator_account, None, operator=True)

    def for_customer(self, customer: str, *, account: str | None = None) -> Target:
        connections = [c for c in self.ledger.connections(customer, provider=STRIPE) if c.kind != "manual"]
        if not connections:
            raise NoConnection(customer)
        if account is None:
            if len(connections) > 1:
                choices = [c.account for c in connections]
                raise AccountChoice(
                    f"{customer} has {len(connections)} Stripe connections; name one with account "
                    f"(one of {', '.join(choices)})",
                    customer=customer, account=None, choices=choices,
                )
            chosen = connections[0]
        else:
            matching = [c for c in connections if c.account == account]
            if not matching:
                choices = [c.account for c in connections]
                raise AccountChoice(
                    f"{customer} has no connection to {account}; connected: {', '.join(choices)}",
                    customer=customer, account=account, choices=choices,
                )
            chosen = matching[0]
        return self._target(chosen)

    def _target(self, conn: OAuthConnection) -> Target:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(conn.connection_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        target = self._build(conn)
        with self._lock:
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[conn.connection_id] = (now + self._ttl, target)
        return target

    def _build(self, conn: OAuthConnection) -> Target:
        if not conn.account.startswith("acct_"):
            raise CredentialUnreadable(conn.connection_id)  # a Stripe connection always names its account
        if self.operator_account is not None and conn.account == self.operator_account:
            raise OperatorAccountRefused(conn.account)
        if conn.kind == "oauth":
            if self.settings.stripe_api_key is None:
                raise StripeNotConfigured("STRIPE_API_KEY (the Connect platform key) is not set")
            client = client_for_key(
                self.settings.stripe_api_key.get_secret_value(),
                settings=self.settings,
                variable="STRIPE_API_KEY",
                max_network_retries=self._retries,
                stripe_account=conn.account,
            )
        else:
            key = self._decrypt(conn)
            client = client_for_key(
                key, settings=self.settings, variable=f"the key of {conn.connection_id}",
                max_network_retries=self._retries,
            )
        return Target(client, conn.account, conn.connection_id, operator=False)

    def _decrypt(self, conn: OAuthConnection) -> str:
        if self.cipher is None:
            raise SecretKeyMissing("is not set")
        token = self.ledger.connection_credential(conn.connection_id)
        if not token:
            raise CredentialUnreadable(conn.connection_id)
        return self.cipher.decrypt(token, connection_id=conn.connection_id)

    def forget(self, connection_id: str | None = None) -> None:
        """Drop cached clients (one connection's, or all): after a removal or a key rotation."""
        with self._lock:
            if connection_id is None:
                self._cache.clear()
            else:
                self._cache.pop(connection_id, None)
