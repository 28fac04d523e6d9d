"""The ledger: customers and tiers, hashed API keys, metered usage and OAuth connections.

    from unifiedmcp.ledger import Ledger
    with Ledger("data/ledger.sqlite3") as ledger:
        ledger.upsert_customer("cus_123", tier="free")
        admission = ledger.check_and_record("cus_123", "list_customers")   # may raise QuotaExceeded
"""

from ._export import USAGE_COLUMNS, export_usage
from ._ledger import USAGE_STATUSES, Ledger
from ._metering import new_event_id
from ._migrations import latest_version
from ._records import Admission, ApiKey, Customer, NewApiKey, OAuthConnection, Usage

__all__ = [
    "USAGE_COLUMNS",
    "USAGE_STATUSES",
    "Admission",
    "ApiKey",
    "Customer",
    "Ledger",
    "NewApiKey",
    "OAuthConnection",
    "Usage",
    "export_usage",
    "latest_version",
    "new_event_id",
]
