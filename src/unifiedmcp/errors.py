"""The exception tree of UnifiedMCP.

Every error the toolkit raises on purpose derives from :class:`UnifiedMCPError`, carries the
facts of the failure as fields, and has a one-line message that never contains a secret value.
The CLI prints that line and exits non-zero.

    UnifiedMCPError
    ├── ConfigError              settings, tier files, live keys
    │   ├── LiveKeyRefused
    │   ├── SecretKeyMissing     UNIFIEDMCP_SECRET_KEY unset or malformed (credentials need it)
    │   └── PseudonymKeyMissing  UNIFIEDMCP_PSEUDONYM_KEY unset or too short (erasure needs it)
    ├── InvalidInput             a malformed argument (month, format, id)
    │   └── AccountChoice        no or several of the customer's accounts match a call
    ├── LedgerError              the ledger cannot be opened or written
    ├── WarehouseError           the warehouse or an input file cannot be opened or read
    ├── OutputError              an output file or folder (--out) cannot be written
    ├── UnknownCustomer
    ├── AuthError                API keys: malformed, unknown or revoked
    ├── QuotaExceeded            a free-tier call past its monthly limit
    ├── ConnectionCapReached     more connections than the tier allows
    ├── NoConnection             a customer's Stripe tool call without a connected account
    ├── CredentialUnreadable     a stored credential does not decrypt with the configured keys
    ├── ConnectFailed            the Connect OAuth flow or a supplied key was refused
    ├── OperatorAccountRefused   a customer connection would reach the operator's own account
    └── ErasureBlocked           an erasure would lose something that must survive it (unbilled usage)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "AccountChoice",
    "AuthError",
    "ConfigError",
    "ConnectFailed",
    "ConnectionCapReached",
    "CredentialUnreadable",
    "ErasureBlocked",
    "NoConnection",
    "OperatorAccountRefused",
    "PseudonymKeyMissing",
    "SecretKeyMissing",
    "InvalidInput",
    "LedgerError",
    "LiveKeyRefused",
    "OutputError",
    "QuotaExceeded",
    "UnifiedMCPError",
    "UnknownCustomer",
    "WarehouseError",
]


class UnifiedMCPError(Exception):
    """Base of every error the toolkit raises on purpose."""


class ConfigError(UnifiedMCPError):
    """Settings or a configuration file are invalid."""


class LiveKeyRefused(ConfigError):
    """A live Stripe key was given without ``UNIFIEDMCP_ALLOW_LIVE=1``."""

    def __init__(self, variable: str) -> None:
        self.variable = variable
        super().__init__(
            f"{variable} holds a live Stripe key; set UNIFIEDMCP_ALLOW_LIVE=1 to allow live mode"
        )


class SecretKeyMissing(ConfigError):
    """Credentials cannot be stored or read: ``UNIFIEDMCP_SECRET_KEY`` is unset or malformed."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(
            f"UNIFIEDMCP_SECRET_KEY {reason}; connection credentials are stored encrypted with it. "
            "Create one with `unifiedmcp connections new-secret-key` and keep it out of the repository"
        )


class PseudonymKeyMissing(ConfigError):
    """``privacy erase`` needs ``UNIFIEDMCP_PSEUDONYM_KEY``: the key of the customer pseudonyms."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(
            f"UNIFIEDMCP_PSEUDONYM_KEY {reason}; erased customers are replaced by pseudonyms keyed with it. "
            "Create one with `unifiedmcp privacy new-key`, keep it with your other secrets and never change it"
        )


class InvalidInput(UnifiedMCPError):
    """An argument is malformed; nothing was changed."""


class AccountChoice(InvalidInput):
    """A call names no account while the customer has several, or names one it does not have."""

    def __init__(self, message: str, *, customer: str, account: str | None, choices: list[str]) -> None:
        self.customer = customer
        self.account = account
        self.choices = choices
        super().__init__(message)


class LedgerError(UnifiedMCPError):
    """The ledger database cannot be opened, migrated or written."""


class WarehouseError(UnifiedMCPError):
    """The DuckDB warehouse, or an input file as a whole, cannot be opened or read.

    ``path`` is the file concerned, when there is one. Single malformed rows are not errors: the
    loaders count and report them.
    """

    def __init__(self, message: str, *, path: object | None = None) -> None:
        self.path = path
        super().__init__(message)


class OutputError(UnifiedMCPError):
    """An output file or folder cannot be written; ``reason`` says why in plain words."""

    def __init__(self, path: object, *, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"cannot write {path}: {reason}")


class UnknownCustomer(UnifiedMCPError):
    def __init__(self, customer: str) -> None:
        self.customer = customer
        super().__init__(f"unknown customer {customer!r}")


class AuthError(UnifiedMCPError):
    """An API key is malformed, unknown or revoked (the key itself is never echoed)."""

    def __init__(self, reason: str, *, key_prefix: str | None = None) -> None:
        self.reason = reason
        self.key_prefix = key_prefix
        where = f" (key {key_prefix}…)" if key_prefix else ""
        super().__init__(f"API key {reason}{where}")


@dataclass(eq=False)
class QuotaExceeded(UnifiedMCPError):
    """A call on a hard-limited tier past its monthly limit; recorded as ``rejected``."""

    customer: str
    tier: str
    limit: int
    used: int
    resets_at: datetime

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return (
            f"monthly quota exceeded for {self.customer}: tier {self.tier} allows {self.limit} "
            f"calls, {self.used} used; resets at {self.resets_at:%Y-%m-%dT%H:%M:%SZ}"
        )


@dataclass(eq=False)
class ConnectionCapReached(UnifiedMCPError):
    customer: str
    tier: str
    cap: int

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return (
            f"{self.customer} already has {self.cap} OAuth connection(s), "
            f"the most tier {self.tier} allows"
        )


class NoConnection(UnifiedMCPError):
    """A customer's Stripe tool was called before the customer connected a Stripe account."""

    def __init__(self, customer: str, *, provider: str = "stripe") -> None:
        self.customer = customer
        self.provider = provider
        super().__init__(
            f"{customer} has no {provider} connection: connect your own Stripe account first "
            f"(`unifiedmcp connections connect --customer {customer} --provider stripe` prints a Stripe "
            f"authorization link; or `unifiedmcp connections add --customer {customer} --provider stripe "
            "--api-key-env VAR` with a restricted key)"
        )


class CredentialUnreadable(UnifiedMCPError):
    """A stored credential does not decrypt with any key in ``UNIFIEDMCP_SECRET_KEY``."""

    def __init__(self, connection_id: str) -> None:
        self.connection_id = connection_id
        super().__init__(
            f"the credential of connection {connection_id} does not decrypt with UNIFIEDMCP_SECRET_KEY "
            "(a wrong or rotated-out key); put the key it was stored with back in the list"
        )


class ConnectFailed(UnifiedMCPError):
    """Connecting an account failed: a bad, used or expired OAuth state, denied consent, a code
    Stripe refused, or a supplied key that does not work. Nothing was stored.

    ``reason`` is a short code (``invalid_state``, ``state_used``, ``state_expired``,
    ``access_denied``, ``invalid_grant``, ``key_refused``, ...).
    """

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


class OperatorAccountRefused(UnifiedMCPError):
    """A customer tried to connect the operator's own Stripe account (tenancy: never)."""

    def __init__(self, account: str) -> None:
        self.account = account
        super().__init__(
            f"{account} is the operator's own Stripe account; a customer connection can never reach it"
        )


class ErasureBlocked(UnifiedMCPError):
    """An erasure was refused before it changed anything: going ahead would lose what must survive
    it. ``reason`` is a short code (``unbilled_usage``), ``count`` how many records are concerned."""

    def __init__(self, reason: str, message: str, *, count: int) -> None:
        self.reason = reason
        self.count = count
        super().__init__(message)
