"""``unifiedmcp billing push-usage | reconcile``: overage billed through Stripe Billing Meters."""

from __future__ import annotations

import json
import time

import typer
from rich.table import Table

from ..months import Month
from ._common import MONTH_HELP, console, err_console, open_ledger, operator_client, tiers

billing = typer.Typer(help="Usage billing: report paying customers' calls to Stripe meters, reconcile.",
                      no_args_is_help=True)


@billing.command("push-usage")
def push_usage(
    once: bool = typer.Option(False, "--once", help="Stage and send what there is, then exit."),
    interval: float = typer.Option(10.0, "--interval", min=0.1, help="Seconds between runs (without --once)."),
    retry_failed: bool = typer.Option(
        False, "--retry-failed", help="First make events Stripe refused pending again (after fixing the cause)."
    ),
    concurrency: int = typer.Option(8, "--concurrency", min=1, help="Customers whose events are sent at once."),
    grace: float = typer.Option(
        600.0, "--grace", min=0, help="Seconds an unfinished call may hold back the calls after it."
    ),
) -> None:
    """Report billable calls of paying customers as meter events (from the ledger's outbox)."""
    from ..billing import UsagePusher

    from ..billing import METER_EVENT

    with open_ledger() as ledger:
        if retry_failed:
            count = ledger.retry_failed_meter_events(event_name=METER_EVENT)
            err_console.print(f"{count} failed event(s) made pending again", highlight=False)
        pusher = UsagePusher(ledger, operator_client(max_network_retries=0), tiers=tiers(), grace_seconds=grace,
                             concurrency=concurrency)
        while True:
            result = pusher.run_once()
            err_console.print(
                f"staged {result.staged_rows} usage row(s) into {result.staged_events} event(s); sent "
                f"{result.sent} event(s) ({result.calls_sent} call(s)); failed {result.failed}; "
                f"pending {result.pending}",
                highlight=False,
            )
            for error in result.errors:
                err_console.print(f"refused: {error}", highlight=False)
            if once:
                if result.failed:
                    raise typer.Exit(1)
                return
            time.sleep(interval)


@billing.command("reconcile")
def reconcile_cmd(
    month: str = typer.Option(..., "--month", help=MONTH_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Ledger calls against Stripe's meter and invoices for a month; exit 1 on an unexplained difference."""
    from ..billing import reconcile

    with open_ledger() as ledger:
        report = reconcile(ledger, operator_client(max_network_retries=1), Month.parse(month), tiers=tiers())
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        table = Table("customer", "ledger calls", "overage calls", "sent", "pending", "failed", "Stripe has",
                      "invoiced", "expected", "difference", title=f"usage billing {report.month}")
        for c in report.customers:
            table.add_row(
                c.customer, f"{c.ledger_calls:,}", f"{c.overage_calls:,}", f"{c.sent_calls:,}", f"{c.pending_calls:,}",
                f"{c.failed_calls:,}", f"{c.stripe_calls:,}", f"{c.invoiced_amount / 100:.2f}",
                f"{c.expected_invoiced_amount / 100:.2f}", "; ".join(c.unexplained) or "none",
            )
        console.print(table)
    if not report.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(billing, name="billing")
