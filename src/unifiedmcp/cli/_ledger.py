"""``unifiedmcp ledger``: exports and the demo ledger."""

from __future__ import annotations

from pathlib import Path

import typer

from ..ledger import Ledger, export_usage
from ..ledger.demo import build_demo_ledger
from ..months import Month
from ._common import console, err_console, open_ledger, parse_month, settings, tiers
from ._usage import print_usage

ledger_app = typer.Typer(help="The operational ledger (SQLite).", no_args_is_help=True)


@ledger_app.command("export-usage")
def export(
    month: str = typer.Option(..., "--month", help="Month as YYYY-MM (UTC)."),
    format: str = typer.Option("csv", "--format", help="csv, jsonl or parquet."),
    out: Path = typer.Option(None, "--out", help="Output file (default: stdout; parquet needs a file)."),
) -> None:
    """Export a month's usage events in the usage-log format (metrics.md §1)."""
    m = parse_month(month)
    with open_ledger() as ledger:
        n = export_usage(ledger, month=m, format=format, out=out)
    if out:
        err_console.print(f"wrote {n:,} usage events to {out}")


@ledger_app.command("demo")
def demo(
    month: str = typer.Option(None, "--month", help="Month of the demo usage (default: the current month)."),
    seed: int = typer.Option(7, help="Random seed (the demo is deterministic for a seed)."),
) -> None:
    """Create a small demo ledger (DATA_DIR/demo-ledger.sqlite3) and print its usage summary."""
    m = parse_month(month) or Month.current()
    path = settings().data_dir / "demo-ledger.sqlite3"
    with Ledger(path, tiers=tiers()) as ledger:
        n = build_demo_ledger(ledger, month=m, seed=seed)
        console.print(f"demo ledger {path}: {n:,} metered calls in {m}")
        print_usage(ledger, customer=None, month=m)


def register(app: typer.Typer) -> None:
    app.add_typer(ledger_app, name="ledger")
