"""The UnifiedMCP MCP server: Stripe tools, metered per call, over stdio or authenticated HTTP.

    from unifiedmcp.server import Runtime, ServerOptions, build_server, create_app
    runtime = Runtime(stripe_client=client, ledger=ledger, options=ServerOptions(customer="cus_1"))
    server = build_server(runtime)            # an mcp MCPServer: server.run() serves stdio
    app = create_app(runtime, base_url="http://127.0.0.1:8788")   # ASGI: /mcp, /webhooks/stripe, /healthz

The tool registry: :func:`tool_specs` lists every tool (name, selector, annotations);
:func:`select_tools` applies a ``--tools`` selection (``all`` or ``customers.create,...``).
"""

from ._app import LedgerTokenVerifier, create_app
from ._errors import ToolSelectionError
from ._registry import ALWAYS_ON, ToolSpec
from ._registry import all_specs as tool_specs
from ._registry import select as select_tools
from ._runtime import Runtime, ServerOptions
from ._server import INSTRUCTIONS, build_server

__all__ = [
    "ALWAYS_ON",
    "INSTRUCTIONS",
    "LedgerTokenVerifier",
    "Runtime",
    "ServerOptions",
    "ToolSelectionError",
    "ToolSpec",
    "build_server",
    "create_app",
    "select_tools",
    "tool_specs",
]
