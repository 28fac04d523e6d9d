"""The authorization server's routes, built from the SDK's handlers.

The SDK's ``create_auth_routes`` builds the same routes with its own client authenticator, which
compares client secrets in clear; the ledger stores them hashed, so the routes are composed here
with :class:`LedgerClientAuthenticator` instead, and the metadata also says what the SDK's does
not: Client ID Metadata Documents are supported and public clients (``none``) are welcome.
"""

from __future__ import annotations

import math

from mcp.server.auth.handlers.authorize import AuthorizationHandler
from mcp.server.auth.handlers.metadata import MetadataHandler
from mcp.server.auth.handlers.register import RegistrationHandler
from mcp.server.auth.handlers.revoke import RevocationHandler
from mcp.server.auth.handlers.token import TokenHandler
from mcp.server.auth.routes import (
    AUTHORIZATION_PATH,
    REGISTRATION_PATH,
    REVOCATION_PATH,
    TOKEN_PATH,
    build_metadata,
    cors_middleware,
)
from mcp.server.auth.settings import ClientRegistrationOptions, RevocationOptions
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE, RequestBodyLimitMiddleware
from mcp.shared.auth import OAuthMetadata
from pydantic import AnyHttpUrl
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse
from starlette.routing import Route, request_response
from starlette.types import ASGIApp, Receive, Scope, Send

from ..._rate import TokenBuckets
from ._clients import LedgerClientAuthenticator
from ._consent import ConsentPage
from ._provider import CONSENT_PATH, LedgerOAuthProvider
from ._scopes import SCOPES

__all__ = ["METADATA_PATH", "oauth_metadata", "oauth_routes"]

METADATA_PATH = "/.well-known/oauth-authorization-server"
_AUTH_METHODS = ["none", "client_secret_post", "client_secret_basic"]


def oauth_metadata(issuer: str) -> OAuthMetadata:
    """RFC 8414 metadata of the authorization server at ``issuer``."""
    registration = ClientRegistrationOptions(enabled=True, valid_scopes=list(SCOPES), default_scopes=list(SCOPES))
    metadata = build_metadata(AnyHttpUrl(issuer), None, registration, RevocationOptions(enabled=True))
    # Validated again from plain values: the issuer must read exactly as clients derived the
    # metadata URL from it (RFC 8414 section 3.3), without the slash AnyHttpUrl adds to a bare host.
    return OAuthMetadata.model_validate(
        metadata.model_dump(mode="json", exclude_none=True)
        | {
            "issuer": issuer,
            "client_id_metadata_document_supported": True,
            "token_endpoint_auth_methods_supported": _AUTH_METHODS,
            "revocation_endpoint_auth_methods_supported": _AUTH_METHODS,
        }
    )


def _api(handler: object, methods: list[str]) -> ASGIApp:
    """A JSON endpoint for clients (browser-based ones too: CORS), its body size capped."""
    limited = RequestBodyLimitMiddleware(request_response(handler), DEFAULT_MAX_REQUEST_BODY_SIZE)  # type: ignore[arg-type]
    return CORSMiddleware(limited, allow_origins="*", allow_methods=methods, allow_headers=["mcp-protocol-version"])


#: Client registrations one address may make: a burst of this many, refilled at this rate a minute.
#: Registration is unauthenticated and stores a client each time; MCP clients register once.
REGISTRATIONS_PER_MINUTE = 30


class _RegistrationLimit:
    """An ASGI app (a class: Starlette would take a function for a request handler) with POSTs
    limited per client address: 429 with Retry-After past the limit."""

    def __init__(self, app: ASGIApp, *, per_minute: int) -> None:
        self._app, self._per_minute = app, per_minute
        self._buckets = TokenBuckets()
        self._retry_after = str(max(1, math.ceil(60 / per_minute)))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            address = (scope.get("client") or ("unknown", 0))[0]
            if not self._buckets.take(address, rate=self._per_minute / 60, burst=self._per_minute):
                refused = JSONResponse(
                    {"error": "temporarily_unavailable",
                     "error_description": "too many client registrations from this address; retry later"},
                    status_code=429, headers={"Retry-After": self._retry_after},
                )
                await refused(scope, receive, send)
                return
        await self._app(scope, receive, send)


def oauth_routes(provider: LedgerOAuthProvider) -> list[Route]:
    """Metadata, /authorize, the consent page, /token, /register and /revoke."""
    metadata = oauth_metadata(provider.issuer)
    registration = ClientRegistrationOptions(enabled=True, valid_scopes=list(SCOPES), default_scopes=list(SCOPES))
    authenticator = LedgerClientAuthenticator(provider)  # type: ignore[arg-type]
    post = ["POST", "OPTIONS"]
    return [
        Route(METADATA_PATH, cors_middleware(MetadataHandler(metadata).handle, ["GET", "OPTIONS"]), methods=["GET", "OPTIONS"]),
        Route(
            AUTHORIZATION_PATH,
            # no CORS: a browser navigates here, scripts have no business reading it
            RequestBodyLimitMiddleware(request_response(AuthorizationHandler(provider).handle), DEFAULT_MAX_REQUEST_BODY_SIZE),  # type: ignore[arg-type]
            methods=["GET", "POST"],
        ),
        Route(CONSENT_PATH, ConsentPage(provider), methods=["GET", "POST"]),
        Route(TOKEN_PATH, _api(TokenHandler(provider, authenticator).handle, post), methods=post),  # type: ignore[arg-type]
        Route(
            REGISTRATION_PATH,
            _RegistrationLimit(_api(RegistrationHandler(provider, options=registration).handle, post),  # type: ignore[arg-type]
                               per_minute=REGISTRATIONS_PER_MINUTE),
            methods=post,
        ),
        Route(REVOCATION_PATH, _api(RevocationHandler(provider, authenticator).handle, post), methods=post),  # type: ignore[arg-type]
    ]
