"""``unifiedmcp subscribe | change-tier | cancel | portal | catalog ensure``: the subscription flows."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table

from ..billing import (
    SubscriptionResult,
    build_client,
    cancel,
    change_tier,
    checkout,
    ensure_catalog,
    portal_session,
    subscribe,
)
from ._common import console, open_ledger, settings, tiers

catalog = typer.Typer(help="The tiers' Stripe products and prices.", no_args_is_help=True)

_JSON_HELP = "Print JSON instead of a table."
_KEY_HELP = "Idempotency key (default: derived from the operation and its arguments)."


def _client():  # type: ignore[no-untyped-def]
    return build_client(settings())


def _print(result: SubscriptionResult, *, as_json: bool, show_secret: bool = False) -> None:
    data: dict[str, Any] = result.public()
    if show_secret:
        data["client_secret"] = result.client_secret
    if as_json:
        console.print_json(json.dumps(data))
        return
    table = Table("field", "value", title=f"subscription {result.subscription_id}")
    for k, v in data.items():
        table.add_row(k, "" if v is None else str(v))
    console.print(table)


def subscribe_cmd(
    email: str = typer.Argument(..., help="The customer's email (found or created)."),
    tier: str = typer.Argument(..., help="Paid tier: pro or enterprise."),
    payment_method: str = typer.Option(
        None, "--payment-method", help="Confirm the first payment now (test mode: pm_card_visa)."
    ),
    trial_days: int = typer.Option(None, "--trial-days", min=1, help="Start with a trial."),
    show_client_secret: bool = typer.Option(
        False, "--show-client-secret", help="Print the payment's client secret (for a front end)."
    ),
    use_checkout: bool = typer.Option(
        False, "--checkout", help="Print a Checkout URL where the customer pays (promotion codes accepted) instead."
    ),
    success_url: str = typer.Option(None, "--success-url", help="With --checkout: where Checkout sends the customer after paying."),
    cancel_url: str = typer.Option(None, "--cancel-url", help="With --checkout: where its back link leads."),
    idempotency_key: str = typer.Option(None, "--idempotency-key", help=_KEY_HELP),
    as_json: bool = typer.Option(False, "--json", help=_JSON_HELP),
) -> None:
    """Subscribe a customer to a tier (incomplete until its first payment is confirmed), or with
    --checkout print the URL of a Checkout page where the customer subscribes by paying."""
    tiers()[tier]
    if use_checkout:
        if payment_method or show_client_secret:
            raise typer.BadParameter("--checkout takes the payment on its page: drop --payment-method/--show-client-secret")
        session = checkout(
            _client(), email, tier, success_url=success_url, cancel_url=cancel_url, trial_days=trial_days, tiers=tiers(),
            idempotency_key=idempotency_key,
        )
        if as_json:
            console.print_json(json.dumps(session.__dict__))
        else:
            console.print(session.url, markup=False, highlight=False, soft_wrap=True)
        return
    result = subscribe(
        _client(), email, tier, payment_method=payment_method, trial_days=trial_days, tiers=tiers(),
        idempotency_key=idempotency_key,
    )
    _print(result, as_json=as_json, show_secret=show_client_secret)


def change_tier_cmd(
    customer: str = typer.Argument(..., help="Customer id (cus_...) or email."),
    tier: str = typer.Argument(..., help="The new paid tier."),
    proration: str = typer.Option(
        "create_prorations", "--proration", help="create_prorations | always_invoice | none."
    ),
    at_period_end: bool = typer.Option(
        False, "--at-period-end", help="Change when the current period ends (a subscription schedule; no proration)."
    ),
    idempotency_key: str = typer.Option(None, "--idempotency-key", help=_KEY_HELP),
    as_json: bool = typer.Option(False, "--json", help=_JSON_HELP),
) -> None:
    """Move a customer's subscription to another tier, with proration, or at the period's end.

    An immediate change pushes the usage recorded so far to Stripe's meter first: Stripe bills the
    old price's usage up to the change and ignores events that arrive later dated before it."""
    tiers()[tier]
    client = _client()
    if not at_period_end:
        _push_usage_now(client)
    result = change_tier(
        client, customer, tier, proration=proration, at_period_end=at_period_end, tiers=tiers(),  # type: ignore[arg-type]
        idempotency_key=idempotency_key,
    )
    _print(result, as_json=as_json)


def _push_usage_now(client) -> None:  # type: ignore[no-untyped-def]
    from ..billing import UsagePusher

    with open_ledger() as ledger:
        result = UsagePusher(ledger, client, tiers=tiers()).run_once()
    if result.pending or result.failed:
        console.print(
            f"note: {result.pending} usage event(s) still pending and {result.failed} refused; "
            "see `unifiedmcp billing reconcile`", highlight=False,
        )


def cancel_cmd(
    customer: str = typer.Argument(..., help="Customer id (cus_...) or email."),
    now: bool = typer.Option(False, "--now", help="Cancel immediately instead of at the period's end."),
    reason: str = typer.Option(None, "--reason", help="Feedback (e.g. too_expensive) or a comment."),
    idempotency_key: str = typer.Option(None, "--idempotency-key", help=_KEY_HELP),
    as_json: bool = typer.Option(False, "--json", help=_JSON_HELP),
) -> None:
    """Cancel a customer's subscription (default: at the end of the current period)."""
    result = cancel(
        _client(), customer, at_period_end=not now, reason=reason, tiers=tiers(), idempotency_key=idempotency_key
    )
    _print(result, as_json=as_json)


def portal_cmd(
    customer: str = typer.Argument(..., help="Customer id (cus_...) or email."),
    return_url: str = typer.Option(..., "--return-url", help="Where the portal sends the customer back."),
    as_json: bool = typer.Option(False, "--json", help=_JSON_HELP),
) -> None:
    """Create a billing-portal session and print its URL."""
    session = portal_session(_client(), customer, return_url)
    if as_json:
        console.print_json(json.dumps(session.__dict__))
    else:
        console.print(session.url, markup=False, highlight=False, soft_wrap=True)


@catalog.command("ensure")
def catalog_ensure(as_json: bool = typer.Option(False, "--json", help=_JSON_HELP)) -> None:
    """Create the paid tiers' products and prices if missing (idempotent, by lookup key)."""
    with open_ledger() as ledger:  # records the prices: the only ones that grant a tier
        entries = ensure_catalog(_client(), tiers=tiers(), ledger=ledger)
    if as_json:
        console.print_json(json.dumps([e.__dict__ for e in entries]))
        return
    table = Table("tier", "lookup key", "price", "product", "amount", "created")
    for e in entries:
        if e.metered:
            t = tiers()[e.tier]
            amount = f"{t.overage_per_call:g} {e.currency} cents per call past {t.monthly_api_calls:,} (metered)"
        else:
            amount = f"{e.unit_amount / 100:.2f} {e.currency}"
        table.add_row(e.tier, e.lookup_key, e.price_id, e.product_id, amount, "yes" if e.created else "no")
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("subscribe")(subscribe_cmd)
    app.command("change-tier")(change_tier_cmd)
    app.command("cancel")(cancel_cmd)
    app.command("portal")(portal_cmd)
    app.add_typer(catalog, name="catalog")
