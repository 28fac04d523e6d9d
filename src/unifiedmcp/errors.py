"""The exception tree of UnifiedMCP.

Every error the toolkit raises on purpose derives from :class:`UnifiedMCPError`, carries the
facts of the failure as fields, and has a one-line message that never contains a secret value.
The CLI prints that line and exits non-zero.

    UnifiedMCPError
    ├── ConfigError              settings, tier files, live keys
    │   └── LiveKeyRefused
    ├── InvalidInput             a malformed argument (month, format, id)
    ├── LedgerError              the ledger cannot be opened or written
    ├── WarehouseError           the warehouse or an input file cannot be opened or read
    ├── OutputError              an output file or folder (--out) cannot be written
    ├── UnknownCustomer
    ├── AuthError                API keys: malformed, unknown or revoked
    ├── QuotaExceeded            a free-tier call past its monthly limit
    └── ConnectionCapReached     more OAuth connections than the tier allows
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "AuthError",
    "ConfigError",
    "ConnectionCapReached",
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


class InvalidInput(UnifiedMCPError):
    """An argument is malformed; nothing was changed."""


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
