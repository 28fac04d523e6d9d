"""``unifiedmcp report``: run the report notebooks for a month and publish them as offline HTML."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from .._files import writing
from ..errors import WarehouseError
from ._common import console, err_console, parse_month, settings, tiers

__all__ = ["register"]

_SAMPLE = Path("data") / "sample"


def _build_demo() -> None:
    """Build the demo warehouse as ``unifiedmcp demo build`` does, with its defaults."""
    from ..demo import build_demo

    s = settings()
    err_console.print(f"report: no warehouse at {s.warehouse}; building the demo data first", style="bold")
    result = build_demo(warehouse=s.warehouse, usage_file=s.data_dir / "demo" / "usage.csv", progress=True,
                        ledger=s.ledger_file if s.ledger_file and not s.ledger_file.exists() else None,
                        on_stage=lambda stage: err_console.print(f"{stage}…", style="dim"))
    err_console.print(f"demo warehouse ready: {result.customers} customers, {result.months[0]} to "
                      f"{result.months[-1]} ({result.seconds:.1f} s)", highlight=False)


def _data_source(warehouse: Path | None, *, latest: bool) -> Path:
    if warehouse is not None:
        return warehouse
    path = settings().warehouse
    if path.exists():
        return path
    if latest:
        _build_demo()
        if path.exists():
            return path
    raise WarehouseError(
        f"no warehouse at {path}: run `unifiedmcp demo build` (or `make report`), load data with "
        f"`unifiedmcp warehouse load-stripe`, or pass --warehouse (a .duckdb file or an export directory "
        f"such as {_SAMPLE})",
        path=path,
    )


def report(
    month: str | None = typer.Option(None, "--month", help="Report month as YYYY-MM (UTC)."),
    out: Path = typer.Option(Path("reports"), "--out", help="Output folder; the month's reports go to OUT/<month>/."),
    latest: bool = typer.Option(
        False, "--latest",
        help="Report the latest complete month of the data (when --month is not given); build the demo "
             "warehouse first if there is none.",
    ),
    warehouse: Path | None = typer.Option(
        None, "--warehouse", help="A DuckDB warehouse file or an export directory (default: the configured warehouse)."
    ),
    ledger: Path | None = typer.Option(
        None, "--ledger", help="Ledger with the webhook event log for the ops report (default: the configured ledger)."
    ),
    currency: str = typer.Option("usd", "--currency", help="Report currency."),
    convention: str = typer.Option("stripe", "--convention", help="Subscriber churn convention: stripe or chartmogul."),
    parallel: int | None = typer.Option(None, "--parallel", min=1, help="Notebooks run at once (default: one per core)."),
) -> None:
    """Run the report notebooks with papermill and publish offline HTML with an index page."""
    from .. import reports

    m = parse_month(month)
    if m is None and not latest:
        raise typer.BadParameter("give --month YYYY-MM or --latest", param_hint="--month")
    with writing(out):  # an unwritable --out fails here, in plain words, before any notebook runs
        out.mkdir(parents=True, exist_ok=True)
    source = _data_source(warehouse, latest=latest)
    if m is None:
        m = reports.latest_complete_month(source)
    if ledger is None and settings().ledger_file and settings().ledger_file.exists():
        ledger = settings().ledger_file
    console.print(f"Running the reports for {m} from {source} ...")
    run = reports.run_reports(
        m, out_dir=out, warehouse=source, ledger=ledger, parallel=parallel, currency=currency.lower(),
        convention=convention, tiers=tiers(),
    )
    table = Table(title=f"Reports {m}", header_style="bold")
    table.add_column("report")
    table.add_column("html")
    table.add_column("seconds", justify="right")
    for r in run.notebooks:
        table.add_row(r.name, str(r.html), f"{r.seconds:.1f}")
    console.print(table)
    for h in run.headline:
        console.print(f"  {h.label}: {h.value}")
    console.print(f"Published {run.index} in {run.seconds:.1f} s")


def register(app: typer.Typer) -> None:
    app.command("report")(report)
