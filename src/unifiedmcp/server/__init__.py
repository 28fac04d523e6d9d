"""The UnifiedMCP MCP server: Stripe tools, metered per call, over stdio or authenticated HTTP.

    from unifiedmcp.server import Runtime, ServerOptions, build_server, create_app
    runtime = Runtime(stripe_client=operator_client, ledger=ledger, accounts=accounts,
                      options=ServerOptions(customer="cus_1"))   # a customer's server
    server = build_server(runtime)            # an mcp MCPServer: server.run() serves stdio
    app = create_app(runtime, base_url="http://127.0.0.1:8788")   # ASGI: /mcp, /webhooks/stripe, /healthz

A customer server (the default role) meters every call and acts only on the caller's own
connected Stripe accounts (``unifiedmcp.accounts``); an operator server
(``ServerOptions(role="operator")``) acts on the operator's account and is never metered.

The tool registry: :func:`tool_specs` lists every tool (name, selector, annotations);
:func:`select_tools` applies a ``--tools`` selection (``all`` or ``customers.create,...``) for a role.
"""

from ._app import LedgerTokenVerifier, create_app, transport_security
from ._errors import ToolSelectionError
from ._logs import use_json_logs
from ._metrics import count_webhook, serve_metrics
from ._registry import ALWAYS_ON, OPERATOR_ONLY, ToolSpec
from ._registry import all_specs as tool_specs
from ._registry import select as select_tools
from ._runtime import Role, Runtime, ServerOptions
from ._server import INSTRUCTIONS, OPERATOR_INSTRUCTIONS, build_server
from ._sessions import KeyedSessionManager

__all__ = [
    "ALWAYS_ON",
    "INSTRUCTIONS",
    "OPERATOR_INSTRUCTIONS",
    "OPERATOR_ONLY",
    "KeyedSessionManager",
    "LedgerTokenVerifier",
    "Role",
    "Runtime",
    "ServerOptions",
    "ToolSelectionError",
    "ToolSpec",
    "build_server",
    "count_webhook",
    "create_app",
    "select_tools",
    "serve_metrics",
    "tool_specs",
    "transport_security",
    "use_json_logs",
]
