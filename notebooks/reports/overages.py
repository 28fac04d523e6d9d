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
# Customers over and near their tier's monthly calls (metrics.md §6), the overage revenue, and
# upgrade candidates: customers whose overage costs more than the price step to the next tier.

# %% tags=["parameters"]
month = "2026-09"  # report month, YYYY-MM (UTC): the sample's latest complete month
warehouse = "../../data/sample"  # a DuckDB warehouse file, or a directory of exports
currency = "usd"
convention = "stripe"  # stripe | chartmogul
near_threshold = 0.8  # utilisation from which a customer is "near" its limit
history_months = 6  # months shown in the overage revenue trend
top_n = 20  # customers in the utilisation chart

# %%
from unifiedmcp import metrics, reports
from unifiedmcp.reports import money

reports.setup_plotly()
con = reports.connect_data(warehouse)
report = metrics.monthly(con, month, currency=currency, convention=convention)
watch = reports.usage_watchlist(con, month, near=near_threshold, currency=currency)

# %%
# NBVAL_CHECK_OUTPUT
over = watch[watch["status"].isin(["over", "upgrade"])]
reports.KPIs(f"Overages, {month}", {
    "customers over their limit": f"{len(over):,}",
    "overage revenue": money(over["overage_amount"].sum(), currency),
    f"near their limit (>= {near_threshold:.0%})": f"{int((watch['status'] == 'near').sum()):,}",
    "upgrade candidates": f"{int((watch['status'] == 'upgrade').sum()):,}",
    "billable calls over the limits": f"{int(over['over'].sum()):,}",
})

# %% [markdown]
# ## Over, near and upgrade candidates

# %%
watch[watch["status"] != "ok"][
    ["customer", "tier", "status", "billable_calls", "included", "over", "overage_amount", "utilisation", "upgrade_threshold"]
].reset_index(drop=True)

# %%
top = watch.sort_values(["utilisation", "customer"], ascending=[False, True]).head(top_n)
reports.bar_chart(top, x="customer", y="utilisation", color="status",
                  title=f"Utilisation of included calls, top {top_n}, {month}")

# %% [markdown]
# ## Overage revenue by month

# %%
first = reports.history_start(con, month, months=history_months)
frame = metrics.report_frame(con, first, month, currency=currency, convention=convention)
frame = frame.assign(overage=frame["overage_amount"] / 100)
reports.bar_chart(frame, x="month", y="overage", title=f"Overage revenue by month ({currency.upper()})")

# %%
con.close()
