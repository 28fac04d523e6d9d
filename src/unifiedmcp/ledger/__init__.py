"""The ledger: customers and tiers, hashed API keys (customer and operator), metered usage,
connections with encrypted credentials, Connect OAuth states, the operator's catalog prices, and
the MCP server's OAuth clients and tokens (``Ledger.oauth``).
A SQLite file (the embedded default) or a PostgreSQL database shared by several servers.

    from unifiedmcp.ledger import Ledger
    with Ledger("data/ledger.sqlite3") as ledger:         # or Ledger("postgresql://user@host/db")
        ledger.upsert_customer("cus_123", tier="free")
        admission = ledger.check_and_record("cus_123", "list_customers")   # may raise QuotaExceeded
"""

from .._usage_status import USAGE_STATUSES
from ._export import USAGE_COLUMNS, export_usage
from ._health import LedgerHealth
from ._ledger import Ledger, LedgerConnection
from ._metering import new_event_id
from ._migrations import latest_version
from ._oauth import OAuthLedger
from ._records import (
    Admission,
    ApiKey,
    CallRecord,
    ConnectState,
    Customer,
    MeterEventRow,
    NewApiKey,
    NewOAuthToken,
    OAuthAuthorization,
    OAuthClient,
    OAuthConnection,
    OAuthTokenRecord,
    Principal,
    StageResult,
    Usage,
)

__all__ = [
    "USAGE_COLUMNS",
    "USAGE_STATUSES",
    "Admission",
    "ApiKey",
    "CallRecord",
    "ConnectState",
    "Customer",
    "Ledger",
    "MeterEventRow",
    "LedgerConnection",
    "LedgerHealth",
    "NewApiKey",
    "NewOAuthToken",
    "OAuthAuthorization",
    "OAuthClient",
    "OAuthLedger",
    "OAuthTokenRecord",
    "OAuthConnection",
    "Principal",
    "StageResult",
    "Usage",
    "export_usage",
    "latest_version",
    "new_event_id",
]
