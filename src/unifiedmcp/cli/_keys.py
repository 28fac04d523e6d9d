"""``unifiedmcp keys``: API keys for the MCP server's HTTP transport."""

from __future__ import annotations

import typer
from rich.table import Table

from ..errors import InvalidInput
from ._common import console, open_ledger

keys = typer.Typer(help="API keys (stored hashed; a key is shown once, at creation).", no_args_is_help=True)


@keys.command("create")
def create(
    customer: str = typer.Option(None, "--customer", help="Customer the key belongs to (reaches its own accounts)."),
    operator: bool = typer.Option(False, "--operator", help="An operator key (reaches the operator's account)."),
    name: str = typer.Option(None, help="A label, e.g. 'laptop'."),
) -> None:
    """Create a key and print it once; only its hash is kept."""
    if bool(customer) == operator:
        raise InvalidInput("give --customer CUSTOMER for a customer's key, or --operator for an operator key")
    with open_ledger() as ledger:
        key = ledger.create_key(customer, name=name, operator=operator)
    console.print(f"key id: {key.key_id} ({key.role})")
    console.print("API key (shown once, store it now):")
    # Plain print: the token must not be wrapped or styled by rich.
    print(key.token)


@keys.command("list")
def list_(
    customer: str = typer.Option(None, "--customer", help="Only this customer's keys."),
    operator: bool = typer.Option(False, "--operator", help="Only operator keys."),
) -> None:
    """List keys (ids, role and status only, never the secrets)."""
    with open_ledger() as ledger:
        rows = ledger.keys(customer, operator=operator)
    table = Table("key id", "role", "customer", "name", "created", "status")
    for k in rows:
        status = "active" if k.active else f"revoked {k.revoked_at}"
        table.add_row(k.key_id, k.role, k.customer_id or "", k.name or "", k.created_at, status)
    console.print(table)


@keys.command("revoke")
def revoke(key_id: str = typer.Argument(..., help="The key id (umk_…), as `keys list` shows it.")) -> None:
    """Revoke a key; requests with it are refused from now on."""
    with open_ledger() as ledger:
        k = ledger.revoke_key(key_id)
    console.print(f"revoked {k.key_id} ({k.customer_id or k.role})")


def register(app: typer.Typer) -> None:
    app.add_typer(keys, name="keys")
