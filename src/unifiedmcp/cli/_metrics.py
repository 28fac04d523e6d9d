"""``unifiedmcp metrics``: one month's numbers (shared/specs/metrics.md §7), as JSON or a table."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table

from ..months import Month
from ._common import console, settings, tiers

# Currencies whose minor unit is the major unit (Stripe's zero-decimal list, the common ones).
_ZERO_DECIMAL = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
                 "xaf", "xof", "xpf"}
_LISTED = 10


def _money(minor: float | None, currency: str) -> str:
    if minor is None:
        return "–"
    major = minor if currency in _ZERO_DECIMAL else minor / 100
    return f"{major:,.2f} {currency.upper()}"


def _pct(rate: float | None) -> str:
    return "–" if rate is None else f"{rate * 100:.2f} %"


def _table(report: dict[str, Any]) -> None:
    cur = report["currency"]
    t = Table(title=f"Metrics {report['month']} ({cur.upper()}, {report['convention']} convention)",
              show_header=True, header_style="bold")
    t.add_column("metric")
    t.add_column("value", justify="right")
    mrr = report["mrr"]
    for key in ("start", "new", "reactivation", "expansion", "contraction", "churned", "end"):
        t.add_row(f"MRR {key}", _money(mrr[key], cur))
    t.add_section()
    for key, v in report["subscribers"].items():
        t.add_row(f"subscribers {key}", str(v))
    t.add_row("ARPU", _money(report["arpu"], cur))
    t.add_section()
    for key in ("subscriber_churn_rate", "gross_mrr_churn_rate", "net_mrr_churn_rate", "net_revenue_retention"):
        t.add_row(key.replace("_", " "), _pct(report[key]))
    t.add_row("churn voluntary / involuntary",
              f"{report['churn_reasons']['voluntary']} / {report['churn_reasons']['involuntary']}")
    t.add_section()
    p = report["payments"]
    t.add_row("payment attempts", str(p["attempts"]))
    t.add_row("succeeded / failed", f"{p['succeeded']} / {p['failed']}")
    t.add_row("success rate", _pct(p["success_rate"]))
    t.add_row("authorization rate", _pct(p["authorization_rate"]))
    t.add_row("succeeded amount", _money(p["succeeded_amount"], cur))
    t.add_row("failed amount", _money(p["failed_amount"], cur))
    reasons = ", ".join(f"{k} {v}" for k, v in list(p["decline_reasons"].items())[:5]) or "–"
    t.add_row("decline reasons", reasons)
    t.add_row("failed invoices / recovered", f"{_money(p['failed_invoice_amount'], cur)} / "
              f"{_money(p['recovered_amount'], cur)}")
    t.add_row("recovery rate", _pct(p["recovery_rate"]))
    t.add_section()
    u = report["usage"]
    t.add_row("calls / billable", f"{u['calls']:,} / {u['billable_calls']:,}")
    t.add_row("customers with calls", str(u["customers"]))
    t.add_row("overages / near limit / upgrade candidates",
              f"{len(report['overages'])} / {len(report['near_limit'])} / {len(report['upgrade_candidates'])}")
    t.add_section()
    for key, v in report["excluded"].items():
        t.add_row(f"excluded {key.replace('_', ' ')}", str(v))
    console.print(t)
    for name in ("overages", "near_limit", "upgrade_candidates"):
        rows = report[name]
        if not rows:
            continue
        lt = Table(title=f"{name.replace('_', ' ')} ({len(rows)}, first {min(len(rows), _LISTED)})")
        for col in ("customer", "tier", "billable", "included", "over", "overage", "utilisation"):
            lt.add_column(col, justify="left" if col in ("customer", "tier") else "right")
        for e in rows[:_LISTED]:
            lt.add_row(e["customer"], e["tier"], f"{e['billable_calls']:,}", f"{e['included']:,}", f"{e['over']:,}",
                       _money(e["overage_amount"], cur), _pct(e["utilisation"]))
        console.print(lt)


def metrics_command(
    month: str = typer.Option(None, "--month", help="Month as YYYY-MM (UTC); default: the last complete month."),
    currency: str = typer.Option("usd", "--currency", help="Report currency (others are excluded and counted)."),
    convention: str = typer.Option("stripe", "--convention", help="Subscriber churn rate: stripe or chartmogul."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics.md §7 JSON object."),
) -> None:
    """MRR and movements, subscribers and churn, payments and recovery, usage and overages for a month."""
    from .. import metrics as m  # imported here: duckdb is not needed by other commands

    when = Month.parse(month) if month is not None else Month.current().previous
    report = m.monthly(settings().warehouse, when, currency=currency, convention=convention, tiers=tiers())
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        _table(report)


def register(app: typer.Typer) -> None:
    app.command("metrics")(metrics_command)
