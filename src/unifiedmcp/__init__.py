"""UnifiedMCP billing operations.

The public surface of the core package; subpackages (``ledger``, ``billing``, ``sandbox``,
``server``, ``warehouse``, ``metrics``, ``reports``) curate their own.
"""

from importlib.metadata import PackageNotFoundError, version

from .config import DEFAULT_TIERS, Settings, Tier, TierTable, load_settings, load_tiers
from .errors import (
    AccountChoice,
    AuthError,
    ConfigError,
    ConnectFailed,
    ConnectionCapReached,
    CredentialUnreadable,
    InvalidInput,
    LedgerError,
    LiveKeyRefused,
    NoConnection,
    OperatorAccountRefused,
    QuotaExceeded,
    SecretKeyMissing,
    UnifiedMCPError,
    UnknownCustomer,
)
from .months import Month

try:
    __version__ = version("unifiedmcp")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = [
    "DEFAULT_TIERS",
    "AccountChoice",
    "AuthError",
    "ConfigError",
    "ConnectFailed",
    "ConnectionCapReached",
    "CredentialUnreadable",
    "InvalidInput",
    "LedgerError",
    "LiveKeyRefused",
    "Month",
    "NoConnection",
    "OperatorAccountRefused",
    "QuotaExceeded",
    "SecretKeyMissing",
    "Settings",
    "Tier",
    "TierTable",
    "UnifiedMCPError",
    "UnknownCustomer",
    "__version__",
    "load_settings",
    "load_tiers",
]
