"""``unifiedmcp customers``: the customers the ledger meters, and their tiers."""

from __future__ import annotations

import typer
from rich.table import Table

from ._common import console, open_ledger

customers = typer.Typer(help="Customers known to the ledger and their tiers.", no_args_is_help=True)


@customers.command("add")
def add(
    customer_id: str = typer.Argument(..., help="Stripe customer id, e.g. cus_123."),
    tier: str = typer.Option(None, help="Tier name (default: the lowest tier)."),
    email: str = typer.Option(None, help="Contact e-mail."),
) -> None:
    """Add a customer, or update its tier and e-mail."""
    with open_ledger() as ledger:
        c = ledger.upsert_customer(customer_id, tier=tier, email=email)
    console.print(f"{c.customer_id}: tier {c.tier}")


@customers.command("set-tier")
def set_tier(
    customer_id: str = typer.Argument(..., help="Stripe customer id."),
    tier: str = typer.Argument(..., help="Tier name."),
) -> None:
    """Set a customer's tier by hand (webhooks normally keep it in step with Stripe)."""
    with open_ledger() as ledger:
        c = ledger.set_tier(customer_id, tier)
    console.print(f"{c.customer_id}: tier {c.tier}")


@customers.command("list")
def list_() -> None:
    """List customers with their tier and status."""
    with open_ledger() as ledger:
        rows = ledger.customers()
    table = Table("customer", "tier", "status", "email", "updated")
    for c in rows:
        table.add_row(c.customer_id, c.tier, c.status, c.email or "", c.updated_at)
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(customers, name="customers")
