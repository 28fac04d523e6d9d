"""``unifiedmcp mcp`` (stdio), ``unifiedmcp serve`` (HTTP) and ``unifiedmcp mcp-config`` (client snippets)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ..errors import InvalidInput, UnifiedMCPError
from ._common import cipher_or_none, err_console, operator_client, settings, tiers

if TYPE_CHECKING:
    from ..server import Role

CLIENTS = ("claude-code", "cursor", "vscode", "windsurf", "http")

_TOOLS_HELP = "Tools to serve: 'all' or a comma-separated list like customers.create,customers.read,invoices."
_CONFIRM_HELP = (
    "Let destructive tools accept confirm: true from clients without elicitation "
    "(only for clients whose human approves each call)."
)


@contextmanager
def _runtime(
    *,
    role: Role,
    customer: str | None,
    tools: str,
    allow_confirm: bool,
    metering: bool,
    upgrade_url: str | None,
    portal_return_url: str | None = None,
    sessions_per_key: int = 8,
    session_idle_seconds: float = 600.0,
) -> Iterator[Any]:
    from ..accounts import Accounts
    from ..ledger import Ledger
    from ..server import Runtime, ServerOptions, select_tools

    select_tools(tools, role=role)  # a bad selection fails before anything opens
    logging.getLogger("stripe").setLevel(logging.WARNING)  # one line per Stripe request otherwise
    cfg = settings()
    operator = operator_client(required=role == "operator")
    ledger = Ledger(cfg.ledger, tiers=tiers())
    try:
        if customer is not None:
            ledger.customer(customer)  # UnknownCustomer: one clear line, exit 1
        accounts = None
        if role == "customer":
            accounts = Accounts(
                ledger=ledger, settings=cfg, operator_client=operator, cipher=cipher_or_none(),
                operator_account=_operator_account(operator),
            )
        yield Runtime(
            stripe_client=operator,
            ledger=ledger,
            accounts=accounts,
            options=ServerOptions(
                role=role,
                tools=tools,
                customer=customer,
                allow_confirm_argument=allow_confirm,
                metering=metering,
                upgrade_url=upgrade_url,
                portal_return_url=portal_return_url,
                warehouse=cfg.warehouse,
                sessions_per_key=sessions_per_key,
                session_idle_seconds=session_idle_seconds,
            ),
        )
    finally:
        ledger.close()


def _operator_account(operator: Any) -> str | None:
    """The operator's account id, so no customer connection can ever point at it (best effort:
    connecting checks it again)."""
    if operator is None:
        return None
    from ..accounts import operator_account_id

    try:
        return operator_account_id(operator)
    except Exception as exc:  # Stripe unreachable at start-up: connecting will ask again
        _note(f"note: could not read the operator's account id ({exc.__class__.__name__})")
        return None


def _webhook_app(runtime: Any) -> Any:
    """The billing core's webhook receiver on the server's ledger (None when not configured)."""
    from ..billing import create_webhook_app
    from ..server import count_webhook

    if not settings().webhook_secrets:
        _note("webhooks disabled: STRIPE_WEBHOOK_SECRET is not set")
        return None
    try:
        return create_webhook_app(
            settings=settings(), ledger=runtime.ledger, client=runtime.stripe, on_outcome=count_webhook
        )
    except UnifiedMCPError as exc:
        _note(f"webhooks disabled: {exc}")
        return None


def _connect_app(runtime: Any) -> Any:
    """The Connect OAuth callback (customer servers with a platform key)."""
    from ..accounts import CredentialCipher, create_connect_app

    if runtime.options.role != "customer" or runtime.stripe is None:
        return None
    if cipher_or_none() is None:
        _note("note: UNIFIEDMCP_SECRET_KEY is not set: Stripe connections cannot be stored or use stored keys")
    return create_connect_app(
        ledger=runtime.ledger,
        operator_client=runtime.stripe,
        cipher_factory=lambda: CredentialCipher(settings().secret_key),
        operator_account=runtime.accounts.operator_account,
    )


def _usage_pusher(runtime: Any, *, concurrency: int) -> Any:
    """The background usage pusher of a metering customer server with the operator's key."""
    from ..billing import UsagePusher

    if not runtime.options.metered or runtime.stripe is None:
        return None
    return UsagePusher(runtime.ledger, operator_client(max_network_retries=0), tiers=runtime.ledger.tiers,
                       concurrency=concurrency)


def _role(customer: str | None, operator: bool) -> Role:
    if operator and customer:
        raise InvalidInput("give --customer or --operator, not both")
    return "operator" if operator else "customer"


def mcp_stdio(
    customer: str = typer.Option(
        None, "--customer", envvar="UNIFIEDMCP_CUSTOMER", help="The customer calling (metered, acts on its own accounts)."
    ),
    operator: bool = typer.Option(False, "--operator", help="Serve the operator: the operator's account, not metered."),
    tools: str = typer.Option("all", "--tools", help=_TOOLS_HELP),
    allow_confirm_argument: bool = typer.Option(False, "--allow-confirm-argument", help=_CONFIRM_HELP),
    upgrade_url: str = typer.Option(None, "--upgrade-url", help="Upgrade link shown past the free limit."),
) -> None:
    """Serve the MCP tools over stdio (for Claude Code, Cursor, VS Code, Windsurf).

    A misconfigured server (unknown customer, no customer, no ledger, a bad key...) still starts
    and completes the handshake, so the client can say why: every call then answers with the
    problem and its fix (the same line goes to stderr, which clients keep in their logs).
    """
    from ..server import build_server

    with ExitStack() as stack:
        try:
            role = _role(customer, operator)
            if role == "customer" and not customer:
                raise InvalidInput(
                    "give --customer (or UNIFIEDMCP_CUSTOMER): every call is metered for a customer; "
                    "operators use --operator"
                )
            runtime = stack.enter_context(
                _runtime(
                    role=role, customer=customer, tools=tools, allow_confirm=allow_confirm_argument, metering=True,
                    upgrade_url=upgrade_url,
                )
            )
        except UnifiedMCPError as exc:
            runtime = _misconfigured(exc, operator=operator, tools=tools)
        build_server(runtime).run("stdio")


def _misconfigured(exc: UnifiedMCPError, *, operator: bool, tools: str) -> Any:
    """A runtime that serves nothing but the reason it cannot, with the fix."""
    from ..errors import LedgerError, UnknownCustomer
    from ..server import Runtime, ServerOptions, select_tools
    from ..server._errors import Misconfigured

    role: Role = "operator" if operator else "customer"
    if isinstance(exc, UnknownCustomer):
        fix = (
            f"add it to the ledger (`unifiedmcp customers add {exc.customer} --tier free`), or set "
            "UNIFIEDMCP_CUSTOMER (and UNIFIEDMCP_LEDGER or UNIFIEDMCP_DATA_DIR) to an existing customer's ledger"
        )
    elif isinstance(exc, LedgerError):
        fix = "point UNIFIEDMCP_LEDGER (or UNIFIEDMCP_DATA_DIR) at a ledger this process can open"
    else:
        fix = "correct the setting named above in the server's environment (the client's MCP configuration)"
    message = f"this UnifiedMCP stdio server is misconfigured: {exc}. Fix: {fix}, then restart the server"
    _note(f"error: {message}")
    try:
        select_tools(tools, role=role)
    except UnifiedMCPError:
        tools = "all"
    return Runtime(
        stripe_client=None, ledger=None,
        options=ServerOptions(role=role, tools=tools, metering=False), problem=Misconfigured(message),
    )


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind; a non-loopback one needs --base-url."),
    port: int = typer.Option(8788, "--port", min=1, max=65535, help="TCP port."),
    operator: bool = typer.Option(False, "--operator", help="Serve operator keys (the operator's account) only."),
    tools: str = typer.Option("all", "--tools", help=_TOOLS_HELP),
    allow_confirm_argument: bool = typer.Option(False, "--allow-confirm-argument", help=_CONFIRM_HELP),
    base_url: str = typer.Option(
        None, "--base-url", envvar="UNIFIEDMCP_BASE_URL",
        help="Public URL of this server (default http(s)://HOST:PORT); Host/Origin are checked against it.",
    ),
    upgrade_url: str = typer.Option(None, "--upgrade-url", help="Upgrade link shown past the free limit."),
    metering: bool = typer.Option(True, "--metering/--no-metering", help="Meter calls (off only for benchmarks)."),
    sessions_per_key: int = typer.Option(8, "--sessions-per-key", min=1, help="Open MCP sessions one key may hold."),
    session_idle: float = typer.Option(600.0, "--session-idle", min=1, help="Seconds before an idle session closes."),
    body_timeout: float = typer.Option(
        30.0, "--body-timeout", min=0.1,
        help="Seconds a client has to send a request's whole body (408 and the connection closed after).",
    ),
    ssl_certfile: Path = typer.Option(None, "--ssl-certfile", help="TLS certificate (PEM, with its chain): serve HTTPS."),
    ssl_keyfile: Path = typer.Option(None, "--ssl-keyfile", help="The certificate's private key (PEM)."),
    metrics_port: int = typer.Option(
        None, "--metrics-port", min=1, max=65535,
        help="Also serve Prometheus metrics without a key on this port of --host (/metrics on --port needs an operator key).",
    ),
    log_format: str = typer.Option("text", "--log-format", help="text, or json: one JSON object per line on stderr."),
    push_usage: bool = typer.Option(
        True, "--push-usage/--no-push-usage",
        help="Report paying customers' billable calls to Stripe meters in the background (customer servers).",
    ),
    push_interval: float = typer.Option(10.0, "--push-interval", min=0.1, help="Seconds between usage pushes."),
    push_concurrency: int = typer.Option(
        8, "--push-concurrency", min=1, help="Customers whose meter events are sent at once (raise it for live Stripe)."
    ),
) -> None:
    """Serve streamable HTTP MCP at /mcp (bearer API keys), Stripe webhooks, the Connect callback,
    /healthz and Prometheus /metrics; push usage to Stripe meters."""
    import faulthandler

    import uvicorn

    from .._loopback import is_loopback
    from ..server import create_app, serve_metrics, use_json_logs

    if log_format not in ("text", "json"):
        raise InvalidInput(f"--log-format must be text or json, not {log_format!r}")
    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise InvalidInput("give --ssl-certfile and --ssl-keyfile together")
    tls = ssl_certfile is not None
    if not is_loopback(host) and not base_url:
        raise InvalidInput(
            f"--host {host} is not a loopback address: give --base-url (the public URL clients use), "
            "so that Host and Origin headers can still be checked"
        )
    if log_format == "json":
        global _json_logs
        _json_logs = True
        use_json_logs()
    if not is_loopback(host) and not tls and not base_url.startswith("https://"):
        _note(
            f"warning: serving plain HTTP on {host}: API keys, tool results and webhook payloads cross the "
            "network unencrypted and can be read or replayed; give --ssl-certfile/--ssl-keyfile, or put a "
            "TLS proxy in front and give its https:// address as --base-url"
        )
    url = base_url or f"{'https' if tls else 'http'}://{host}:{port}"
    role = _role(None, operator)
    # A fatal signal (a fault on a memory-mapped file: ledger/_sqlite.py) leaves a traceback in the
    # log instead of a silent death. It prints code locations only, never values.
    faulthandler.enable(file=sys.__stderr__)
    with _runtime(
        role=role,
        customer=None,
        tools=tools,
        allow_confirm=allow_confirm_argument,
        metering=metering,
        upgrade_url=upgrade_url,
        portal_return_url=url,
        sessions_per_key=sessions_per_key,
        session_idle_seconds=session_idle,
    ) as runtime:
        app = create_app(
            runtime, base_url=url, webhook_app=_webhook_app(runtime), connect_app=_connect_app(runtime), host=host,
            usage_pusher=_usage_pusher(runtime, concurrency=push_concurrency) if push_usage else None,
            push_interval=push_interval,
            body_timeout=body_timeout,
        )
        if metrics_port is not None:
            serve_metrics(host=host, port=metrics_port)
        _note(f"MCP ({role}s) at {url}/mcp, webhooks at {url}/webhooks/stripe, ledger {runtime.ledger.location}")
        uvicorn.run(
            app, host=host, port=port, log_level="warning", ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile,
            # json: uvicorn's loggers go to the root logger's JSON handler instead of its own setup.
            **({"log_config": None} if log_format == "json" else {}),
        )


_json_logs = False  # serve --log-format json: notes become log lines too


def _note(message: str) -> None:
    """A line for the operator on stderr: plain, or a JSON log line under --log-format json."""
    if _json_logs:
        logging.getLogger("unifiedmcp.cli").warning(message)
    else:
        err_console.print(message, markup=False, highlight=False)


def _command() -> list[str]:
    """How to start this installation: its ``unifiedmcp`` script, else ``python -m unifiedmcp``."""
    beside = Path(sys.executable).parent / "unifiedmcp"
    exe = str(beside) if beside.exists() else shutil.which("unifiedmcp")
    return [exe] if exe else [sys.executable, "-m", "unifiedmcp"]


# Secrets a stdio server needs, passed from the environment (never written into a snippet): the
# operator's key (also the Connect platform key) and the key that decrypts stored credentials.
_SECRET_VARIABLES = ("STRIPE_API_KEY", "UNIFIEDMCP_SECRET_KEY")


def snippet(
    client: str, *, customer: str | None, url: str, data_dir: str | None = None, api_base: str | None = None
) -> str:
    """The configuration text for ``client`` (never a secret: keys are placeholders or inputs).

    A stdio server runs on the installation that holds the ledger and the connections' credentials
    (the operator's, or a single-tenant install), as ``customer`` or, with ``customer=None``, as
    the operator. ``data_dir`` (absolute) pins that ledger wherever the client starts it;
    ``api_base`` points it at the sandbox when one is configured. Customers of a shared server
    use ``http``.
    """
    cmd = _command()
    args = ["mcp"] if customer else ["mcp", "--operator"]
    env = {"UNIFIEDMCP_CUSTOMER": customer} if customer else {}
    if data_dir:
        env["UNIFIEDMCP_DATA_DIR"] = data_dir
    if api_base:
        env["STRIPE_API_BASE"] = api_base
    secrets_env = {name: "${env:" + name + "}" for name in _SECRET_VARIABLES}
    env |= secrets_env
    exported = " ".join(f"-e {k}={v}" for k, v in env.items() if k not in secrets_env)
    passed = " ".join(f'-e {name}="${name}"' for name in _SECRET_VARIABLES)
    stdio = {"command": cmd[0], "args": [*cmd[1:], *args], "env": env}
    if client == "claude-code":
        return (
            f"claude mcp add unifiedmcp --scope user {exported} "
            f'{passed} -- {" ".join([*cmd, *args])}\n'
            f"# or over HTTP (unifiedmcp serve):\n"
            f"claude mcp add --transport http unifiedmcp {url} "
            f'--header "Authorization: Bearer $UNIFIEDMCP_API_KEY"'
        )
    if client == "cursor":  # ~/.cursor/mcp.json or .cursor/mcp.json
        return json.dumps({"mcpServers": {"unifiedmcp": stdio}}, indent=2)
    if client == "vscode":  # .vscode/mcp.json
        vs_env = env | {name: "${input:" + name.lower().replace("_", "-") + "}" for name in _SECRET_VARIABLES}
        return json.dumps(
            {
                "inputs": [
                    {
                        "type": "promptString",
                        "id": "stripe-api-key",
                        "description": "The operator's Stripe key (sk_test_..., also the Connect platform key)",
                        "password": True,
                    },
                    {
                        "type": "promptString",
                        "id": "unifiedmcp-secret-key",
                        "description": "UNIFIEDMCP_SECRET_KEY (decrypts stored connection credentials)",
                        "password": True,
                    },
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
    operator: bool = typer.Option(False, "--operator", help="A stdio snippet for the operator (mcp --operator)."),
    url: str = typer.Option("http://127.0.0.1:8788/mcp", "--url", help="MCP URL of `unifiedmcp serve`."),
) -> None:
    """Print a configuration snippet for an MCP client (secrets stay placeholders)."""
    _role(customer, operator)
    cfg = settings()
    text = snippet(
        client,
        customer=None if operator else (customer or "cus_YOUR_CUSTOMER"),
        url=url,
        data_dir=str(cfg.data_dir.resolve()),
        api_base=cfg.stripe_api_base,
    )
    # Plain print: rich would re-wrap and colour the JSON.
    print(text)
    if client in ("claude-code", "cursor", "windsurf", "http") and os.environ.get("STRIPE_API_KEY") is None:
        err_console.print(
            "note: stdio servers need STRIPE_API_KEY (the operator's key) and UNIFIEDMCP_SECRET_KEY in the "
            "environment; HTTP clients need UNIFIEDMCP_API_KEY (from `unifiedmcp keys create`)",
            markup=False,
            highlight=False,
        )


def register(app: typer.Typer) -> None:
    app.command("mcp")(mcp_stdio)
    app.command("serve")(serve)
    app.command("mcp-config")(mcp_config)


__all__ = ["register", "snippet", "CLIENTS"]
