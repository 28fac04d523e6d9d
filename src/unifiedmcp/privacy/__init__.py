"""Privacy: export and erase a customer everywhere the toolkit keeps data, and apply retention.

    from unifiedmcp.privacy import Places, Pseudonyms, erase_customer, export_customer, apply_retention
    places = Places(ledger=ledger, warehouse=Path("data/warehouse.duckdb"), data_dir=Path("data"),
                    reports_dir=Path("reports"))
    export_customer("cus_123", places=places, out=Path("cus_123.zip"))
    erase_customer("cus_123", places=places, pseudonyms=Pseudonyms(settings.pseudonym_key))
    apply_retention(policy=config.retention, ledger=ledger, warehouse=Path("data/warehouse.duckdb"))

One subpackage knows every store (``_registry``): the ledger (``_ledger_store``), the warehouse
(``_warehouse_store``), usage logs under the data directory, the sandbox's state file and the
published reports (``_file_stores``). A table or file that holds personal data registers there,
so that export and erase cannot forget it. What each store holds and what happens to it:
docs/privacy.md.

Public API:
- ``export_customer(customer_id, *, places, out) -> ExportResult`` (a zip: JSON, CSV, manifest)
- ``erase_customer(customer_id, *, places, pseudonyms, stripe_client=None, dry_run=False,
  on_step=...) -> ErasureResult``
- ``apply_retention(*, policy, ledger, warehouse, dry_run=False, now=None) -> RetentionResult``
- ``Pseudonyms(key)`` (``UNIFIEDMCP_PSEUDONYM_KEY``), ``new_pseudonym_key()``, ``Places``,
  ``Holding`` and ``holdings()`` (every store's declarations), ``ErasureLog``
"""

from ._erase import ErasureResult, erase_customer, stores
from ._export import ExportResult, export_customer
from ._file_stores import FILE_HOLDINGS
from ._ledger_store import LEDGER_HOLDINGS
from ._log import Erasure, ErasureLog
from ._registry import Holding, Places
from ._retention import RetentionResult, apply_retention, usage_cutoff
from ._subject import Pseudonyms, Subject, new_pseudonym_key
from ._warehouse_store import WAREHOUSE_HOLDINGS


def holdings() -> dict[str, tuple[Holding, ...]]:
    """Every store's declared holdings, by store (what docs/privacy.md lists)."""
    return {"ledger": LEDGER_HOLDINGS, "warehouse": WAREHOUSE_HOLDINGS, "files": FILE_HOLDINGS}


__all__ = [
    "Erasure",
    "ErasureLog",
    "ErasureResult",
    "ExportResult",
    "Holding",
    "Places",
    "Pseudonyms",
    "RetentionResult",
    "Subject",
    "apply_retention",
    "erase_customer",
    "export_customer",
    "holdings",
    "new_pseudonym_key",
    "stores",
    "usage_cutoff",
]
