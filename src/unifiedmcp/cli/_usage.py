"""``unifiedmcp usage`` and ``unifiedmcp connections``: metered usage and OAuth connections."""

from __future__ import annotations

import typer
from rich.table import Table

from ..ledger import Ledger
from ..months import Month
from ._common import MONTH_HELP, console, open_ledger, parse_month

usage = typer.Typer(help="Metered MCP usage per customer and month.", no_args_is_help=True)
connections = typer.Typer(help="OAuth connections, capped per tier.", no_args_is_help=True)


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


@connections.command("add")
def add(
    customer: str = typer.Option(..., "--customer", help="Stripe customer id."),
    provider: str = typer.Option(..., "--provider", help="OAuth provider, e.g. github."),
    account: str = typer.Option("", "--account", help="Account at the provider."),
) -> None:
    """Add a connection; refused past the tier's cap (free: 1)."""
    with open_ledger() as ledger:
        c = ledger.add_connection(customer, provider, account=account)
    console.print(f"added {c.connection_id}: {c.customer_id} → {c.provider} {c.account}".rstrip())


@connections.command("list")
def list_(customer: str = typer.Option(..., "--customer", help="Stripe customer id.")) -> None:
    """List a customer's connections."""
    with open_ledger() as ledger:
        rows = ledger.connections(customer)
    table = Table("connection", "provider", "account", "created")
    for c in rows:
        table.add_row(c.connection_id, c.provider, c.account, c.created_at)
    console.print(table)


@connections.command("remove")
def remove(connection_id: str = typer.Argument(..., help="The connection id (conn_…).")) -> None:
    """Remove a connection."""
    with open_ledger() as ledger:
        ledger.remove_connection(connection_id)
    console.print(f"removed {connection_id}")


def register(app: typer.Typer) -> None:
    app.add_typer(usage, name="usage")
    app.add_typer(connections, name="connections")
