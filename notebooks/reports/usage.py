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
# # Usage: MCP calls by tier, tool and day
#
# Metered MCP tool calls in the report month (metrics.md §6): by the tier each call was made on,
# by tool and by day; the heaviest customers; and calls the free tier's hard limit rejected. The
# numbers come from `unifiedmcp.metrics` and `unifiedmcp.reports`.

# %% tags=["parameters"]
month = ""  # report month, YYYY-MM (UTC), empty for the latest complete month of the data
warehouse = ""  # a DuckDB file or a directory of exports, empty for the demo warehouse (else the sample)
currency = "usd"
convention = "stripe"  # stripe | chartmogul
top_n = 10  # customers in the top-customers table

# %%
from unifiedmcp import metrics, reports

reports.setup_plotly()
con = reports.connect_data(warehouse)
month = month or str(reports.latest_complete_month(con))
report = metrics.monthly(con, month, currency=currency, convention=convention)
by_day = reports.usage_by_day(con, month, currency=currency)
by_tool = metrics.usage_by_tier_and_tool(con, month, currency=currency)

# %%
# NBVAL_CHECK_OUTPUT
usage = report["usage"]
reports.KPIs(f"Usage, {month}", {
    "calls": f"{usage['calls']:,}",
    "billable calls": f"{usage['billable_calls']:,}",
    "customers with calls": f"{usage['customers']:,}",
    "errors": f"{int(by_day['errors'].sum()):,}",
    "rejected (hard limit)": f"{int(by_day['rejected'].sum()):,}",
})

# %% [markdown]
# ## Calls per day, by tier

# %%
reports.bar_chart(by_day, x="day", y="calls", color="tier", title=f"Calls per day by tier, {month}",
                  y_title="calls", x_title="day (UTC)", legend_title="tier of the call")

# %% [markdown]
# ## Calls by tier and tool

# %%
reports.bar_chart(by_tool, x="tool_name", y="calls", color="tier", title=f"Calls by tool and tier, {month}",
                  y_title="calls", x_title="tool", legend_title="tier of the call")

# %%
reports.table(by_tool, {"tier": "tier", "tool_name": "tool", "calls": "calls", "billable_calls": "billable",
                        "errors": "errors", "rejected": "rejected", "customers": "customers"})

# %% [markdown]
# ## Top customers

# %%
top = reports.top_customers(con, month, n=top_n, currency=currency)
reports.bar_chart(top, x="customer", y="calls", color="tier", title=f"Top {top_n} customers by calls, {month}",
                  y_title="calls", x_title="customer", legend_title="tier at the month's end")

# %%
reports.table(top, {"customer": "customer", "tier": "tier", "calls": "calls", "billable_calls": "billable",
                    "included": "included", "utilisation": "utilisation"}, percent_columns=["utilisation"])

# %% [markdown]
# ## Rejected calls
#
# Calls past a hard limit (the free tier's monthly calls) are rejected and recorded, not billed.

# %%
rejected = reports.rejected_calls(con, month, currency=currency)
reports.bar_chart(by_day[by_day["rejected"] > 0], x="day", y="rejected", color="tier",
                  title=f"Rejected calls per day, {month}", y_title="rejected calls", x_title="day (UTC)",
                  legend_title="tier of the call")

# %%
reports.table(rejected, {"customer": "customer", "tier": "tier", "rejected": "rejected calls",
                         "first_rejected_at": "first (UTC)", "last_rejected_at": "last (UTC)"})

# %%
con.close()
