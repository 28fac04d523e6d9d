"""The HTTP app: streamable HTTP MCP at ``/mcp`` behind ledger bearer keys, the Stripe webhook
receiver at ``/webhooks/stripe``, the Connect OAuth callback, ``/healthz`` and ``/metrics``
(Prometheus, operator keys only: see ``_metrics``), in one ASGI app.

``/mcp`` takes ``Authorization: Bearer`` with a ledger API key (``umk_...``) or, on customer
servers, an OAuth access token of the server's own authorization server (``_oauth``: metadata at
``/.well-known/oauth-authorization-server``, /authorize, /token, /register, /revoke, the consent
page). Without a token it answers 401 with the bare challenge (``resource_metadata=...``,
``scope=...``), with a bad one 401 ``invalid_token``, and 403 (``insufficient_scope``) for a key of
the other role: a customer server accepts customer keys and tokens only, an operator server
(``--operator``) operator keys only. The SDK serves the protected-resource metadata at
``/.well-known/oauth-protected-resource/mcp`` (customer servers). Each key may hold ``sessions_per_key`` open
sessions (429 past it); idle sessions close after ``session_idle_seconds``.

Host and Origin headers are validated (DNS rebinding): against loopback names on a loopback
bind, against ``base_url`` otherwise.

A ledger that cannot be used fails requests closed: ``/mcp`` answers 503 with a ``metering_error``
when the bearer key cannot be checked, the webhook receiver 500, and ``/healthz`` reports the
ledger's state (503 ``degraded`` with the reason).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import anyio.to_thread

from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import BearerAuthBackend
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.routes import build_resource_metadata_url, create_protected_resource_routes
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import AnyHttpUrl
from starlette.applications import Starlette
from starlette.authentication import AuthenticationError
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from .. import __version__
from .._loopback import is_loopback
from ..accounts import CALLBACK_PATH
from ..billing import UsagePusher
from ..errors import AuthError, LedgerError, UnknownCustomer
from ..ledger import Ledger
from ..ledger._tokens import OAUTH_PREFIX
from ._body_timeout import DEFAULT_BODY_TIMEOUT, BodyTimeout
from ._errors import MeteringUnavailable
from ._events import MemoryEventStore
from ._metrics import metrics_endpoint, watch_sessions
from ._oauth import SCOPES, BearerChallenge, LedgerOAuthProvider, OAuthOptions, oauth_routes, off_loop
from ._registry import select
from ._runtime import Role, Runtime
from ._server import build_server
from ._push_task import push_forever
from ._sessions import KeyedSessionManager

__all__ = ["LedgerTokenVerifier", "create_app", "transport_security", "WEBHOOK_PATH", "MCP_PATH"]

MCP_PATH = "/mcp"
WEBHOOK_PATH = "/webhooks/stripe"
SCOPE = "mcp"


class LedgerTokenVerifier:
    """Bearer tokens are ledger API keys, or (customer servers) OAuth access tokens.

    The access token names the credential (``client_id``: the key's public id, or the OAuth
    client), the principal (``subject``: the customer, or ``operator``) and its role as a scope,
    so the SDK binds each session to it and the app can require the server's role. Both kinds
    give the same claims (``role``, ``customer``): the rest of the server cannot tell them apart,
    except by the scopes (an API key holds ``mcp:read`` and ``mcp:write``, a token what the
    customer granted). An OAuth token issued for another resource (RFC 8707) is refused.
    """

    def __init__(self, ledger: Ledger, *, oauth: LedgerOAuthProvider | None = None) -> None:
        self._ledger = ledger
        self._oauth = oauth

    def __repr__(self) -> str:
        return f"LedgerTokenVerifier({self._ledger!r})"

    async def verify_token(self, token: str) -> AccessToken | None:
        if token.startswith(OAUTH_PREFIX):
            return await self._oauth_token(token)
        try:
            who = await off_loop(self._ledger, self._ledger.authenticate, token)
        except (AuthError, UnknownCustomer):
            return None
        except LedgerError as exc:  # the key cannot be checked: refused, but not as a bad key
            raise LedgerUnavailable(str(exc)) from None
        return AccessToken(
            token=who.key_id,
            client_id=who.key_id,
            subject=who.customer_id or "operator",
            scopes=[SCOPE, who.role, *SCOPES],
            claims={"role": who.role, "customer": who.customer_id},
        )

    async def _oauth_token(self, token: str) -> AccessToken | None:
        if self._oauth is None:
            return None
        grant = await self._oauth.load_access_token(token)
        if grant is None or grant.resource is None or grant.resource.rstrip("/") != self._oauth.resource.rstrip("/"):
            return None
        return grant.model_copy(update={"scopes": [SCOPE, "customer", *grant.scopes]})


class LedgerUnavailable(AuthenticationError):
    """A bearer key could not be checked because the ledger cannot be read."""


def _auth_failed(conn: HTTPConnection, exc: AuthenticationError) -> Response:
    """503 with the tool errors' ``metering_error`` shape when the ledger is out (the client may
    retry; its key is fine); Starlette's 400 for any other authentication error."""
    if isinstance(exc, LedgerUnavailable):
        failure = MeteringUnavailable(f"the ledger is unavailable: {exc}")
        return JSONResponse({"error": failure.payload()}, status_code=503, headers={"Retry-After": "5"})
    return PlainTextResponse(str(exc), status_code=400)


@asynccontextmanager
async def _lifespans(
    sessions: AbstractAsyncContextManager[None], mounted: ASGIApp | None, pusher: UsagePusher | None, interval: float
) -> AsyncIterator[None]:
    """The session manager's lifespan, a mounted Starlette app's (``Mount`` does not run it), and
    the usage pusher's background task."""
    async with sessions, contextlib.AsyncExitStack() as stack:
        if isinstance(mounted, Starlette):
            await stack.enter_async_context(mounted.router.lifespan_context(mounted))
        task = asyncio.get_running_loop().create_task(push_forever(pusher, interval=interval)) if pusher else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


async def _no_webhooks(request: Request) -> Response:
    return JSONResponse({"error": "the Stripe webhook receiver is not configured"}, status_code=503)


def transport_security(*, host: str, base_url: str) -> TransportSecuritySettings:
    """Host/Origin validation: loopback names on a loopback bind, else exactly ``base_url``'s."""
    if is_loopback(host):
        return TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
            allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
        )
    parts = urlsplit(base_url)
    if not parts.scheme or not parts.netloc:
        raise ValueError(f"base_url must be an absolute URL, not {base_url!r}")
    hosts = [parts.netloc]
    if parts.port is None:  # clients may or may not spell out the default port
        hosts.append(f"{parts.hostname}:{443 if parts.scheme == 'https' else 80}")
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=[f"{parts.scheme}://{h}" for h in hosts],
    )


def create_app(
    runtime: Runtime,
    *,
    base_url: str,
    webhook_app: ASGIApp | None = None,
    connect_app: ASGIApp | None = None,
    host: str = "127.0.0.1",
    stateless: bool = False,
    usage_pusher: UsagePusher | None = None,
    push_interval: float = 10.0,
    oauth: OAuthOptions | None = None,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
) -> Starlette:
    """The ASGI app of ``unifiedmcp serve``.

    ``base_url`` is where clients reach this app (``http://127.0.0.1:8788``): the MCP resource is
    ``{base_url}/mcp``. ``webhook_app`` is the billing core's receiver
    (``unifiedmcp.billing.create_webhook_app``, which serves ``POST /webhooks/stripe`` itself);
    ``connect_app`` serves the Connect OAuth callback (``unifiedmcp.accounts.create_connect_app``).
    Both are mounted behind the MCP routes (the webhook app's lifespan runs with this app's).
    Without a webhook app \`\`/webhooks/stripe\`\` answers 503. A request body not received within
    \`\`body_timeout\`\` seconds is answered 408 (\`\`_body_timeout\`\`). \`\`usage_pusher\`\` runs every
    \`\`push_interval\`\` seconds while the app lives (usage billing).

    A customer server is also its own OAuth authorization server (\`\`_oauth\`\`: \`\`oauth\`\` sets its
    lifetimes); the protected-resource metadata names it. An operator server takes operator
    keys only: it has no authorization server and serves no protected-resource metadata.
    """
    ledger = runtime.ledger
    if ledger is None:
        raise ValueError("the HTTP app authenticates callers with the ledger: give the runtime one")
    base_url = base_url.rstrip("/")
    role: Role = runtime.options.role
    server = build_server(runtime)
    manager = KeyedSessionManager(
        server._lowlevel_server,  # noqa: SLF001 (the SDK's own apps pass the same object)
        per_key=runtime.options.sessions_per_key,
        stateless=stateless,
        security_settings=transport_security(host=host, base_url=base_url),
        session_idle_timeout=runtime.options.session_idle_seconds,
        # Resumability: a client reconnecting with Last-Event-ID gets what its broken stream missed.
        event_store=None if stateless else MemoryEventStore(),
    )
    watch_sessions(manager)
    resource = f"{base_url}{MCP_PATH}"
    provider = None
    if role == "customer":
        if oauth is None:  # a development server on loopback may have loopback clients
            oauth = OAuthOptions(http_loopback_clients=base_url.startswith("http://") and is_loopback(urlsplit(base_url).hostname or ""))
        provider = LedgerOAuthProvider(runtime.ledger, issuer=base_url, resource=resource, options=oauth)
    metadata_url = build_resource_metadata_url(AnyHttpUrl(resource)) if provider else None
    mcp_endpoint = BearerChallenge(
        StreamableHTTPASGIApp(manager), [SCOPE, role], metadata_url,
        scope_hint=" ".join(SCOPES) if provider else f"{SCOPE} {role}",
    )
    tools = len(select(runtime.options.tools, role=role))

    async def healthz(request: Request) -> Response:
        health = await anyio.to_thread.run_sync(ledger.health)  # PostgreSQL: a round trip
        body: dict[str, Any] = {
            "status": "ok" if health.ok else "degraded",
            "version": __version__,
            "role": role,
            "tools": tools,
            "metering": runtime.options.metered,
            "webhooks": webhook_app is not None,
            "ledger": {"backend": ledger.backend, "ok": health.ok, "error": health.error},
        }
        return JSONResponse(body, status_code=200 if health.ok else 503)

    routes: list[Route | Mount] = [
        Route(MCP_PATH, endpoint=mcp_endpoint),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ]
    if provider is not None:
        routes += create_protected_resource_routes(
            resource_url=AnyHttpUrl(resource), authorization_servers=[base_url],  # type: ignore[list-item]  (a str keeps no trailing slash)
            scopes_supported=list(SCOPES),
        )
        routes += oauth_routes(provider)
    if connect_app is not None:
        routes.append(Route(CALLBACK_PATH, endpoint=connect_app, methods=["GET"]))
    if webhook_app is not None:
        routes.append(Mount("/", app=webhook_app))  # last: it owns /webhooks/stripe
    else:
        routes.append(Route(WEBHOOK_PATH, _no_webhooks, methods=["POST"]))
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(BodyTimeout, seconds=body_timeout),
            Middleware(
                AuthenticationMiddleware,
                backend=BearerAuthBackend(LedgerTokenVerifier(runtime.ledger, oauth=provider)),
                on_error=_auth_failed,
            ),
            Middleware(AuthContextMiddleware),
        ],
        lifespan=lambda app: _lifespans(manager.run(), webhook_app, usage_pusher, push_interval),
    )
    app.state.mcp_server = server
    app.state.sessions = manager
    return app
