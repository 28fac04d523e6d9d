"""``unifiedmcp privacy export|erase|new-key`` and ``unifiedmcp retention apply`` (docs/privacy.md).

What these print names the customer by its pseudonym only: the operator typed the id, and these
lines end up in logs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..config import config_file_path, load_config_file
from ._common import console, open_ledger, operator_client, settings

if TYPE_CHECKING:
    from ..ledger import Ledger
    from ..privacy import Places

privacy = typer.Typer(help="Export or erase a customer's data in every store (docs/privacy.md).",
                      no_args_is_help=True)
# "\\[": Rich would read "[section]" as a style tag and print nothing.
retention = typer.Typer(help="Roll up or remove records past the \\[retention] periods (docs/privacy.md).",
                        no_args_is_help=True)

_REPORTS = typer.Option(Path("reports"), "--reports", help="The published reports folder (report --out).")
#: Exit code of an erasure that is done while files the toolkit does not own still name the customer.
LEFTOVERS_EXIT = 3


def _places(ledger: Ledger, reports: Path) -> Places:
    from ..privacy import Places

    s = settings()
    return Places(ledger=ledger, warehouse=s.warehouse, data_dir=s.data_dir, reports_dir=reports)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{place} {n:,}" for place, n in sorted(counts.items())) or "nothing"


@privacy.command("export")
def export(
    customer: str = typer.Option(..., "--customer", help="The customer id (cus_…)."),
    out: Path = typer.Option(..., "--out", help="The zip archive to write (JSON and CSV, with a manifest)."),
    reports: Path = _REPORTS,
) -> None:
    """Write everything held about a customer to a zip archive (mode 0600).

    JSON and CSV per store and table, with a manifest; never key hashes, credentials or tokens.
    """
    from ..privacy import export_customer

    with open_ledger() as ledger:
        result = export_customer(customer, places=_places(ledger, reports), out=out)
    rows = sum(result.places.values())
    console.print(f"exported {rows:,} records from {sum(1 for n in result.places.values() if n)} places to {out}",
                  highlight=False)


@privacy.command("erase")
def erase(
    customer: str = typer.Option(..., "--customer", help="The customer id (cus_…)."),
    in_stripe: bool = typer.Option(False, "--stripe", help="Also delete the customer in Stripe (STRIPE_API_KEY)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would change; change nothing."),
    reports: Path = _REPORTS,
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
) -> None:
    """Erase a customer's personal data everywhere; keep accounting records under a pseudonym.

    Needs UNIFIEDMCP_PSEUDONYM_KEY (privacy new-key). Safe to run again, also after a crash. Exit 3:
    erased, but files the toolkit does not own (backups, exports) still name the customer: listed.
    """
    from ..privacy import Pseudonyms, erase_customer

    pseudonyms = Pseudonyms(settings().pseudonym_key)  # no key: refused before anything is read
    client = operator_client() if in_stripe and not dry_run else None

    def step(name: str, counts: dict[str, int]) -> None:
        if not as_json:
            console.print(f"{name}: {_counts(counts) if name not in ('stripe', 'done') else 'done'}", highlight=False)
            sys.stdout.flush()  # a supervisor (or a test) follows the steps as they happen

    with open_ledger() as ledger:
        result = erase_customer(customer, places=_places(ledger, reports), pseudonyms=pseudonyms,
                                stripe_client=client, dry_run=dry_run, on_step=step)
    if as_json:
        print(json.dumps(result.as_dict(), indent=2))
    elif result.outcome == "dry_run":
        console.print(f"dry run: the customer would become {result.pseudonym}; nothing changed", highlight=False)
        for store, counts in result.found.items():
            console.print(f"  {store}: {_counts(counts)}", highlight=False)
    elif result.outcome == "already_erased":
        console.print(f"already erased ({result.erasure_id}, as {result.pseudonym}); nothing changed", highlight=False)
    else:
        resumed = " (resumed)" if result.resumed else ""
        stripe = f"; Stripe: {result.stripe}" if result.stripe else ""
        console.print(f"erased{resumed}: {result.erasure_id}, now {result.pseudonym}{stripe}", highlight=False)
    if result.leftovers and not as_json:
        console.print(f"{len(result.leftovers)} file(s) outside the toolkit's stores still name the customer; "
                      "delete them:", highlight=False)
        for path in result.leftovers:
            console.print(f"  {path}", highlight=False)
    if result.leftovers:
        raise typer.Exit(LEFTOVERS_EXIT)


@privacy.command("new-key")
def new_key() -> None:
    """Print a new UNIFIEDMCP_PSEUDONYM_KEY (set it once; changing it changes future pseudonyms)."""
    from ..privacy import new_pseudonym_key

    print(new_pseudonym_key())


@retention.command("apply")
def apply(
    dry_run: bool = typer.Option(False, "--dry-run", help="Count what would be removed; change nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Roll up old usage events, purge old webhook payloads and rejected-delivery counts.

    Periods come from the settings file's \\[retention] section (docs/privacy.md lists them and their
    defaults); the metrics of every month stay the same.
    """
    from ..privacy import apply_retention

    s = settings()
    policy = load_config_file(config_file_path(s.config_file)).retention  # a bad period: refused here
    with open_ledger() as ledger:
        result = apply_retention(policy=policy, ledger=ledger, warehouse=s.warehouse, dry_run=dry_run)
    if as_json:
        print(json.dumps(result.as_dict(), indent=2))
        return
    lead = "dry run, nothing changed: would remove" if dry_run else "removed"
    console.print(f"retention ({lead}): usage before {result.usage_before:%Y-%m-%d}, webhook payloads before "
                  f"{result.payloads_before:%Y-%m-%d %H:%M}, rejected deliveries before "
                  f"{result.rejections_before:%Y-%m-%d %H:%M} (UTC)", highlight=False)
    for store, counts in (("ledger", result.ledger), ("warehouse", result.warehouse)):
        console.print(f"  {store}: {_counts(counts)}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(privacy, name="privacy")
    app.add_typer(retention, name="retention")
