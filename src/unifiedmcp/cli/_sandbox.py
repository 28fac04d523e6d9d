"""``unifiedmcp sandbox serve``: the local Stripe-compatible server."""

from __future__ import annotations

import secrets
from pathlib import Path

import typer

from ._common import console, settings

sandbox = typer.Typer(help="The local Stripe sandbox (a Stripe-compatible server for offline work and tests).", no_args_is_help=True)


@sandbox.command("serve")
def serve(
    port: int = typer.Option(12111, "--port", help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind (keep 127.0.0.1 unless you mean it)."),
    memory: bool = typer.Option(False, "--memory", help="Keep state in memory only (lost on exit)."),
    db: Path = typer.Option(None, "--db", help="SQLite file for the state (default: DATA_DIR/sandbox.sqlite3)."),
    forward_to: list[str] = typer.Option(
        None, "--forward-to", help="Forward every event to this URL, signed like `stripe listen` (repeatable)."
    ),
    forward_secret: str = typer.Option(
        None, "--forward-secret", envvar="UNIFIEDMCP_SANDBOX_FORWARD_SECRET",
        help="whsec_ secret to sign forwarded events with (default: a new one, printed once).",
    ),
) -> None:
    """Serve the Stripe API on http://HOST:PORT; point STRIPE_API_BASE there and use any sk_test_ key."""
    from ..sandbox import ForwardTarget, serve_forever

    db_path = None if memory else (db or settings().data_dir / "sandbox.sqlite3")
    targets: list[ForwardTarget] = []
    if forward_to:
        secret = forward_secret or "whsec_" + secrets.token_urlsafe(24)
        targets = [ForwardTarget(url, secret) for url in forward_to]
        for url in forward_to:
            console.print(f"forwarding every event to {url}", markup=False, highlight=False)
        if not forward_secret:
            # Like `stripe listen`: the receiver needs this locally generated test secret.
            console.print("Ready! Your webhook signing secret is (shown once):", markup=False)
            print(secret, flush=True)
    where = "memory" if db_path is None else str(db_path)
    console.print(f"Stripe sandbox on http://{host}:{port} (state: {where}); Ctrl-C to stop", markup=False, highlight=False)
    serve_forever(port=port, host=host, db_path=db_path, forward=targets)


def register(app: typer.Typer) -> None:
    app.add_typer(sandbox, name="sandbox")
