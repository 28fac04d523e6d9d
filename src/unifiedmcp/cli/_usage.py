"""``unifiedmcp usage``: metered usage per customer and month."""

from __future__ import annotations

import typer
from rich.table import Table

from ..ledger import Ledger
from ..months import Month
from ._common import MONTH_HELP, console, open_ledger, parse_month

usage = typer.Typer(help="Metered MCP usage per customer and month.", no_args_is_help=True)


@usage.command("show")
def show(
    customer: str = typer.Option(None, "--customer", help="One customer (default: every customer with usage)."),
    month: str = typer.Option(None, "--month", help=MONTH_HELP),
) -> None:
    """Calls, limit, remaining and overage for the month."""
    m = parse_month(month)
    with open_ledger() as ledger:
        print_usage(ledger, customer=customer, month=m)


def print_usage(ledger: Ledger, *, customer: str | None, month: Month | None) -> None:
    rows = [ledger.usage(customer, month=month)] if customer else ledger.usage_summary(month=month)
    title = f"usage {rows[0].month}" if rows else "usage: no calls recorded this month"
    table = Table("customer", "tier", "calls", "limit", "remaining", "overage", "rejected", "resets", title=title)
    for u in rows:
        table.add_row(
            u.customer_id, u.tier, f"{u.calls:,}", f"{u.limit:,}", f"{u.remaining:,}", f"{u.overage:,}",
            f"{u.rejected:,}", f"{u.resets_at:%Y-%m-%d}",
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(usage, name="usage")
