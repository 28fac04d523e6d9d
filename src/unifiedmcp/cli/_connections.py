"""``unifiedmcp connections``: customers' connected accounts (their own Stripe accounts, and others).

A customer's Stripe tools act on the accounts connected here, never on the operator's account:
through Stripe Connect OAuth (``connect``, then the customer approves on Stripe and lands on
``unifiedmcp serve``'s ``/oauth/stripe/callback``) or with a key the customer supplies (``add
--api-key-env VAR``: the key is read from that environment variable, never from the command line,
checked with one read call and stored encrypted under ``UNIFIEDMCP_SECRET_KEY``).
"""

from __future__ import annotations

import os

import typer
from rich.table import Table

from ..errors import InvalidInput
from ._common import console, err_console, open_ledger, operator_client, settings

connections = typer.Typer(help="Customers' connected accounts, capped per tier (free: 1).", no_args_is_help=True)

_STRIPE = "stripe"


def _cipher():  # type: ignore[no-untyped-def]
    from ..accounts import CredentialCipher

    return CredentialCipher(settings().secret_key)  # SecretKeyMissing: one clear line


def _operator_account(client) -> str | None:  # type: ignore[no-untyped-def]
    from ..accounts import operator_account_id

    return operator_account_id(client) if client is not None else None


@connections.command("connect")
def connect(
    customer: str = typer.Option(..., "--customer", help="The customer whose own Stripe account is connected."),
    provider: str = typer.Option(_STRIPE, "--provider", help="Only stripe (Stripe Connect OAuth)."),
    base_url: str = typer.Option(
        "http://127.0.0.1:8788", "--base-url", envvar="UNIFIEDMCP_BASE_URL",
        help="Public URL of `unifiedmcp serve` (the redirect lands on its /oauth/stripe/callback).",
    ),
) -> None:
    """Print the Stripe authorization link for a customer (its last line); valid once, for 10 minutes."""
    from ..accounts import STATE_TTL, authorize_url

    if provider != _STRIPE:
        raise InvalidInput(f"only the stripe provider connects through OAuth here, not {provider!r}")
    _cipher()  # without a secret key the grant could not be stored: say so now, not after consent
    with open_ledger() as ledger:
        url = authorize_url(ledger, operator_client(), customer=customer, settings=settings(), base_url=base_url)
    minutes = int(STATE_TTL.total_seconds() // 60)
    err_console.print(
        f"Open this link as {customer} and approve; it works once, within {minutes} minutes, and returns to "
        f"{base_url.rstrip('/')}/oauth/stripe/callback (keep `unifiedmcp serve` running there):",
        markup=False, highlight=False,
    )
    print(url, flush=True)  # plain: the last line is the URL, unwrapped


@connections.command("add")
def add(
    customer: str = typer.Option(..., "--customer", help="Customer id."),
    provider: str = typer.Option(..., "--provider", help="stripe (with --api-key-env), or another provider's name."),
    api_key_env: str = typer.Option(
        None, "--api-key-env", help="Name of the environment variable holding the customer's Stripe key (rk_test_…)."
    ),
    account: str = typer.Option("", "--account", help="Account at another provider (a record only)."),
) -> None:
    """Add a connection; refused past the tier's cap (free: 1)."""
    with open_ledger() as ledger:
        if provider == _STRIPE:
            if not api_key_env:
                raise InvalidInput(
                    "a stripe connection needs --api-key-env VAR (a key the customer supplies) or "
                    "`unifiedmcp connections connect` (Stripe Connect OAuth)"
                )
            if account:
                raise InvalidInput("--account is read from the key itself for stripe connections")
            key = os.environ.get(api_key_env, "").strip()
            if not key:
                raise InvalidInput(f"environment variable {api_key_env} is not set or empty")
            from ..accounts import connect_api_key

            c = connect_api_key(
                ledger, customer=customer, key=key, settings=settings(), cipher=_cipher(),
                operator_account=_operator_account(operator_client(required=False)),
            )
        else:
            if api_key_env:
                raise InvalidInput("--api-key-env is for stripe connections only")
            c = ledger.add_connection(customer, provider, account=account)
    console.print(f"added {c.connection_id}: {c.customer_id} → {' '.join(filter(None, (c.provider, c.account)))} ({c.kind})")


@connections.command("list")
def list_(customer: str = typer.Option(..., "--customer", help="Customer id.")) -> None:
    """List a customer's connections (never their credentials)."""
    with open_ledger() as ledger:
        rows = ledger.connections(customer)
    table = Table("connection", "provider", "account", "kind", "created")
    for c in rows:
        table.add_row(c.connection_id, c.provider, c.account, c.kind, c.created_at)
    console.print(table)


@connections.command("remove")
def remove(connection_id: str = typer.Argument(..., help="The connection id (conn_…).")) -> None:
    """Remove a connection; a Stripe Connect one is deauthorized at Stripe first."""
    from ..accounts import disconnect

    with open_ledger() as ledger:
        c = ledger.connection(connection_id)
        client = operator_client() if (c.provider == _STRIPE and c.kind == "oauth") else None
        disconnect(ledger, client, connection_id)
    console.print(f"removed {connection_id} ({' '.join(filter(None, (c.provider, c.account)))})")


@connections.command("rotate-keys")
def rotate_keys() -> None:
    """Re-encrypt every stored credential under the first key of UNIFIEDMCP_SECRET_KEY."""
    cipher = _cipher()
    with open_ledger() as ledger:
        count = ledger.reencrypt_credentials(lambda cid, token: cipher.rotate(token, connection_id=cid))
    console.print(f"re-encrypted {count} credential(s) under the first of {cipher.key_count} key(s)")


@connections.command("new-secret-key")
def new_secret_key() -> None:
    """Print a fresh key for UNIFIEDMCP_SECRET_KEY (to rotate: put it first, then rotate-keys)."""
    from ..accounts import new_secret_key as make

    print(make())


def register(app: typer.Typer) -> None:
    app.add_typer(connections, name="connections")
