"""The HTTP app: streamable HTTP MCP at ``/mcp`` behind ledger bearer keys, the Stripe webhook
receiver at ``/webhooks/stripe`` and ``/healthz``, in one ASGI (Starlette) app.

``/mcp`` answers 401 with ``WWW-Authenticate: Bearer ... resource_metadata=...`` without a valid
``Authorization: Bearer umk_...`` key; the SDK serves the protected-resource metadata at
``/.well-known/oauth-protected-resource/mcp``. Each call is metered as the key's customer.
"""

from __future__ import annotations

from typing import Any

from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from .. import __version__
from ..errors import AuthError, UnknownCustomer
from ..ledger import Ledger
from ._runtime import Runtime
from ._registry import select
from ._server import build_server

__all__ = ["LedgerTokenVerifier", "create_app", "WEBHOOK_PATH", "MCP_PATH"]

MCP_PATH = "/mcp"
WEBHOOK_PATH = "/webhooks/stripe"
SCOPE = "mcp"


class LedgerTokenVerifier:
    """Bearer tokens are ledger API keys; the access token names the key's customer.

    The resulting ``AccessToken.token`` holds the key's public id, never the secret.
    """

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    def __repr__(self) -> str:
        return f"LedgerTokenVerifier({self._ledger!r})"

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            customer = self._ledger.authenticate(token)
        except (AuthError, UnknownCustomer):
            return None
        key_id = "_".join(token.strip().split("_")[:2])  # umk_<id>: the public half
        return AccessToken(token=key_id, client_id=customer.customer_id, scopes=[SCOPE])


async def _no_webhooks(request: Request) -> Response:
    return JSONResponse({"error": "the Stripe webhook receiver is not configured"}, status_code=503)


def create_app(
    runtime: Runtime,
    *,
    base_url: str,
    webhook_app: ASGIApp | None = None,
    host: str = "127.0.0.1",
    stateless: bool = False,
) -> Starlette:
    """The ASGI app of ``unifiedmcp serve``.

    ``base_url`` is where clients reach this app (``http://127.0.0.1:8788``): the MCP resource is
    ``{base_url}/mcp``. ``webhook_app`` is the billing core's receiver
    (``unifiedmcp.billing.create_webhook_app``, which serves ``POST /webhooks/stripe`` itself); it
    is mounted behind the MCP routes. Without it ``/webhooks/stripe`` answers 503.
    """
    if runtime.ledger is None:
        raise ValueError("the HTTP app authenticates callers with the ledger: give the runtime one")
    base_url = base_url.rstrip("/")
    auth = AuthSettings(
        issuer_url=base_url,
        resource_server_url=f"{base_url}{MCP_PATH}",
        required_scopes=[SCOPE],
        validate_token_resource=False,  # ledger keys are not bound to a resource indicator
    )
    server = build_server(runtime, token_verifier=LedgerTokenVerifier(runtime.ledger), auth=auth)
    app = server.streamable_http_app(streamable_http_path=MCP_PATH, host=host, stateless_http=stateless)

    tools = len(select(runtime.options.tools))

    async def healthz(request: Request) -> Response:
        body: dict[str, Any] = {
            "status": "ok",
            "version": __version__,
            "tools": tools,
            "metering": runtime.options.metering,
            "webhooks": webhook_app is not None,
        }
        return JSONResponse(body)

    app.router.routes.append(Route("/healthz", healthz, methods=["GET"]))
    if webhook_app is not None:
        app.router.routes.append(Mount("/", app=webhook_app))  # last: it owns /webhooks/stripe
    else:
        app.router.routes.append(Route(WEBHOOK_PATH, _no_webhooks, methods=["POST"]))
    app.state.mcp_server = server
    return app
