"""``unifiedmcp demo build``: a demo warehouse from a simulated SaaS on the local sandbox."""

from __future__ import annotations

import typer

from ..months import Month
from ._common import console, settings

app_ = typer.Typer(help="Demo data: a simulated SaaS on the local sandbox, synced into the warehouse.",
                   no_args_is_help=True)


@app_.command("build")
def build(
    customers: int = typer.Option(60, "--customers", min=1, help="Number of customers."),
    months: int = typer.Option(6, "--months", min=1, help="Months of history, ending where this month starts."),
    seed: int = typer.Option(7, "--seed", help="Random seed: the same seed gives the same numbers."),
    first_month: str = typer.Option(None, "--first-month", help="First month YYYY-MM (default: MONTHS ago)."),
    replace: bool = typer.Option(False, "--replace", help="Replace an existing warehouse."),
) -> None:
    """Drive the sandbox with a test clock through M months, sync it, and add usage events."""
    from ..demo import build_demo

    s = settings()
    result = build_demo(
        warehouse=s.warehouse, usage_file=s.data_dir / "demo" / "usage.parquet", customers=customers, months=months,
        seed=seed, first_month=Month.parse(first_month) if first_month else None, replace=replace, progress=True,
        # A fresh installation's ledger gets the demo's webhooks; an existing one is never touched.
        ledger=s.ledger_file if s.ledger_file and not s.ledger_file.exists() else None,
        on_stage=lambda stage: console.print(f"{stage}…", style="dim"),
    )
    console.print(
        f"demo warehouse {result.warehouse}: {result.customers} customers, months {result.months[0]} to "
        f"{result.months[-1]}, {result.usage_events:,} usage events ({result.seconds:.1f} s)", highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(app_, name="demo")
