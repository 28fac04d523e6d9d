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
month = "2026-09"  # report month, YYYY-MM (UTC): the sample's latest complete month
warehouse = "../../data/sample"  # a DuckDB warehouse file, or a directory of exports
currency = "usd"
convention = "stripe"  # stripe | chartmogul
history_months = 6  # months shown in the recovery trend
min_success_rate = 0.9  # a success rate below this is flagged

# %%
from unifiedmcp import metrics, reports
from unifiedmcp.reports import money, percent

reports.setup_plotly()
con = reports.connect_data(warehouse)
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
                   title=f"Payment success and authorization rate by day, {month}")

# %%
reports.bar_chart(daily, x="day", y=["succeeded", "failed"], title=f"Payment attempts by day, {month}")

# %% [markdown]
# ## Decline reasons

# %%
declines = reports.declines_by_day(con, month, currency=currency)
reports.bar_chart(declines, x="day", y="failed", color="reason", title=f"Declines by day and reason, {month}")

# %%
import pandas as pd

pd.Series(pay["decline_reasons"], name="failed charges", dtype="int64").rename_axis("reason").to_frame()

# %% [markdown]
# ## Recovery
#
# Invoices whose first payment attempt failed in a month, and how much of them is now paid.

# %%
first = reports.history_start(con, month, months=history_months)
frame = metrics.report_frame(con, first, month, currency=currency, convention=convention)
recovery = frame[["month", "payments_failed_invoice_amount", "payments_recovered_amount"]].copy()
recovery[["payments_failed_invoice_amount", "payments_recovered_amount"]] /= 100
reports.bar_chart(recovery, x="month", y=["payments_failed_invoice_amount", "payments_recovered_amount"],
                  barmode="group", title=f"Failed first attempts and recovered amounts ({currency.upper()})",
                  labels={"payments_failed_invoice_amount": "failed", "payments_recovered_amount": "recovered"})

# %%
reports.line_chart(frame, x="month", y="payments_recovery_rate", percent=True, title="Recovery rate by month")

# %%
con.close()
