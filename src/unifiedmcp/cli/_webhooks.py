"""``unifiedmcp webhooks list [--failed]`` and ``unifiedmcp webhooks replay EVENT_ID | --failed``."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.table import Table

from ..billing import build_client, rejected_deliveries, replay_events, webhook_events
from ..errors import InvalidInput
from ._common import console, open_ledger, settings, tiers

webhooks = typer.Typer(help="The Stripe webhook event log: list and replay.", no_args_is_help=True)


def _when(created: int) -> str:
    return datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%d %H:%M:%S")


@webhooks.command("list")
def list_(
    failed: bool = typer.Option(False, "--failed", help="Only events whose handler failed."),
    limit: int = typer.Option(50, "--limit", min=1, help="At most this many (newest first)."),
) -> None:
    """Received events, newest first, with their processing status; and rejected deliveries."""
    with open_ledger() as ledger:
        rows = webhook_events(ledger, status="failed" if failed else None, limit=limit)
        rejected = rejected_deliveries(ledger)
    table = Table("event", "type", "created", "status", "attempts", "note / error",
                  title="failed webhook events" if failed else "webhook events")
    for e in rows:
        table.add_row(e.event_id, e.type, _when(e.created), e.status, str(e.attempts), e.error or e.note or "")
    console.print(table)
    if rejected and not failed:
        total = sum(rejected.values())
        detail = ", ".join(f"{k} {v}" for k, v in rejected.items())
        console.print(f"rejected deliveries: {total} ({detail})", markup=False, highlight=False)


@webhooks.command("replay")
def replay(
    event_id: list[str] = typer.Argument(None, help="Event id(s) to re-apply."),
    failed: bool = typer.Option(False, "--failed", help="Re-apply every failed event."),
    refetch: bool = typer.Option(
        False, "--refetch", help="Let the receiver re-fetch objects from Stripe to order same-second events."
    ),
) -> None:
    """Re-apply stored events (oldest first) and print each outcome; exit 1 if one still fails."""
    if not event_id and not failed:
        raise InvalidInput("give EVENT_ID(s) or --failed")
    client = build_client(settings()) if refetch else None
    with open_ledger() as ledger:
        outcomes = replay_events(ledger, event_id or (), failed=failed, client=client, tiers=tiers())
    table = Table("event", "type", "status", "note / error")
    for o in outcomes:
        table.add_row(o.event_id, o.type, o.status, o.error or o.note or "")
    console.print(table)
    if not outcomes:
        console.print("nothing to replay")
    if any(not o.ok for o in outcomes):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(webhooks, name="webhooks")
