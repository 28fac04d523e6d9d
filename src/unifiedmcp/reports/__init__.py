"""Report notebooks: run with papermill, published as self-contained offline HTML.

    from unifiedmcp import reports
    run = reports.run_reports("2026-10", out_dir="reports", warehouse="data/warehouse.duckdb",
                              ledger="data/ledger.sqlite3")
    run.index                      # reports/2026-10/index.html

Public API:

- ``run_reports(month, *, out_dir, warehouse, ledger=None, parallel=None, currency="usd",
  convention="stripe", reports=None, parameters=None, notebooks_dir=None, tiers=None, timeout=600,
  allow_partial=False, strict=False, max_rejected_share=0.001, mask_pii=False,
  alert_settings=None, now=None, on_report=...) -> ReportRun``;
  ``run_notebook(source, output, *, parameters, timeout=600) -> seconds``; ``REPORTS`` (name ->
  title); ``ReportFailed(notebook, cell, error)``, ``NotOffline(path, reference)``.
- The data-quality gate: ``check_data(source, con, month, *, reports, allow_partial=False,
  max_rejected_share=0.001, now=None) -> DataCheck``; ``DataQualityError(problems, tables, exit_code)``.
- ``export_html(notebook, html, *, title=None, show_code=False, header="")``, ``write_plotly_js(dir)``,
  ``check_offline(html)``.
- Data for the notebooks: ``connect_data(warehouse)`` / ``open_data(warehouse)``: an in-memory
  warehouse, copied from a DuckDB file (``copy_warehouse``) or loaded from an export directory such
  as ``data/sample`` (``load_data``, ``load_exports(con, directory)``); ``""`` means the default
  (``default_data()``: the configured warehouse if it exists, else the committed sample;
  ``default_ledger()`` likewise for the ledger; ``source_tree()`` the project directory);
  ``latest_complete_month(warehouse)``, ``history_start(con, month, *, months)``.
- Drill-down (names and e-mails unless ``mask_pii``): ``at_risk_customers``, ``churned_customers``,
  ``top_accounts``.
- Frames beyond :mod:`unifiedmcp.metrics` (SQL on the warehouse): ``usage_by_day``,
  ``rejected_calls``, ``top_customers``, ``usage_watchlist``, ``cohort_retention``,
  ``payments_daily``, ``declines_by_day``; webhook health from the ledger (re-exported from
  :mod:`unifiedmcp.alerts`): ``webhook_health`` (-> ``WebhookHealth``), ``webhook_by_day``,
  ``webhook_failures``.
- The flow notebooks' stack: ``start_lifecycle_stack(*, key_variable="STRIPE_API_KEY")`` /
  ``lifecycle_stack()`` -> ``LifecycleStack`` (the sandbox or Stripe test mode, a webhook receiver
  on 127.0.0.1, a ledger, the MCP server in memory; ``settle``, ``advance``, ``call_tools``,
  ``warehouse``).
- Display: ``KPIs(title, {label: text})`` and ``Alerts(lines)``: HTML in pages, stable text for nbval.
- Charts: ``setup_plotly()`` (call first in a notebook), ``mrr_waterfall``, ``cohort_heatmap``,
  ``bar_chart``, ``line_chart`` (``COLORS``: one colour per meaning); formatting: ``money``,
  ``major``, ``percent``, ``table`` (a frame's columns formatted for a page).
"""

from typing import TYPE_CHECKING

from ._charts import (
    COLORS,
    bar_chart,
    cohort_heatmap,
    line_chart,
    major,
    money,
    mrr_waterfall,
    percent,
    setup_plotly,
    table,
)
from ._data import (
    connect_data,
    copy_warehouse,
    default_data,
    default_ledger,
    history_start,
    source_tree,
    latest_complete_month,
    load_data,
    load_exports,
    open_data,
)
from ._display import Alerts, KPIs
from ._drilldown import at_risk_customers, churned_customers, top_accounts
from ._errors import NotOffline, ReportFailed
from ._frames import (
    cohort_retention,
    declines_by_day,
    payments_daily,
    rejected_calls,
    top_customers,
    usage_by_day,
    usage_watchlist,
)
from ._index import Headline, headline_numbers
from ._quality import DataCheck, DataQualityError, check_data
from ..alerts import WebhookHealth, webhook_by_day, webhook_failures, webhook_health

# The runner and the HTML export pull in papermill and nbconvert (seconds of import time); notebook
# kernels import this package for frames and charts only, so those names load on first use.
_LAZY = {
    "REPORTS": "_runner", "NotebookRun": "_runner", "ReportRun": "_runner",
    "default_notebooks_dir": "_runner", "run_notebook": "_runner", "run_reports": "_runner",
    "select_reports": "_runner",
    "check_offline": "_html", "export_html": "_html", "write_plotly_js": "_html",
    "LifecycleStack": "_lifecycle", "lifecycle_stack": "_lifecycle", "start_lifecycle_stack": "_lifecycle",
}

if TYPE_CHECKING:
    from ._html import check_offline, export_html, write_plotly_js
    from ._lifecycle import LifecycleStack, lifecycle_stack, start_lifecycle_stack
    from ._runner import (
        REPORTS,
        NotebookRun,
        ReportRun,
        default_notebooks_dir,
        run_notebook,
        run_reports,
        select_reports,
    )


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "COLORS",
    "REPORTS",
    "Alerts",
    "DataCheck",
    "DataQualityError",
    "Headline",
    "KPIs",
    "LifecycleStack",
    "NotOffline",
    "NotebookRun",
    "ReportFailed",
    "ReportRun",
    "WebhookHealth",
    "at_risk_customers",
    "bar_chart",
    "check_data",
    "check_offline",
    "churned_customers",
    "connect_data",
    "copy_warehouse",
    "cohort_heatmap",
    "cohort_retention",
    "declines_by_day",
    "default_data",
    "default_ledger",
    "default_notebooks_dir",
    "export_html",
    "headline_numbers",
    "history_start",
    "latest_complete_month",
    "lifecycle_stack",
    "line_chart",
    "load_data",
    "load_exports",
    "major",
    "money",
    "mrr_waterfall",
    "open_data",
    "payments_daily",
    "percent",
    "rejected_calls",
    "run_notebook",
    "run_reports",
    "select_reports",
    "setup_plotly",
    "source_tree",
    "start_lifecycle_stack",
    "table",
    "top_accounts",
    "top_customers",
    "usage_by_day",
    "usage_watchlist",
    "webhook_by_day",
    "webhook_failures",
    "webhook_health",
    "write_plotly_js",
]
