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
# # Payments
#
# Payment attempts (charges) in the report month (metrics.md §5): success and authorization rates
# by day, decline reasons, and recovery of invoices whose first payment attempt failed.

# %% tags=["parameters"]
month = ""  # report month, YYYY-MM (UTC), empty for the latest complete month of the data
warehouse = ""  # a DuckDB file or a directory of exports, empty for the demo warehouse (else the sample)
currency = "usd"
convention = "stripe"  # stripe | chartmogul
history_months = 6  # months shown in the recovery trend
min_success_rate = 0.9  # a success rate below this is flagged

# %%
from unifiedmcp import metrics, reports
from unifiedmcp.reports import money, percent

reports.setup_plotly()
con = reports.connect_data(warehouse)
month = month or str(reports.latest_complete_month(con))
report = metrics.monthly(con, month, currency=currency, convention=convention)
pay = report["payments"]
daily = reports.payments_daily(con, month, currency=currency)

# %%
# NBVAL_CHECK_OUTPUT
reports.KPIs(f"Payments, {month}", {
    "attempts": f"{pay['attempts']:,}",
    "succeeded / failed": f"{pay['succeeded']:,} / {pay['failed']:,}",
    "success rate": percent(pay["success_rate"]),
    "authorization rate": percent(pay["authorization_rate"]),
    "succeeded amount": money(pay["succeeded_amount"], currency),
    "failed amount": money(pay["failed_amount"], currency),
    "failed invoices (first attempt)": money(pay["failed_invoice_amount"], currency),
    "recovered": money(pay["recovered_amount"], currency),
    "recovery rate": percent(pay["recovery_rate"]),
})

# %%
reports.Alerts(
    [f"success rate {percent(pay['success_rate'])} is below {percent(min_success_rate)}"]
    if pay["success_rate"] is not None and pay["success_rate"] < min_success_rate else [],
    ok=f"Success rate at or above {percent(min_success_rate)}.",
)

# %% [markdown]
# ## Success and authorization rates by day

# %%
reports.line_chart(daily, x="day", y=["success_rate", "authorization_rate"], percent=True,
                   title=f"Payment success and authorization rate by day, {month}", y_title="rate",
                   x_title="day (UTC)", labels={"success_rate": "success rate",
                                                "authorization_rate": "authorization rate"})

# %%
reports.bar_chart(daily, x="day", y=["succeeded", "failed"], title=f"Payment attempts by day, {month}",
                  y_title="payment attempts", x_title="day (UTC)")

# %% [markdown]
# ## Decline reasons

# %%
declines = reports.declines_by_day(con, month, currency=currency)
reports.bar_chart(declines, x="day", y="failed", color="reason", title=f"Declines by day and reason, {month}",
                  y_title="failed payment attempts", x_title="day (UTC)", legend_title="decline reason")

# %%
import pandas as pd

reasons = pd.DataFrame({"reason": list(pay["decline_reasons"]), "failed": list(pay["decline_reasons"].values())},
                       columns=["reason", "failed"]).astype({"failed": "int64"})
reports.table(reasons, {"reason": "decline reason", "failed": "failed attempts"})

# %% [markdown]
# ## Recovery
#
# Invoices whose first payment attempt failed in a month, and how much of them is now paid.

# %%
first = reports.history_start(con, month, months=history_months)
frame = metrics.report_frame(con, first, month, currency=currency, convention=convention)
reports.bar_chart(frame, x="month", y=["payments_failed_invoice_amount", "payments_recovered_amount"],
                  barmode="group", title="Invoices whose first payment failed, and what was recovered",
                  y_title="amount", x_title="month", amounts=currency,
                  labels={"payments_failed_invoice_amount": "failed", "payments_recovered_amount": "recovered"})

# %%
reports.line_chart(frame, x="month", y="payments_recovery_rate", percent=True, title="Recovery rate by month",
                   y_title="recovered share", x_title="month", labels={"payments_recovery_rate": "recovered"})

# %%
con.close()
