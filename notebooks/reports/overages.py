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
# # Overages
#
# Customers over and near their tier's monthly calls (metrics.md §6, each call judged on the tier it
# was made on), the overage billed (metered invoice lines, §7) against the overage computed from the
# ledger, and upgrade candidates: free customers whose calls were rejected, and paid ones whose
# overage costs more than the price step to the next tier. Billed and computed differ when a period
# is invoiced in a later month, usage fell in a trial, or meter events failed
# (`unifiedmcp billing reconcile --month M` explains it per customer; docs/usage-billing.md).

# %% tags=["parameters"]
month = ""  # report month, YYYY-MM (UTC), empty for the latest complete month of the data
warehouse = ""  # a DuckDB file or a directory of exports, empty for the demo warehouse (else the sample)
currency = "usd"
convention = "stripe"  # stripe | chartmogul
near_threshold = 0.8  # utilisation from which a customer is "near" its limit
history_months = 6  # months shown in the billed-against-computed trend
top_n = 20  # customers in the utilisation chart

# %%
from unifiedmcp import metrics, reports
from unifiedmcp.reports import money

reports.setup_plotly()
con = reports.connect_data(warehouse)
month = month or str(reports.latest_complete_month(con))
report = metrics.monthly(con, month, currency=currency, convention=convention)
watch = reports.usage_watchlist(con, month, near=near_threshold, currency=currency)

# %%
# NBVAL_CHECK_OUTPUT
over = watch[watch["over"] > 0]
reports.KPIs(f"Overages, {month}", {
    "customers over their limit": f"{len(over):,}",
    "overage billed (invoiced)": money(report["overage_revenue"], currency),
    "overage computed (ledger)": money(report["overage_expected"], currency),
    f"near their limit (>= {near_threshold:.0%})": f"{int((watch['status'] == 'near').sum()):,}",
    "upgrade candidates": f"{int((watch['status'] == 'upgrade').sum()):,}",
    "billable calls over the limits": f"{int(over['over'].sum()):,}",
})

# %% [markdown]
# ## Over, near and upgrade candidates

# %%
reports.table(watch[watch["status"] != "ok"], {
    "customer": "customer", "tier": "tier at month end", "status": "status", "billable_calls": "billable calls",
    "included": "included", "over": "over", "overage_amount": "overage", "utilisation": "utilisation",
    "rejected": "rejected", "upgrade_threshold": "price step to next tier",
}, money_columns=["overage_amount", "upgrade_threshold"], percent_columns=["utilisation"], currency=currency)

# %%
top = watch.sort_values(["utilisation", "customer"], ascending=[False, True]).head(top_n)
reports.bar_chart(top, x="customer", y="utilisation", color="status", percent=True,
                  title=f"Utilisation of included calls, top {top_n}, {month}",
                  y_title="billable calls / included calls", x_title="customer", legend_title="status")

# %% [markdown]
# ## Overage billed against computed, by month

# %%
first = reports.history_start(con, month, months=history_months)
frame = metrics.report_frame(con, first, month, currency=currency, convention=convention)
reports.bar_chart(frame, x="month", y=["overage_revenue", "overage_expected"], barmode="group",
                  title="Overage billed and computed by month", y_title="overage", x_title="month",
                  amounts=currency,
                  labels={"overage_revenue": "billed (invoiced)", "overage_expected": "computed (ledger)"})

# %%
con.close()
