"""``unifiedmcp oauth clients list|revoke``: the OAuth clients of the MCP server's authorization server."""

from __future__ import annotations

import typer
from rich.table import Table

from ._common import console, open_ledger

oauth = typer.Typer(help="The MCP server's OAuth authorization server.", no_args_is_help=True)
clients = typer.Typer(help="OAuth clients (registered, or known by their metadata document).", no_args_is_help=True)
oauth.add_typer(clients, name="clients")


@clients.command("list")
def list_() -> None:
    """List clients: id, kind, name, last use, live tokens and status (never a secret)."""
    with open_ledger() as ledger:
        rows = ledger.oauth.clients()
    table = Table("client id", "kind", "name", "created", "last authorized", "live tokens", "status")
    for c in rows:
        status = "active" if c.active else f"revoked {c.revoked_at}"
        table.add_row(c.client_id, c.kind, c.client_name or "", c.created_at, c.last_used_at or "", str(c.active_tokens), status)
    console.print(table)


@clients.command("revoke")
def revoke(client_id: str = typer.Argument(..., help="The client id, as `oauth clients list` shows it.")) -> None:
    """Revoke a client: its tokens stop working at once and it can no longer be authorized."""
    with open_ledger() as ledger:
        client = ledger.oauth.revoke_client(client_id)
    console.print(f"revoked OAuth client {client.client_id} ({client.client_name or client.kind})")


def register(app: typer.Typer) -> None:
    app.add_typer(oauth, name="oauth")
