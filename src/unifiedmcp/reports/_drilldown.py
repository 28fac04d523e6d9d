"""Customer drill-down for a month: at-risk customers, customers who churned (with the MRR lost
and why) and the top accounts by MRR, with names and e-mails unless ``mask_pii``.

Every number comes from :mod:`unifiedmcp.metrics` (each customer's MRR movement and tiers, usage
judged per call) or from SQL that applies metrics.md's own rules (§5 decline reasons and payment
attempts, §4 churn reasons), so a table never disagrees with the month's report: the churned
list's MRR lost adds up to ``mrr.churned``.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from ..config import TierTable, load_settings, load_tiers
from ..metrics import mrr_by_customer, usage_by_customer
from ..metrics._context import month_params
from ..months import Month
from ._sql import sql_text

__all__ = ["PII_COLUMNS", "at_risk_customers", "churned_customers", "top_accounts"]

PII_COLUMNS = ("name", "email")
_RISKS = (("past_due_invoices", "past due"), ("failed_payments", "failed payment"), ("near_limit", "near limit"))


def _with_people(df: pd.DataFrame, con: duckdb.DuckDBPyConnection, *, mask_pii: bool) -> pd.DataFrame:
    """``df`` with each customer's name and e-mail after its id, unless ``mask_pii``."""
    if mask_pii:
        return df
    people = con.execute(sql_text("people.sql")).df()
    out = df.merge(people, on="customer", how="left")
    return out[["customer", *PII_COLUMNS, *[c for c in df.columns if c != "customer"]]]


def _sql_frame(con: duckdb.DuckDBPyConnection, name: str, m: Month, **params: object) -> pd.DataFrame:
    return con.execute(sql_text(name), {**month_params(m), **params}).df()


def at_risk_customers(
    con: duckdb.DuckDBPyConnection, month: Month | str, *, near: float = 0.8, currency: str = "usd",
    tiers: TierTable | None = None, mask_pii: bool = False,
) -> pd.DataFrame:
    """Customers at the end of ``month`` with an invoice past due, a failed payment in the month,
    or usage near their limit (utilisation at least ``near``, not over: metrics.md §6).

    Columns: customer, [name, email], tier, mrr, past_due_amount, failed_payments, last_decline,
    utilisation, risks (the reasons, comma-separated); by MRR at the month's end, descending.
    """
    m, cur = Month.coerce(month), currency.lower()
    money = _sql_frame(con, "payment_risk.sql", m, currency=cur)
    usage = usage_by_customer(con, m, currency=cur, tiers=tiers)
    near_rows = usage[(usage["over"] == 0) & (usage["utilisation"].fillna(0) >= near)][["customer", "utilisation"]]
    mrr = mrr_by_customer(con, m, currency=cur, tiers=tiers)[["customer", "mrr_end", "tier_end"]]
    df = money.merge(near_rows.assign(near_limit=1), on="customer", how="outer")
    df = df.merge(mrr, on="customer", how="left").merge(usage[["customer", "tier"]], on="customer", how="left")
    if df.empty:
        return _with_people(pd.DataFrame(columns=["customer", "tier", "mrr", "past_due_amount", "failed_payments",
                                                  "last_decline", "utilisation", "risks"]), con, mask_pii=mask_pii)
    for col in ("past_due_amount", "past_due_invoices", "failed_payments", "near_limit", "mrr_end"):
        df[col] = df[col].fillna(0)
    default = (tiers or load_tiers(load_settings().tiers_file)).default.name
    df["tier"] = df["tier_end"].fillna(df["tier"]).fillna(default)  # no line, no usage: the default tier
    df["risks"] = [", ".join(label for col, label in _RISKS if row[col] > 0) for _, row in df.iterrows()]
    out = df.rename(columns={"mrr_end": "mrr"}).astype({"failed_payments": "int64"})
    out = out.sort_values(["mrr", "past_due_amount", "customer"], ascending=[False, False, True], ignore_index=True)
    cols = ["customer", "tier", "mrr", "past_due_amount", "failed_payments", "last_decline", "utilisation", "risks"]
    return _with_people(out[cols], con, mask_pii=mask_pii)


def churned_customers(
    con: duckdb.DuckDBPyConnection, month: Month | str, *, currency: str = "usd", tiers: TierTable | None = None,
    mask_pii: bool = False,
) -> pd.DataFrame:
    """Customers whose MRR went to 0 in ``month`` (metrics.md §3 churned): columns customer,
    [name, email], tier (before), mrr_lost (minor units), ended_at, reason (the cancellation
    reason of their subscription that ended in the month; "no subscription ended" when MRR
    stopped otherwise, e.g. a voided invoice), kind (voluntary or involuntary, §4)."""
    m, cur = Month.coerce(month), currency.lower()
    gone = mrr_by_customer(con, m, currency=cur, tiers=tiers)
    gone = gone[gone["movement"] == "churned"][["customer", "tier_start", "mrr_start"]]
    ended = _sql_frame(con, "ended_subscriptions.sql", m)
    df = gone.merge(ended, on="customer", how="left").rename(columns={"tier_start": "tier", "mrr_start": "mrr_lost"})
    df["reason"] = df["reason"].fillna("no subscription ended")
    df["kind"] = df["kind"].fillna("")
    df = df.sort_values(["mrr_lost", "customer"], ascending=[False, True], ignore_index=True)
    return _with_people(df[["customer", "tier", "mrr_lost", "ended_at", "reason", "kind"]], con, mask_pii=mask_pii)


def top_accounts(
    con: duckdb.DuckDBPyConnection, month: Month | str, *, n: int = 10, currency: str = "usd",
    tiers: TierTable | None = None, mask_pii: bool = False,
) -> pd.DataFrame:
    """The ``n`` customers with the highest MRR at the end of ``month``: columns customer, [name,
    email], tier, mrr, movement (this month's, §3), calls (in the month)."""
    m, cur = Month.coerce(month), currency.lower()
    mrr = mrr_by_customer(con, m, currency=cur, tiers=tiers)
    top = mrr[mrr["mrr_end"] > 0].head(n)
    calls = usage_by_customer(con, m, currency=cur, tiers=tiers)[["customer", "calls"]]
    df = top.merge(calls, on="customer", how="left").fillna({"calls": 0}).astype({"calls": "int64"})
    df = df.rename(columns={"tier_end": "tier", "mrr_end": "mrr"})
    return _with_people(df[["customer", "tier", "mrr", "movement", "calls"]], con, mask_pii=mask_pii)
