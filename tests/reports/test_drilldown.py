"""Customer drill-down on the committed sample (data/sample), September 2026, checked against rows
derived by hand from the JSON Lines files; and --mask-pii publishing ids only."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import duckdb
import nbformat
import pytest

from unifiedmcp import metrics, reports

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
MONTH = "2026-09"


@pytest.fixture(scope="module")
def sample() -> Iterator[duckdb.DuckDBPyConnection]:
    con = reports.connect_data(SAMPLE)
    yield con
    con.close()


def _row(df, customer: str) -> dict:
    rows = df[df["customer"] == customer].to_dict("records")
    assert len(rows) == 1, customer
    return rows[0]


def test_churned_customers_with_mrr_lost_and_reason(sample: duckdb.DuckDBPyConnection) -> None:
    """By hand, from subscriptions.jsonl.gz and invoices.jsonl.gz:

    - cus_..605 (Customer 0037): its paid invoice covers Aug 17 - Sep 17 at 299.00, the open one
      from Sep 17 is cut at the subscription's end, 2026-09-30 04:11:11, canceled for
      payment_failed: 299.00 lost in September, involuntary;
    - cus_..482 (Customer 0108): the open invoice covering Aug 26 - Sep 26 bills 29.00 less a
      5.80 discount (WELCOME20): 23.20 at the end of August, gone on Sep 8 (payment_failed).

    All fifteen together lost what the month's report calls churned MRR."""
    churned = reports.churned_customers(sample, MONTH)
    assert _row(churned, "cus_sample000000000000000605") == {
        "customer": "cus_sample000000000000000605", "name": "Customer 0037", "email": "customer0037@example.com",
        "tier": "enterprise", "mrr_lost": 29900.0, "ended_at": datetime(2026, 9, 30, 4, 11, 11),
        "reason": "payment_failed", "kind": "involuntary"}
    assert _row(churned, "cus_sample000000000000000482") == {
        "customer": "cus_sample000000000000000482", "name": "Customer 0108", "email": "customer0108@example.com",
        "tier": "pro", "mrr_lost": 2320.0, "ended_at": datetime(2026, 9, 8, 13, 41, 11),
        "reason": "payment_failed", "kind": "involuntary"}
    assert len(churned) == 15 and (churned["kind"] == "involuntary").sum() == 4
    assert churned["mrr_lost"].sum() == metrics.monthly(sample, MONTH)["mrr"]["churned"] == 123_920
    assert list(churned["mrr_lost"]) == sorted(churned["mrr_lost"], reverse=True)


def test_at_risk_customers_past_due_failed_and_their_reasons(sample: duckdb.DuckDBPyConnection) -> None:
    """By hand, from invoices and charges:

    - cus_..569 (Customer 0224, pro, still paying 29.00): its Sep 20 invoice's first attempt failed
      and it is still open: 29.00 past due; failed charges on Sep 20, 23 and 28 (generic_decline);
    - cus_..605: churned, yet its open 299.00 invoice is past due; four failed charges in
      September, the last (Sep 30) a generic decline; on the free tier at the month's end."""
    risk = reports.at_risk_customers(sample, MONTH)
    row = _row(risk, "cus_sample000000000000000569")
    assert math.isnan(row.pop("utilisation"))  # not near its limit: no utilisation shown
    assert row == {
        "customer": "cus_sample000000000000000569", "name": "Customer 0224", "email": "customer0224@example.com",
        "tier": "pro", "mrr": 2900.0, "past_due_amount": 2900.0, "failed_payments": 3,
        "last_decline": "generic_decline", "risks": "past due, failed payment"}
    row = _row(risk, "cus_sample000000000000000605")
    assert (row["tier"], row["mrr"], row["past_due_amount"], row["failed_payments"], row["last_decline"]) == (
        "free", 0.0, 29900.0, 4, "generic_decline")
    assert set(risk["tier"]) <= {"free", "pro", "enterprise"}  # a customer without any line is free
    assert list(risk["mrr"]) == sorted(risk["mrr"], reverse=True)


def test_top_accounts_by_mrr(sample: duckdb.DuckDBPyConnection) -> None:
    """The five largest accounts at the end of September all pay enterprise's 299.00 (ties by
    id); their calls are their September usage rows in usage.csv."""
    top = reports.top_accounts(sample, MONTH, n=5)
    assert list(top.columns) == ["customer", "name", "email", "tier", "mrr", "movement", "calls"]
    assert set(top["tier"]) == {"enterprise"} and set(top["mrr"]) == {29900.0}
    assert list(top["customer"]) == sorted(top["customer"])
    first = top.iloc[0]
    assert (first["customer"], first["name"], first["calls"]) == ("cus_sample000000000000000014", "Customer 0040", 23)


def test_mask_pii_leaves_ids_only(sample: duckdb.DuckDBPyConnection) -> None:
    for frame in (reports.at_risk_customers(sample, MONTH, mask_pii=True),
                  reports.churned_customers(sample, MONTH, mask_pii=True),
                  reports.top_accounts(sample, MONTH, mask_pii=True)):
        assert "name" not in frame.columns and "email" not in frame.columns
        assert frame["customer"].str.startswith("cus_").all()


def test_published_customers_page_with_mask_pii_holds_no_name_or_email(export_dir: Path, tmp_path: Path) -> None:
    """report --mask-pii (run_reports(mask_pii=True)): neither the page nor the executed notebook
    holds a customer's name or e-mail; without it, the page names them."""
    masked = reports.run_reports("2026-10", out_dir=tmp_path / "masked", warehouse=export_dir, reports=["customers"],
                                 mask_pii=True)
    for path in (masked.directory / "customers.html", masked.directory / "notebooks" / "customers.ipynb"):
        text = path.read_text(encoding="utf-8")
        assert "Person 0" not in text and "@example.com" not in text, path.name
    nb = nbformat.read(masked.directory / "notebooks" / "customers.ipynb", as_version=4)
    assert nb.metadata.papermill.parameters["mask_pii"] is True
    named = reports.run_reports("2026-10", out_dir=tmp_path / "named", warehouse=export_dir, reports=["customers"])
    assert "Person 0" in (named.directory / "customers.html").read_text(encoding="utf-8")
