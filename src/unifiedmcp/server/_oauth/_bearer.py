"""The 401 and 403 answers of ``/mcp`` (RFC 6750 section 3, the MCP authorization spec).

The SDK's ``RequireAuthMiddleware`` says ``error="invalid_token"`` whenever no valid token
arrived. RFC 6750 wants an error code only when a token was sent: a request without credentials
gets the bare challenge, with the protected-resource metadata and a ``scope`` hint naming the
scopes to ask for; a bad, expired, revoked or foreign token gets ``invalid_token``; a valid token
of the wrong role gets 403 ``insufficient_scope`` with the scope it lacks.
"""

from __future__ import annotations

import json

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, RequireAuthMiddleware
from pydantic import AnyHttpUrl
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["BearerChallenge"]


def _sent_bearer(scope: Scope) -> bool:
    return any(k == b"authorization" and v[:7].lower() == b"bearer " for k, v in scope.get("headers", []))


class BearerChallenge(RequireAuthMiddleware):
    """``RequireAuthMiddleware`` with RFC 6750's challenges. ``scope_hint``: the scopes a client
    should request (``mcp:read mcp:write``), sent with every challenge."""

    def __init__(
        self, app: ASGIApp, required_scopes: list[str], resource_metadata_url: AnyHttpUrl | None, *, scope_hint: str
    ) -> None:
        super().__init__(app, required_scopes, resource_metadata_url)
        self.scope_hint = scope_hint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not isinstance(scope.get("user"), AuthenticatedUser) and not _sent_bearer(scope):
            await self._challenge(send, 401, None, "Authentication required: send a bearer token")
            return
        await super().__call__(scope, receive, send)

    async def _send_auth_error(self, send: Send, status_code: int, error: str, description: str) -> None:
        await self._challenge(send, status_code, error, description)

    async def _challenge(self, send: Send, status: int, error: str | None, description: str) -> None:
        parts = [f'error="{error}"', f'error_description="{description}"'] if error else []
        if self.resource_metadata_url:
            parts.append(f'resource_metadata="{self.resource_metadata_url}"')
        parts.append(f'scope="{self.scope_hint}"')
        body = json.dumps({"error": error, "error_description": description} if error else {"error_description": description}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"www-authenticate", f"Bearer {', '.join(parts)}".encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
