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
# # Subscription lifecycle, end to end
#
# subscribe → webhook → tier pro → the customer connects its own Stripe account (Connect OAuth) →
# metered MCP calls on that account → a failing renewal on the test clock → retries → canceled →
# tier free → the cancellation in the month's churn metrics. Every step asserts what it expects,
# so running this notebook (papermill, `pytest --nbval-lax`) is a test.
#
# Runs against a private local sandbox by default. When the environment variable named by
# `key_variable` holds a Stripe **test** key (`sk_test_…`) and `STRIPE_API_BASE` is not set, it
# runs in Stripe test mode instead
# (events are forwarded to the local receiver as `stripe listen` would; the failed-payment
# retries are then the account's own settings; the customer's own account is then the one of the
# test key in the variable named by `customer_key_variable`, since Connect OAuth needs a browser).
# Keys are read from the environment only.

# %% tags=["parameters"]
start = "2026-03-01"  # the test clock's first instant (UTC): the subscription starts here
tier = "pro"
tool = "retrieve_balance"  # the MCP tool called while the customer is pro
mcp_calls = 12
retry_days = [3, 5, 7]  # sandbox dunning: retries after 3, 5 and 7 days, then cancel
key_variable = "STRIPE_API_KEY"  # name of the variable holding a test key (never the key)
customer_key_variable = "STRIPE_CUSTOMER_KEY"  # test mode only: the customer's own account's key (name)

# %%
import uuid
from datetime import UTC, datetime

from unifiedmcp import billing, metrics, reports
from unifiedmcp.months import Month

HOUR, DAY = 3600, 86400
t0 = int(datetime.fromisoformat(start).replace(tzinfo=UTC).timestamp())
stack = reports.start_lifecycle_stack(key_variable=key_variable, customer_key_variable=customer_key_variable)
steps = []  # (step, observed), shown at the end


def step(name, observed, expected):
    assert observed == expected, f"{name}: expected {expected!r}, got {observed!r}"
    steps.append((name, observed))


def mirror(subscription_id):
    return {s.subscription_id: s for s in billing.subscriptions(stack.ledger)}[subscription_id]


print("mode:", stack.mode)

# %% [markdown]
# ## 1. Subscribe, and the webhook makes the customer pro

# %%
email = f"flow-{uuid.uuid4().hex[:10]}@example.com"
cid, clock = stack.customer_on_clock(email, frozen_time=t0)
sub = billing.subscribe(stack.client, email, tier, payment_method="pm_card_visa")
step("subscription status", sub.status, "active")
stack.settle()
step("ledger tier after the webhook", stack.ledger.customer(cid).tier, tier)
step("mirrored subscription", mirror(sub.subscription_id).status, "active")

# %% [markdown]
# ## 2. The customer connects its own Stripe account, then makes metered MCP calls on it
#
# A customer's tools never act on the operator's account (the one that bills it): first the
# customer connects its own account through Stripe Connect OAuth.

# %%
account = stack.connect_account(cid)
step("connection kind", stack.ledger.connections(cid)[0].kind, "oauth" if stack.mode == "sandbox" else "api_key")
step("the connected account is not the operator's", account != stack.accounts.operator_account, True)
results = await stack.call_tools(cid, tool, n=mcp_calls)  # noqa: F704 (top-level await in the kernel)
step("MCP calls without error", sum(not r.is_error for r in results), mcp_calls)
step("calls metered in the ledger", stack.ledger.usage(cid).calls, mcp_calls)
info = await stack.call_tools(cid, "get_stripe_account_info")  # noqa: F704
step("tools act on the customer's own account", info[0].structured_content["id"] == account, True)

# %% [markdown]
# ## 3. The renewal fails on the test clock

# %%
stack.set_dunning(retry_days=retry_days, final_action="cancel")
failing = stack.client.v1.payment_methods.attach("pm_card_chargeCustomerFail", {"customer": cid})
stack.client.v1.subscriptions.update(sub.subscription_id, {"default_payment_method": failing.id})
period_end = sub.current_period_end
stack.advance(clock, to=period_end + 2 * HOUR)
step("status after the failed renewal", mirror(sub.subscription_id).status, "past_due")
step("tier while past due", stack.ledger.customer(cid).tier, tier)


def renewal_attempts():
    with stack.ledger.transaction() as conn:
        row = conn.execute(
            "SELECT attempt_count, payment_failed FROM invoices WHERE subscription_id = ? "
            "AND billing_reason = 'subscription_cycle'", (sub.subscription_id,)).fetchone()
    return row


step("renewal invoice marked failed", renewal_attempts()[1], 1)

# %% [markdown]
# ## 4. Retries, then the subscription is canceled and the customer is free again

# %%
attempts = [renewal_attempts()[0]]
for day in range(1, 31):
    stack.advance(clock, to=period_end + day * DAY + 2 * HOUR)
    attempts.append(renewal_attempts()[0])
    if mirror(sub.subscription_id).status == "canceled":
        break
if stack.mode == "sandbox":
    step("payment attempts (first + retries)", max(attempts), 1 + len(retry_days))
step("status after the retries", mirror(sub.subscription_id).status, "canceled")
step("ledger tier after cancellation", stack.ledger.customer(cid).tier, "free")
ended = stack.client.v1.subscriptions.retrieve(sub.subscription_id)
step("cancellation reason", ended.cancellation_details.reason, "payment_failed")

# %% [markdown]
# ## 5. The cancellation shows in the month's churn metrics

# %%
con = stack.warehouse(cid)
churn_month = Month.of(datetime.fromtimestamp(ended.ended_at, UTC))
report = metrics.monthly(con, churn_month)
step("subscribers churned", report["subscribers"]["churned"], 1)
step("involuntary churn", report["churn_reasons"]["involuntary"], 1)
price = {plan.tier: plan.unit_amount for plan in billing.DEFAULT_PLANS}[tier]
step("MRR churned", report["mrr"]["churned"], price)
before = metrics.monthly(con, churn_month.previous)
step("subscribers at the start of the month", report["subscribers"]["start"], 1)
step("churn the month before", before["subscribers"]["churned"], 0)

# %%
# NBVAL_CHECK_OUTPUT
reports.KPIs(f"Lifecycle checks (churn month {churn_month})", {name: str(value) for name, value in steps})

# %%
con.close()
stack.close()
