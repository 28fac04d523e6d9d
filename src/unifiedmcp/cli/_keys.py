"""``unifiedmcp keys``: API keys for the MCP server's HTTP transport."""

from __future__ import annotations

import typer
from rich.table import Table

from ._common import console, open_ledger

keys = typer.Typer(help="API keys (stored hashed; a key is shown once, at creation).", no_args_is_help=True)


@keys.command("create")
def create(
    customer: str = typer.Option(..., "--customer", help="Stripe customer id the key belongs to."),
    name: str = typer.Option(None, help="A label, e.g. 'laptop'."),
) -> None:
    """Create a key and print it once; only its hash is kept."""
    with open_ledger() as ledger:
        key = ledger.create_key(customer, name=name)
    console.print(f"key id: {key.key_id}")
    console.print("API key (shown once, store it now):")
    # Plain print: the token must not be wrapped or styled by rich.
    print(key.token)


@keys.command("list")
def list_(customer: str = typer.Option(None, "--customer", help="Only this customer's keys.")) -> None:
    """List keys (ids and status only, never the secrets)."""
    with open_ledger() as ledger:
        rows = ledger.keys(customer)
    table = Table("key id", "customer", "name", "created", "status")
    for k in rows:
        table.add_row(k.key_id, k.customer_id, k.name or "", k.created_at, "active" if k.active else f"revoked {k.revoked_at}")
    console.print(table)


@keys.command("revoke")
def revoke(key_id: str = typer.Argument(..., help="The key id (umk_…), as `keys list` shows it.")) -> None:
    """Revoke a key; requests with it are refused from now on."""
    with open_ledger() as ledger:
        k = ledger.revoke_key(key_id)
    console.print(f"revoked {k.key_id} ({k.customer_id})")


def register(app: typer.Typer) -> None:
    app.add_typer(keys, name="keys")
