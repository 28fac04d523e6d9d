"""``unifiedmcp metrics``: the §7 JSON with exactly its keys, a readable table, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from unifiedmcp.warehouse import shapes

from metrics_scenario import T, Book, write_usage_csv

SECTION_7 = {
    "top": {"month", "currency", "convention", "mrr", "subscribers", "subscriber_churn_rate", "gross_mrr_churn_rate",
            "net_mrr_churn_rate", "net_revenue_retention", "arpu", "churn_reasons", "payments", "usage", "overages",
            "overage_revenue", "overage_expected",  # contract v2
            "near_limit", "upgrade_candidates", "excluded"},
    "mrr": {"start", "end", "new", "reactivation", "expansion", "contraction", "churned"},
    "subscribers": {"start", "new", "reactivated", "churned", "end"},
    "churn_reasons": {"voluntary", "involuntary"},
    "payments": {"attempts", "succeeded", "failed", "success_rate", "authorization_rate", "succeeded_amount",
                 "failed_amount", "decline_reasons", "failed_invoice_amount", "recovered_amount", "recovery_rate"},
    "usage": {"calls", "billable_calls", "customers"},
    "entry": {"customer", "tier", "calls", "billable_calls", "included", "over", "overage_amount", "utilisation"},
    "excluded": {"other_currency_lines", "malformed_usage_rows", "truncated_lists"},
}


def _export(tmp: Path) -> tuple[Path, Path]:
    book = Book()
    pro = book.price("price_pro_monthly", 29_00)
    book.subscribe("cus_a", pro, start=T(2026, 9, 1), periods=3)
    book.add(shapes.charge("ch_1", customer="cus_a", created=T(2026, 10, 1), amount=29_00, status="failed",
                           outcome_reason="insufficient_funds"))
    usage = write_usage_csv(tmp / "usage.csv", [(f"e{i}", "cus_a", "search", "2026-10-03T00:00:00Z", "ok")
                                                for i in range(10_050)])
    return book.write(tmp / "export"), usage


def test_json_has_exactly_the_section_7_keys(cli, tmp_path: Path) -> None:
    """--json prints one object whose keys (and nested keys) are exactly those of metrics.md §7."""
    export, usage = _export(tmp_path)
    assert cli("warehouse", "load-stripe", str(export))[0] == 0
    assert cli("warehouse", "load-usage", str(usage))[0] == 0
    code, out, err = cli("metrics", "--month", "2026-10", "--json")
    assert code == 0, err
    r = json.loads(out)
    assert set(r) == SECTION_7["top"]
    for key in ("mrr", "subscribers", "churn_reasons", "payments", "usage", "excluded"):
        assert set(r[key]) == SECTION_7[key], key
    assert r["payments"]["decline_reasons"] == {"insufficient_funds": 1}
    assert len(r["overages"]) == 1 and set(r["overages"][0]) == SECTION_7["entry"]
    # 50 calls past pro's 10,000 at 0.2 cents: expected 10; nothing metered is invoiced in this export
    assert (r["overage_expected"], r["overage_revenue"]) == (10, 0)
    assert r["overages"][0]["overage_amount"] == 10.0  # 50 calls over 10,000 at 0.2 cents
    assert (r["month"], r["currency"], r["convention"], r["mrr"]["end"]) == ("2026-10", "usd", "stripe", 2900)


def test_table_without_json_and_chartmogul_convention(cli, tmp_path: Path) -> None:
    """Without --json a table is printed; --convention chartmogul is echoed in JSON."""
    export, _ = _export(tmp_path)
    cli("warehouse", "load-stripe", str(export))
    code, out, _ = cli("metrics", "--month", "2026-10")
    assert code == 0 and "MRR end" in out and "29.00 USD" in out
    code, out, _ = cli("metrics", "--month", "2026-10", "--convention", "chartmogul", "--json")
    assert json.loads(out)["convention"] == "chartmogul"


def test_bad_month_convention_or_missing_warehouse_is_one_line(cli, tmp_path: Path) -> None:
    """Errors exit 1 with a single `error:` line."""
    code, _, err = cli("metrics", "--month", "2026-13", "--json")
    assert code == 1 and err.strip().startswith("error:") and len(err.strip().splitlines()) == 1
    code, _, err = cli("metrics", "--month", "2026-10")
    assert code == 1 and "no warehouse" in err
    export, _ = _export(tmp_path)
    cli("warehouse", "load-stripe", str(export))
    code, _, err = cli("metrics", "--month", "2026-10", "--convention", "baremetrics")
    assert code == 1 and "unknown convention" in err
