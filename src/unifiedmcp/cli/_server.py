"""``unifiedmcp mcp`` (stdio), ``unifiedmcp serve`` (HTTP) and ``unifiedmcp mcp-config`` (client snippets)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from ..errors import InvalidInput, UnifiedMCPError
from ._common import err_console, settings, tiers

CLIENTS = ("claude-code", "cursor", "vscode", "windsurf", "http")

_TOOLS_HELP = "Tools to serve: 'all' or a comma-separated list like customers.create,customers.read,invoices."
_CONFIRM_HELP = (
    "Let destructive tools accept confirm: true from clients without elicitation "
    "(only for clients whose human approves each call)."
)


@contextmanager
def _runtime(
    *,
    customer: str | None,
    tools: str,
    allow_confirm: bool,
    metering: bool,
    upgrade_url: str | None,
    portal_return_url: str | None = None,
) -> Iterator[Any]:
    from ..billing import build_client
    from ..ledger import Ledger
    from ..server import Runtime, ServerOptions, select_tools

    select_tools(tools)  # a bad selection fails before anything opens
    logging.getLogger("stripe").setLevel(logging.WARNING)  # one line per Stripe request otherwise
    cfg = settings()
    client = build_client(cfg, max_network_retries=1)
    ledger = Ledger(cfg.ledger, tiers=tiers())
    try:
        if customer is not None:
            ledger.customer(customer)  # UnknownCustomer: one clear line, exit 1
        yield Runtime(
            stripe_client=client,
            ledger=ledger,
            options=ServerOptions(
                tools=tools,
                customer=customer,
                allow_confirm_argument=allow_confirm,
                metering=metering,
                upgrade_url=upgrade_url,
                portal_return_url=portal_return_url,
                warehouse=cfg.warehouse,
            ),
        )
    finally:
        ledger.close()


def _webhook_app(runtime: Any) -> Any:
    """The billing core's webhook receiver on the server's ledger (None when not configured)."""
    from ..billing import create_webhook_app

    if not settings().webhook_secrets:
        err_console.print("webhooks disabled: STRIPE_WEBHOOK_SECRET is not set", markup=False, highlight=False)
        return None
    try:
        return create_webhook_app(settings=settings(), ledger=runtime.ledger, client=runtime.stripe)
    except UnifiedMCPError as exc:
        err_console.print(f"webhooks disabled: {exc}", markup=False, highlight=False)
        return None


def mcp_stdio(
    customer: str = typer.Option(
        None, "--customer", envvar="UNIFIEDMCP_CUSTOMER", help="Ledger customer every call is metered for."
    ),
    tools: str = typer.Option("all", "--tools", help=_TOOLS_HELP),
    allow_confirm_argument: bool = typer.Option(False, "--allow-confirm-argument", help=_CONFIRM_HELP),
    upgrade_url: str = typer.Option(None, "--upgrade-url", help="Upgrade link shown past the free limit."),
) -> None:
    """Serve the MCP tools over stdio (for Claude Code, Cursor, VS Code, Windsurf)."""
    if not customer:
        raise InvalidInput("give --customer or set UNIFIEDMCP_CUSTOMER: every call is metered for a customer")
    from ..server import build_server

    with _runtime(
        customer=customer, tools=tools, allow_confirm=allow_confirm_argument, metering=True, upgrade_url=upgrade_url
    ) as runtime:
        build_server(runtime).run("stdio")


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind."),
    port: int = typer.Option(8788, "--port", min=1, max=65535, help="TCP port."),
    tools: str = typer.Option("all", "--tools", help=_TOOLS_HELP),
    allow_confirm_argument: bool = typer.Option(False, "--allow-confirm-argument", help=_CONFIRM_HELP),
    base_url: str = typer.Option(None, "--base-url", help="Public URL of this server (default http://HOST:PORT)."),
    upgrade_url: str = typer.Option(None, "--upgrade-url", help="Upgrade link shown past the free limit."),
    metering: bool = typer.Option(True, "--metering/--no-metering", help="Meter calls (off only for benchmarks)."),
) -> None:
    """Serve streamable HTTP MCP at /mcp (bearer API keys), Stripe webhooks and /healthz."""
    import uvicorn

    from ..server import create_app

    url = base_url or f"http://{host}:{port}"
    with _runtime(
        customer=None,
        tools=tools,
        allow_confirm=allow_confirm_argument,
        metering=metering,
        upgrade_url=upgrade_url,
        portal_return_url=url,
    ) as runtime:
        app = create_app(runtime, base_url=url, webhook_app=_webhook_app(runtime), host=host)
        err_console.print(f"MCP at {url}/mcp, webhooks at {url}/webhooks/stripe", markup=False, highlight=False)
        uvicorn.run(app, host=host, port=port, log_level="warning")


def _command() -> list[str]:
    """How to start this installation: its ``unifiedmcp`` script, else ``python -m unifiedmcp``."""
    beside = Path(sys.executable).parent / "unifiedmcp"
    exe = str(beside) if beside.exists() else shutil.which("unifiedmcp")
    return [exe] if exe else [sys.executable, "-m", "unifiedmcp"]


def snippet(
    client: str, *, customer: str, url: str, data_dir: str | None = None, api_base: str | None = None
) -> str:
    """The configuration text for ``client`` (never a secret: keys are placeholders or inputs).

    ``data_dir`` (absolute) pins the ledger the stdio server meters into, wherever the client
    starts it; ``api_base`` points it at the sandbox when one is configured.
    """
    cmd = _command()
    env = {"UNIFIEDMCP_CUSTOMER": customer}
    if data_dir:
        env["UNIFIEDMCP_DATA_DIR"] = data_dir
    if api_base:
        env["STRIPE_API_BASE"] = api_base
    env["STRIPE_API_KEY"] = "${env:STRIPE_API_KEY}"
    exported = " ".join(f"-e {k}={v}" for k, v in env.items() if k != "STRIPE_API_KEY")
    stdio = {"command": cmd[0], "args": [*cmd[1:], "mcp"], "env": env}
    if client == "claude-code":
        return (
            f"claude mcp add unifiedmcp --scope user {exported} "
            f'-e STRIPE_API_KEY="$STRIPE_API_KEY" -- {" ".join(cmd)} mcp\n'
            f"# or over HTTP (unifiedmcp serve):\n"
            f"claude mcp add --transport http unifiedmcp {url} "
            f'--header "Authorization: Bearer $UNIFIEDMCP_API_KEY"'
        )
    if client == "cursor":  # ~/.cursor/mcp.json or .cursor/mcp.json
        return json.dumps({"mcpServers": {"unifiedmcp": stdio}}, indent=2)
    if client == "vscode":  # .vscode/mcp.json
        vs_env = env | {"STRIPE_API_KEY": "${input:stripe-api-key}"}
        return json.dumps(
            {
                "inputs": [
                    {
                        "type": "promptString",
                        "id": "stripe-api-key",
                        "description": "Stripe restricted key (rk_test_...)",
                        "password": True,
                    }
                ],
                "servers": {"unifiedmcp": {"type": "stdio", **stdio, "env": vs_env}},
            },
            indent=2,
        )
    if client == "windsurf":  # ~/.codeium/windsurf/mcp_config.json
        return json.dumps({"mcpServers": {"unifiedmcp": stdio}}, indent=2)
    if client == "http":  # any client speaking streamable HTTP
        return json.dumps(
            {
                "mcpServers": {
                    "unifiedmcp": {
                        "type": "http",
                        "url": url,
                        "headers": {"Authorization": "Bearer ${UNIFIEDMCP_API_KEY}"},
                    }
                }
            },
            indent=2,
        )
    raise InvalidInput(f"unknown client {client!r}; one of: {', '.join(CLIENTS)}")


def mcp_config(
    client: str = typer.Option(..., "--client", help=f"One of: {', '.join(CLIENTS)}."),
    customer: str = typer.Option(
        None, "--customer", envvar="UNIFIEDMCP_CUSTOMER", help="Ledger customer to meter (stdio clients)."
    ),
    url: str = typer.Option("http://127.0.0.1:8788/mcp", "--url", help="MCP URL of `unifiedmcp serve`."),
) -> None:
    """Print a configuration snippet for an MCP client (secrets stay placeholders)."""
    cfg = settings()
    text = snippet(
        client,
        customer=customer or "cus_YOUR_CUSTOMER",
        url=url,
        data_dir=str(cfg.data_dir.resolve()),
        api_base=cfg.stripe_api_base,
    )
    # Plain print: rich would re-wrap and colour the JSON.
    print(text)
    if client in ("claude-code", "cursor", "windsurf", "http") and os.environ.get("STRIPE_API_KEY") is None:
        err_console.print(
            "note: export STRIPE_API_KEY (a restricted rk_test_ key) and, for HTTP, UNIFIEDMCP_API_KEY "
            "(from `unifiedmcp keys create`) before starting the client",
            markup=False,
            highlight=False,
        )


def register(app: typer.Typer) -> None:
    app.command("mcp")(mcp_stdio)
    app.command("serve")(serve)
    app.command("mcp-config")(mcp_config)


__all__ = ["register", "snippet", "CLIENTS"]
