"""``unifiedmcp warehouse``: load Stripe exports and usage logs, pull usage from the ledger, sync."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from ._common import console, err_console, open_ledger, settings

app_ = typer.Typer(
    help="The DuckDB warehouse (UNIFIEDMCP_WAREHOUSE): load Stripe JSON Lines and usage logs, pull, sync.",
    no_args_is_help=True,
)

_SHOW = 10  # rejected lines / truncated ids printed per file


@app_.command("load-stripe")
def load_stripe(
    directory: Path = typer.Argument(..., help="Directory of <type>s.jsonl files (customers.jsonl, invoices.jsonl, ...)."),
    as_json: bool = typer.Option(False, "--json", help="Print the load report as JSON."),
) -> None:
    """Load Stripe objects from JSON Lines; re-loading an id replaces it (idempotent)."""
    from .. import warehouse as wh  # imported per command: duckdb only when needed

    result = wh.load_stripe(settings().warehouse, directory)
    if as_json:
        print(json.dumps(result.as_dict(), indent=2))
        return
    table = Table("object", "file", "loaded", "replaced", "stale", "rejected", "truncated lists")
    for f in result.files:
        table.add_row(f.object_type, f.path.name, str(f.loaded), str(f.replaced), str(f.stale),
                      str(f.rejected), str(f.truncated_count))
    table.add_row("total", "", str(result.loaded), str(result.replaced), str(result.stale),
                  str(result.rejected), str(result.truncated), style="bold")
    console.print(table)
    for f in result.files:
        for line, reason in f.rejected_lines[:_SHOW]:
            err_console.print(f"rejected {f.path.name}:{line}: {reason}", markup=False, highlight=False)
        if f.rejected > _SHOW:
            err_console.print(f"… {f.rejected - _SHOW} more rejected lines in {f.path.name} (table stripe_rejects)")
        if f.truncated_count:
            shown = ", ".join(f.truncated[:_SHOW]) + (" …" if f.truncated_count > _SHOW else "")
            err_console.print(
                f"truncated lists (has_more: true) in {f.truncated_count} {f.object_type}(s): {shown}",
                markup=False, highlight=False,
            )
    console.print(f"loaded {result.loaded}, replaced {result.replaced}, rejected {result.rejected} "
                  f"into {settings().warehouse}", highlight=False)


@app_.command("load-usage")
def load_usage(
    file: Path = typer.Argument(..., help="Usage log: .csv, .jsonl or .parquet."),
    fmt: str = typer.Option(None, "--format", help="csv, jsonl or parquet (default: from the file name)."),
    as_json: bool = typer.Option(False, "--json", help="Print the load report as JSON."),
) -> None:
    """Load a usage log; malformed rows are counted and listed with their line numbers."""
    from .. import warehouse as wh  # imported per command: duckdb only when needed

    r = wh.load_usage(settings().warehouse, file, format=fmt)
    if as_json:
        print(json.dumps(r.as_dict(), indent=2))
        return
    for line, reason in r.malformed_rows[:_SHOW]:
        err_console.print(f"malformed {file.name}:{line}: {reason}", markup=False, highlight=False)
    if r.malformed > _SHOW:
        err_console.print(f"… {r.malformed - _SHOW} more malformed rows (table usage_rejects)")
    console.print(
        f"{r.rows} rows: loaded {r.loaded}, duplicates {r.duplicates}, malformed {r.malformed} "
        f"({r.seconds:.2f} s, {r.rows_per_second:,.0f} rows/s)", highlight=False,
    )


@app_.command("pull-usage")
def pull_usage(
    ledger: Path = typer.Option(None, "--ledger", help="Ledger SQLite file (default: UNIFIEDMCP_LEDGER)."),
) -> None:
    """Copy new usage events from the ledger (incremental by its seq watermark)."""
    from .. import warehouse as wh  # imported per command: duckdb only when needed

    if ledger is None and settings().ledger_file is None:  # a PostgreSQL ledger: read through Ledger
        with open_ledger() as led:

            def read(after_seq: int, limit: int) -> list[tuple]:  # latency_ms and user_id as the warehouse orders them
                return [(*r[:6], r[7], r[6], r[8]) for r in led.usage_events(after_seq=after_seq, limit=limit)]

            r = wh.pull_usage(settings().warehouse, ledger=led.location, read=read)
    else:
        r = wh.pull_usage(settings().warehouse, ledger=ledger or settings().ledger)
    console.print(
        f"pulled {r.rows} rows from {r.ledger}: loaded {r.loaded}, duplicates {r.duplicates}, "
        f"malformed {r.malformed}; watermark seq {r.watermark}", highlight=False,
    )


@app_.command("sync")
def sync(
    full: bool = typer.Option(False, "--full", help="Ignore the stored cursors and fetch everything again."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Sync Stripe objects from the API (STRIPE_API_KEY, STRIPE_API_BASE): full, then incremental."""
    from .. import warehouse as wh  # imported per command: duckdb only when needed

    from ..billing import build_client

    s = settings()
    client = build_client(s, max_network_retries=0)  # the sync retries 429s itself, with back-off
    result = wh.sync(s.warehouse, client=client, full=full, progress=progress)
    table = Table("object", "fetched", "loaded", "replaced", "mode")
    for name, part in result.parts.items():
        table.add_row(name, str(part.fetched), str(part.loaded), str(part.replaced), part.mode)
    console.print(table)
    console.print(f"synced {result.fetched} objects into {s.warehouse} ({result.requests} requests, "
                  f"{result.retries} retries after 429)", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(app_, name="warehouse")
