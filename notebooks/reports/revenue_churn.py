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
# # Revenue and churn
#
# MRR and its movements (metrics.md §3: an upgrade, downgrade or quantity change counts from the
# instant it happens), MRR by tier, subscriber churn (§4) with voluntary and involuntary churn,
# and monthly cohort retention. Churn rate convention: `stripe` divides churned subscribers by
# everyone who was a subscriber during the month; `chartmogul` by subscribers at the start.

# %% tags=["parameters"]
month = ""  # report month, YYYY-MM (UTC), empty for the latest complete month of the data
warehouse = ""  # a DuckDB file or a directory of exports, empty for the demo warehouse (else the sample)
currency = "usd"
convention = "stripe"  # stripe | chartmogul
history_months = 6  # months shown in the trend charts and cohorts

# %%
from unifiedmcp import metrics, reports
from unifiedmcp.reports import money, percent

reports.setup_plotly()
con = reports.connect_data(warehouse)
month = month or str(reports.latest_complete_month(con))
report = metrics.monthly(con, month, currency=currency, convention=convention)
first = reports.history_start(con, month, months=history_months)

# %%
# NBVAL_CHECK_OUTPUT
mrr, subs = report["mrr"], report["subscribers"]
reports.KPIs(f"Revenue and churn, {month} ({convention} convention)", {
    "MRR at start": money(mrr["start"], currency),
    "MRR at end": money(mrr["end"], currency),
    "new": money(mrr["new"], currency),
    "reactivation": money(mrr["reactivation"], currency),
    "expansion": money(mrr["expansion"], currency),
    "contraction": money(mrr["contraction"], currency),
    "churned": money(mrr["churned"], currency),
    "subscribers start / end": f"{subs['start']} / {subs['end']}",
    "new / reactivated / churned": f"{subs['new']} / {subs['reactivated']} / {subs['churned']}",
    "subscriber churn rate": percent(report["subscriber_churn_rate"]),
    "gross MRR churn rate": percent(report["gross_mrr_churn_rate"]),
    "net MRR churn rate": percent(report["net_mrr_churn_rate"]),
    "net revenue retention": percent(report["net_revenue_retention"]),
    "ARPU": money(report["arpu"], currency),
    "churn voluntary / involuntary": f"{report['churn_reasons']['voluntary']} / {report['churn_reasons']['involuntary']}",
})

# %% [markdown]
# ## MRR movements

# %%
reports.mrr_waterfall(mrr, currency=currency, title=f"MRR movements, {month}")

# %%
by_tier = metrics.mrr_by_tier(con, first, month, currency=currency)
reports.bar_chart(by_tier, x="month", y="mrr", color="tier", title="MRR at month end, by tier",
                  y_title="MRR", x_title="month", legend_title="tier", amounts=currency)

# %% [markdown]
# ## Churn

# %%
churn = metrics.churn_by_month(con, first, month, currency=currency, convention=convention)
reports.line_chart(churn, x="month", y=["subscriber_churn_rate", "gross_mrr_churn_rate", "net_mrr_churn_rate"],
                   title="Churn rates by month", y_title="rate", x_title="month", percent=True,
                   labels={"subscriber_churn_rate": "subscriber churn rate",
                           "gross_mrr_churn_rate": "gross MRR churn rate", "net_mrr_churn_rate": "net MRR churn rate"})

# %%
reports.bar_chart(churn, x="month", y=["voluntary", "involuntary"], y_title="subscriptions ended", x_title="month",
                  title="Ended subscriptions: voluntary vs involuntary")

# %% [markdown]
# ## Cohort retention
#
# A customer's cohort is the month its first paying interval starts; a cell is the share of the
# cohort still paying at the end of that many months later.

# %%
cohorts = reports.cohort_retention(con, first, month, currency=currency)
reports.cohort_heatmap(cohorts, title=f"Cohort retention, {first} to {month}")

# %%
con.close()
