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
# # Customers: at risk, churned, top accounts
#
# Who to call this month. At risk: customers with an invoice past due at the month's end, a
# failed payment in the month, or usage near their limit. Churned: customers whose MRR went to 0
# in the month (metrics.md §3), with the MRR lost and the cancellation reason. Top accounts by MRR
# at the month's end. Names and e-mails come from the Stripe customers; `mask_pii` shows ids only.

# %% tags=["parameters"]
month = ""  # report month, YYYY-MM (UTC), empty for the latest complete month of the data
warehouse = ""  # a DuckDB file or a directory of exports, empty for the demo warehouse (else the sample)
currency = "usd"
convention = "stripe"  # stripe | chartmogul
mask_pii = False  # True: customer ids only, no names or e-mails
near_threshold = 0.8  # utilisation from which a customer is "near" its limit
top_n = 10  # accounts in the top-accounts table

# %%
from unifiedmcp import reports
from unifiedmcp.reports import money

reports.setup_plotly()
con = reports.connect_data(warehouse)
month = month or str(reports.latest_complete_month(con))
at_risk = reports.at_risk_customers(con, month, near=near_threshold, currency=currency, mask_pii=mask_pii)
churned = reports.churned_customers(con, month, currency=currency, mask_pii=mask_pii)
top = reports.top_accounts(con, month, n=top_n, currency=currency, mask_pii=mask_pii)
people = {} if mask_pii else {"name": "name", "email": "e-mail"}

# %%
# NBVAL_CHECK_OUTPUT
reports.KPIs(f"Customers, {month}", {
    "at risk": f"{len(at_risk):,}",
    "MRR at risk": money(at_risk["mrr"].sum(), currency),
    "churned": f"{len(churned):,}",
    "MRR lost": money(churned["mrr_lost"].sum(), currency),
    "involuntary churn": f"{int((churned['kind'] == 'involuntary').sum()):,}",
    f"top {top_n} accounts' MRR": money(top["mrr"].sum(), currency),
})

# %% [markdown]
# ## At risk

# %%
reports.table(at_risk, {"customer": "customer", **people, "tier": "tier", "mrr": "MRR",
                        "past_due_amount": "past due", "failed_payments": "failed payments",
                        "last_decline": "last decline", "utilisation": "utilisation", "risks": "risks"},
              money_columns=["mrr", "past_due_amount"], percent_columns=["utilisation"], currency=currency)

# %% [markdown]
# ## Churned this month

# %%
reports.table(churned, {"customer": "customer", **people, "tier": "tier before", "mrr_lost": "MRR lost",
                        "ended_at": "ended (UTC)", "reason": "reason", "kind": "kind"},
              money_columns=["mrr_lost"], currency=currency)

# %% [markdown]
# ## Top accounts by MRR

# %%
reports.bar_chart(top, x="customer", y="mrr", color="tier", title=f"Top {top_n} accounts by MRR, {month}",
                  y_title="MRR", x_title="customer", legend_title="tier", amounts=currency)

# %%
reports.table(top, {"customer": "customer", **people, "tier": "tier", "mrr": "MRR", "movement": "this month",
                    "calls": "calls"}, money_columns=["mrr"], currency=currency)

# %%
con.close()
