# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: UnifiedMCP (.venv)
#     language: python
#     name: unifiedmcp
# ---

# %% [markdown]
# # Ops: webhook health
#
# Stripe webhook deliveries recorded by the receiver in the ledger: events received in the month and
# how they were processed (applied, ignored, failed, replayed), deliveries rejected before storage
# (bad signature, stale, malformed; all-time totals), and the time since the last successful event.
# The webhook alerts of `unifiedmcp alerts check` show: failures past `max_failed_events`, and no
# webhook for more than `max_hours_without_webhook` hours while subscriptions are live.

# %% tags=["parameters"]
month = ""  # report month, YYYY-MM (UTC), empty for the latest complete month of the data
warehouse = ""  # a DuckDB file or a directory of exports, empty for the demo warehouse (else the sample)
ledger = ""  # a ledger SQLite file with the webhook event log, empty for the configured ledger (SQLite or PostgreSQL)
currency = "usd"
convention = "stripe"  # stripe | chartmogul
max_failed_events = 0  # alert when more events than this failed in the month
max_hours_without_webhook = 24.0  # alert when none arrived for longer (as of the month's end)

# %%
from unifiedmcp import alerts, reports
from unifiedmcp.config import AlertSettings

reports.setup_plotly()
con = reports.connect_data(warehouse)
month = month or str(reports.latest_complete_month(con))
ledger = ledger or reports.default_ledger()
health = reports.webhook_health(ledger, month)

# %%
# NBVAL_CHECK_OUTPUT
hours = health.hours_since_success
reports.KPIs(f"Webhook health, {month}", {
    "received": f"{health.received:,}",
    "applied": f"{health.applied:,}",
    "ignored": f"{health.ignored:,}",
    "failed": f"{health.failed:,}",
    "replayed": f"{health.replayed:,}",
    "rejected (all time)": f"{health.rejected:,}",
    "hours since last success": "n/a" if hours is None else f"{hours:g}",
} if health.available else {"webhook event log": "no ledger given"})

# %%
thresholds = AlertSettings(max_failed_webhook_events=max_failed_events,
                           max_hours_without_webhook=max_hours_without_webhook)
checked = alerts.check_alerts(warehouse=None, ledger=ledger or None, window=alerts.Window.month(month),
                              settings=thresholds)
reports.Alerts([r.message for r in checked.fired], ok="No webhook alert.")

# %% [markdown]
# ## Events by day and status

# %%
by_day = reports.webhook_by_day(ledger, month)
reports.bar_chart(by_day, x="day", y="events", color="status", title=f"Webhook events by day, {month}",
                  y_title="events received", x_title="day (UTC)", legend_title="outcome")

# %%
reports.table(reports.webhook_failures(ledger, month), {
    "event_id": "event", "type": "type", "object_id": "object", "attempts": "attempts",
    "received_at": "received (UTC)", "error": "error"})

# %% [markdown]
# ## MCP call errors by day
#
# Tool calls that failed (`error`) or were refused by a hard limit (`rejected`), from the warehouse.

# %%
calls = reports.usage_by_day(con, month, currency=currency).groupby("day", as_index=False)[["errors", "rejected"]].sum()
con.close()
reports.bar_chart(calls, x="day", y=["errors", "rejected"], title=f"Failed and rejected MCP calls by day, {month}",
                  y_title="calls", x_title="day (UTC)")
