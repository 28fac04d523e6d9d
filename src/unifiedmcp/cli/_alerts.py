"""``unifiedmcp alerts check``: the [alerts] thresholds over a month or the last hours; exit 1
when any fires, and optionally POST them to a chat webhook."""

from __future__ import annotations

import json

import typer
from rich.table import Table
from rich.text import Text

from ..config import config_file_path, load_config_file
from ._common import console, err_console, parse_month, settings

# "\\[": Rich would read "[section]" as a style tag and print nothing.
app_ = typer.Typer(help="Alerts on payments, webhooks, churn, quotas and data freshness (\\[alerts] thresholds).",
                   no_args_is_help=True)

_STYLE = {"fired": "bold red", "ok": "green", "skipped": "dim"}


@app_.command("check")
def check(
    month: str = typer.Option(None, "--month", help="Judge month YYYY-MM (as of its end, or now if earlier)."),
    since: str = typer.Option(None, "--since", help="Judge the last hours or days, e.g. 24h, 90m, 7d (default 24h)."),
    notify: str = typer.Option(None, "--notify", help="POST fired alerts as JSON (Slack-compatible) to this URL."),
    as_json: bool = typer.Option(False, "--json", help="Print every rule's verdict as JSON."),
    currency: str = typer.Option("usd", "--currency", help="Report currency of the payment numbers."),
) -> None:
    """Evaluate the alert rules; exit 1 when any fires (after notifying, with --notify)."""
    from .. import alerts  # imported here: duckdb and httpx only when needed

    if month is not None and since is not None:
        raise typer.BadParameter("give --month or --since, not both", param_hint="--since")
    m = parse_month(month)
    window = alerts.Window.month(m) if m is not None else alerts.Window.since(since or "24h")
    s = settings()
    thresholds = load_config_file(config_file_path(s.config_file)).alerts
    report = alerts.check_alerts(warehouse=s.warehouse, ledger=s.ledger, window=window, settings=thresholds,
                                 currency=currency.lower())
    if as_json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        table = Table(title=f"Alerts, {window.label}", header_style="bold")
        for col in ("rule", "status", "message"):
            table.add_column(col)
        for r in report.results:
            table.add_row(r.rule, Text(r.status, style=_STYLE[r.status]), r.message)  # style=, never markup
        console.print(table)
    if notify and report.fired:
        attempts = alerts.notify(notify, report, retries=thresholds.notify_retries,
                                 timeout=thresholds.notify_timeout_seconds,
                                 on_retry=lambda line: err_console.print(line, markup=False, highlight=False))
        err_console.print(f"notified ({len(report.fired)} alert(s), {attempts} attempt(s))", highlight=False)
    if report.fired:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(app_, name="alerts")
