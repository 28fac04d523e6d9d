"""What the ledger returns: plain, frozen records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal


@dataclass(frozen=True)
class Customer:
    customer_id: str
    tier: str
    status: str
    email: str | None
    created_at: str
    updated_at: str


Role = Literal["customer", "operator"]


@dataclass(frozen=True)
class ApiKey:
    """A key as listed: its public id, never its secret. Operator keys have no customer."""

    key_id: str
    customer_id: str | None
    name: str | None
    created_at: str
    revoked_at: str | None
    role: Role = "customer"

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class NewApiKey:
    """A key just created. ``token`` is shown once and is not stored anywhere."""

    key_id: str
    customer_id: str | None
    token: str
    role: Role = "customer"

    def __repr__(self) -> str:  # keep the secret out of logs and tracebacks
        return (
            f"NewApiKey(key_id={self.key_id!r}, role={self.role!r}, customer_id={self.customer_id!r}, "
            "token='**********')"
        )


@dataclass(frozen=True)
class Principal:
    """Who a valid key speaks for: an active customer, or the operator (``customer_id`` None)."""

    key_id: str
    role: Role
    customer_id: str | None


@dataclass(frozen=True)
class Admission:
    """The outcome of an admitted (metered) call."""

    event_id: str
    customer_id: str
    tier: str
    month: str
    used: int  # admitted calls this month, this one included
    limit: int
    resets_at: datetime
    duplicate: bool  # the event_id had been recorded before; nothing was counted again

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def overage(self) -> int:
        return max(0, self.used - self.limit)


@dataclass(frozen=True)
class CallRecord:
    """A finished call to meter in bulk (:meth:`Ledger.record_calls`)."""

    customer_id: str
    tool: str
    at: datetime
    event_id: str
    status: str = "ok"  # how it ended if admitted: ok | error
    latency_ms: float | None = None
    user_id: str | None = None


@dataclass(frozen=True)
class Usage:
    """A customer's usage in one month."""

    customer_id: str
    tier: str
    month: str
    calls: int  # admitted calls (ok or error)
    rejected: int
    limit: int
    resets_at: datetime

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.calls)

    @property
    def overage(self) -> int:
        return max(0, self.calls - self.limit)


ConnectionKind = Literal["oauth", "api_key", "manual"]


@dataclass(frozen=True)
class OAuthConnection:
    """A customer's connection to an account at a provider. Its credential is never part of it:
    ``Ledger.connection_credential`` returns the encrypted token to the one layer that decrypts it."""

    connection_id: str
    customer_id: str
    provider: str
    account: str
    created_at: str
    kind: ConnectionKind = "manual"


@dataclass(frozen=True)
class ConnectState:
    """A consumed Connect OAuth state: whose authorization it was and where it returned."""

    customer_id: str
    provider: str
    redirect_uri: str


@dataclass(frozen=True)
class StageResult:
    """What one staging step did: usage rows consumed, outbox rows made, the new watermark."""

    rows: int
    events: int
    staged_seq: int


@dataclass(frozen=True)
class MeterEventRow:
    """One outbox row: a meter event for ``value`` billable calls of a customer in second ``ts``."""

    identifier: str
    event_name: str
    customer_id: str
    ts: int
    value: int
    status: str  # pending | sent | failed
    attempts: int
    error: str | None


@dataclass(frozen=True)
class OAuthClient:
    """An OAuth client of the MCP server's authorization server. ``metadata`` is its RFC 7591
    metadata as JSON (never a secret); ``has_secret``: a confidential client (its secret is
    stored hashed)."""

    client_id: str
    kind: Literal["dcr", "cimd"]
    client_name: str | None
    metadata: str
    has_secret: bool
    created_at: str
    fetched_at: str | None
    last_used_at: str | None
    revoked_at: str | None
    active_tokens: int = 0

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class OAuthAuthorization:
    """One /authorize request: waiting for consent, then (approved) the code's grant."""

    auth_id: str
    client_id: str
    scopes: tuple[str, ...]
    code_challenge: str
    redirect_uri: str
    redirect_uri_explicit: bool
    resource: str
    state: str | None
    expires_at: str
    decided_at: str | None
    customer_id: str | None
    code_expires_at: str | None
    code_used_at: str | None


@dataclass(frozen=True)
class OAuthTokenRecord:
    """A stored access or refresh token (its hash stays in the ledger)."""

    token_id: str
    kind: Literal["access", "refresh"]
    auth_id: str
    client_id: str
    customer_id: str
    scopes: tuple[str, ...]
    resource: str
    created_at: str
    expires_at: str
    revoked_at: str | None
    secret_hash: str = field(repr=False, default="")


@dataclass(frozen=True)
class NewOAuthToken:
    """A token about to be stored: its public id, its hash and what it grants."""

    token_id: str
    kind: Literal["access", "refresh"]
    secret_hash: str = field(repr=False)
    expires_at: str
    scopes: tuple[str, ...]
